// The console takes the service's words (states, modes, outcomes, …) from GET /console/vocabulary.js,
// which the service generates from src/contracts/vocabulary.ts, and copies none of them: the module
// answers the contract's lists exactly, and no file of public/console/ lists words of the contract
// itself (no array, label map, <option> list or CSS class list of them).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as contracts from '../../src/contracts/vocabulary.js';
import { CONSOLE_DIR } from '../../src/http/routes/console.js';
import { call } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

/** The contract's word lists: its exports that are arrays of strings. */
const LISTS: ReadonlyArray<[string, readonly string[]]> = Object.entries(contracts as Record<string, unknown>).filter(
  (entry): entry is [string, readonly string[]] => Array.isArray(entry[1]) && entry[1].every((word: unknown) => typeof word === 'string'),
);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/** The files of public/console/ with their text, by name. */
async function consoleFiles(): Promise<Array<[string, string]>> {
  const names = (await readdir(CONSOLE_DIR, { recursive: true })).filter((name) => /\.(js|mjs|html|css)$/.test(name));
  return Promise.all(names.map(async (name): Promise<[string, string]> => [name, await readFile(path.join(CONSOLE_DIR, name), 'utf8')]));
}

/**
 * Whether a file names `word` as a value: a quoted string ('w', "w", `w`; also an HTML attribute or
 * a CSS attribute selector), a key of a JavaScript object (`{ w: …`), or the last part of a CSS class
 * (`.state-w`). Prose ("the session is idle") is not a name.
 */
function names(file: string, text: string, word: string): boolean {
  const w = escape(word);
  if (new RegExp(`(['"\`])${w}\\1`).test(text)) return true;
  if (file.endsWith('.js') && new RegExp(`[{,]\\s*${w}\\s*:`).test(text)) return true;
  return file.endsWith('.css') && new RegExp(`\\.[A-Za-z][\\w-]*-${w}(?![\\w-])`).test(text);
}

describe("the console's vocabulary", () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc.close();
  });

  it('GET /console/vocabulary.js answers, without a token, an ES module of exactly the contract lists', async () => {
    const response = await call(`${svc.url}/console/vocabulary.js`, 'GET', undefined, { authorization: '' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    // A module script needs a JavaScript type (nosniff), and the page's CSP allows scripts of this origin.
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(response.headers.get('content-security-policy') ?? '', /(^|;)\s*script-src 'self'(;|$)/);
    assert.ok(LISTS.length >= 10, `only ${LISTS.length} lists in the contract`);
    const served = (await import(`data:text/javascript;base64,${Buffer.from(String(response.body)).toString('base64')}`)) as Record<string, unknown>;
    const { BADGE_TONES: tones, ...lists } = served;
    assert.deepEqual(Object.keys(lists).sort(), LISTS.map(([name]) => name).sort());
    for (const [name, words] of LISTS) {
      assert.deepEqual(lists[name], [...words], name);
      assert.ok(Object.isFrozen(lists[name]), `${name} can be changed by a script`);
    }
    // The badge colours name words of the lists only, in tones console.css has.
    const css = await readFile(path.join(CONSOLE_DIR, 'console.css'), 'utf8');
    assert.ok(typeof tones === 'object' && tones !== null);
    for (const [name, byWord] of Object.entries(tones as Record<string, Record<string, string>>)) {
      const words = LISTS.find(([list]) => list === name)?.[1];
      assert.ok(words !== undefined, `BADGE_TONES.${name} is no list of the contract`);
      for (const [word, tone] of Object.entries(byWord)) {
        assert.ok(words.includes(word), `BADGE_TONES.${name}.${word} is not a word of ${name}`);
        assert.ok(new RegExp(`\\.tone-${escape(tone)}\\b`).test(css), `console.css has no .tone-${tone}`);
      }
    }
  });

  it('is generated, not a file: public/console/ has no vocabulary.js (the route would hide it)', () => {
    assert.equal(existsSync(path.join(CONSOLE_DIR, 'vocabulary.js')), false);
  });

  it("no file of public/console/ names a word of the contract's that is written with _ or - (waiting_on_user, per-message, …)", async () => {
    const compound = LISTS.flatMap(([, words]) => words.filter((word) => /[_-]/.test(word)));
    assert.ok(compound.includes('waiting_on_user'), 'the check itself: waiting_on_user is a word of the contract');
    const found: string[] = [];
    for (const [file, text] of await consoleFiles()) {
      for (const word of new Set(compound)) {
        if (new RegExp(`(?<!\\w)${escape(word)}(?!\\w)`).test(text)) found.push(`${file}: ${word}`);
      }
    }
    assert.deepEqual(found, [], 'take the word from ./vocabulary.js (or its tone from BADGE_TONES in src/http/routes/console.ts)');
  });

  it('no file of public/console/ names two words of one list of the contract (the start of a copy of it)', async () => {
    // The check itself: the copies the console once had are found.
    assert.ok(names('x.js', "const STATES = ['idle', 'busy'];", 'busy'));
    assert.ok(names('x.js', "const LABELS = { idle: 'idle', busy: 'busy' };", 'idle'));
    assert.ok(names('x.html', '<option value="queued">queued</option>', 'queued'));
    assert.ok(names('x.css', '.state-busy,\n.instance-ready {', 'ready'));
    assert.equal(names('x.html', '<p>No session is busy.</p>', 'busy'), false);
    const found: string[] = [];
    for (const [file, text] of await consoleFiles()) {
      for (const [name, words] of LISTS) {
        const named = words.filter((word) => names(file, text, word));
        // One word may be used (an idle session has nothing to abort); two are a list.
        if (named.length >= 2) found.push(`${file} names ${named.join(', ')} of ${name}`);
      }
    }
    assert.deepEqual(found, [], "import the list from ./vocabulary.js; a word's colour goes in BADGE_TONES (src/http/routes/console.ts)");
  });
});
