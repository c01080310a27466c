// The fake opencode's `export` and `import` (test/fixtures/fake-opencode/transfer.mjs): a conversation
// moves from one data home to another with its session id, and the `fake reply #N` count goes on, in
// run mode and in a serve process of the new home; the fault knobs fail each side.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { exitOf, stopChild, waitForLine } from '../helpers/child-process.js';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { pidsWithEnv } from '../helpers/processes.js';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('fake opencode: export and import', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let ws: string;
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const [tagName, tagValue] = tag.split('=') as [string, string];
  before(async () => {
    temp = await makeTempDir('fake-transfer');
    ws = `${temp.dir}/ws`;
    await mkdir(ws);
  });
  after(async () => {
    assert.deepEqual(pidsWithEnv(tag), [], 'a fake opencode process is still alive');
    await temp.remove();
  });

  /** Runs the fake to its exit in the workspace, with `home` as XDG_DATA_HOME; `stdin` is written and closed. */
  async function fake(args: string[], home: string, env: Record<string, string> = {}, stdin = ''): Promise<Ran> {
    const child = spawn(FAKE_OPENCODE, args, {
      cwd: ws,
      env: {
        PATH: process.env.PATH,
        HOME: temp.dir,
        PWD: ws,
        XDG_DATA_HOME: home,
        FAKE_OPENCODE_RECORD_DIR: `${temp.dir}/record`,
        [tagName]: tagValue,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.end(stdin);
    const { code } = await exitOf(child);
    return { code, stdout, stderr };
  }

  /** `run --format json`: the answer text and the session id. */
  async function run(home: string, text: string, session?: string): Promise<{ text: string; sessionID: string }> {
    const ran = await fake(['run', '--format', 'json', '--dir', ws, ...(session === undefined ? [] : ['--session', session])], home, {}, text);
    assert.equal(ran.code, 0, ran.stderr);
    const events = ran.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; sessionID: string; part?: { text?: string } });
    const answer = events.find((event) => event.type === 'text');
    assert.ok(answer !== undefined, ran.stdout);
    return { text: answer.part?.text ?? '', sessionID: answer.sessionID };
  }

  it('export from home A, import into home B: run in B continues with reply #2, and #3 after a second move', async () => {
    const homeA = `${temp.dir}/home-a`;
    const homeB = `${temp.dir}/home-b`;
    const first = await run(homeA, 'hello');
    assert.equal(first.text, 'fake reply #1 [model=default] [agent=build]: hello');

    const exported = await fake(['export', first.sessionID], homeA);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stderr, `Exporting session: ${first.sessionID}\n`);
    assert.ok(exported.stdout.includes('\n  "info": {'), 'the JSON is pretty-printed');
    const data = JSON.parse(exported.stdout) as { info: Record<string, unknown>; messages: Array<{ info: Record<string, unknown>; parts: unknown[] }> };
    assert.equal(data.info.id, first.sessionID);
    assert.equal(data.info.projectID, 'global');
    assert.equal(data.messages.length, 1);
    assert.equal(data.messages[0]?.info.role, 'user');
    assert.equal(data.messages[0]?.info.sessionID, first.sessionID);
    assert.deepEqual(
      data.messages[0]?.parts.map((part) => ({ type: (part as { type: string }).type, text: (part as { text: string }).text })),
      [{ type: 'text', text: 'hello' }],
    );

    const file = `${temp.dir}/export-1.json`;
    await writeFile(file, exported.stdout);
    const imported = await fake(['import', file], homeB);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, `Imported session: ${first.sessionID}\n`);

    const second = await run(homeB, 'again', first.sessionID);
    assert.equal(second.sessionID, first.sessionID, 'the session id is kept');
    assert.equal(second.text, 'fake reply #2 [model=default] [agent=build]: again');

    // Back to A (which still has the old copy: the import replaces it).
    const back = await fake(['export', first.sessionID], homeB);
    assert.equal(back.code, 0, back.stderr);
    await writeFile(file, back.stdout);
    assert.equal((await fake(['import', file], homeA)).code, 0);
    assert.equal((await run(homeA, 'third', first.sessionID)).text, 'fake reply #3 [model=default] [agent=build]: third');

    const transfers = await readJsonLines(`${temp.dir}/record/transfers.jsonl`);
    assert.deepEqual(
      transfers.map((t) => [t.command, t.ok, t.xdgDataHome]),
      [
        ['export', true, homeA],
        ['import', true, homeB],
        ['export', true, homeB],
        ['import', true, homeA],
      ],
    );
  });

  it('a serve process of the new home continues an imported session created over HTTP', async () => {
    const homeA = `${temp.dir}/serve-a`;
    const homeC = `${temp.dir}/serve-c`;
    const sessionID = await withServe(homeA, async (base) => {
      const created = (await (await fetch(`${base}/session?directory=${encodeURIComponent(ws)}`, { method: 'POST' })).json()) as { id: string };
      for (const text of ['one', 'two']) assert.match(await serveMessage(base, created.id, text), new RegExp(`^fake reply #\\d .*: ${text}$`));
      return created.id;
    });
    const exported = await fake(['export', sessionID], homeA);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal((JSON.parse(exported.stdout) as { info: { directory: string } }).info.directory, ws);
    const file = `${temp.dir}/export-serve.json`;
    await writeFile(file, exported.stdout);
    assert.equal((await fake(['import', file], homeC)).code, 0);
    const third = await withServe(homeC, (base) => serveMessage(base, sessionID, 'three'));
    assert.equal(third, 'fake reply #3 [model=default] [agent=build]: three');
  });

  it('unknown session, bad file and the fault knobs: exit 1 with an error on stderr', async () => {
    const home = `${temp.dir}/home-knobs`;
    const unknown = await fake(['export', 'ses_doesnotexist'], home);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /Session not found: ses_doesnotexist/);

    const missing = await fake(['import', `${temp.dir}/no-such-file.json`], home);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: /);

    const first = await run(home, 'knobs');
    const failedExport = await fake(['export', first.sessionID], home, { FAKE_OPENCODE_EXPORT_FAIL: '1' });
    assert.equal(failedExport.code, 1);
    assert.equal(failedExport.stdout, '');
    assert.match(failedExport.stderr, /FAKE_OPENCODE_EXPORT_FAIL/);

    const exported = await fake(['export', first.sessionID], home);
    const file = `${temp.dir}/export-knobs.json`;
    await writeFile(file, exported.stdout);
    const homeB = `${temp.dir}/home-knobs-b`;
    const failedImport = await fake(['import', file], homeB, { FAKE_OPENCODE_IMPORT_FAIL: '1' });
    assert.equal(failedImport.code, 1);
    assert.match(failedImport.stderr, /FAKE_OPENCODE_IMPORT_FAIL/);
    const notThere = await fake(['run', '--format', 'json', '--dir', ws, '--session', first.sessionID], homeB, {}, 'x');
    assert.equal(notThere.code, 1, 'a failed import wrote nothing');
    assert.match(notThere.stderr, /Session not found/);
  });

  /** Runs `work` against a fake `opencode serve` of `home`, then stops it. */
  async function withServe<T>(home: string, work: (base: string) => Promise<T>): Promise<T> {
    const child = spawn(FAKE_OPENCODE, ['serve', '--hostname', '127.0.0.1', '--port', '0'], {
      cwd: ws,
      env: { PATH: process.env.PATH, HOME: temp.dir, PWD: ws, XDG_DATA_HOME: home, [tagName]: tagValue },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const base = await waitForLine(child, 'the listening line', (line) => /listening on (http:\/\/\S+)/.exec(line)?.[1], 10_000);
      return await work(base);
    } finally {
      await stopChild(child, 5000);
    }
  }

  async function serveMessage(base: string, sessionID: string, text: string): Promise<string> {
    const response = await fetch(`${base}/session/${sessionID}/message?directory=${encodeURIComponent(ws)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parts: [{ type: 'text', text }] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { parts: Array<{ type: string; text?: string }> };
    return body.parts.find((part) => part.type === 'text')?.text ?? '';
  }
});
