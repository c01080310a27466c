// The docs list every error code with its HTTP status (docs/api.md, "Errors") and every configuration
// variable with its default (docs/configuration.md, between the config-table markers), so a new code
// or variable cannot ship undocumented and a removed one cannot leave a stale row.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config/config.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const API_DOC = path.join(PROJECT_ROOT, 'docs', 'api.md');
const CONFIG_DOC = path.join(PROJECT_ROOT, 'docs', 'configuration.md');
const TABLE_START = '<!-- config-table:start -->';
const TABLE_END = '<!-- config-table:end -->';
const TABLE_HEADER = '| Variable | Default | Description |';

async function readDoc(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`${path.relative(PROJECT_ROOT, file)} is missing`, { cause: error });
  });
}

/** The lines from `## title` to the next `## ` heading. */
function section(text: string, title: string, file: string): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.indexOf(`## ${title}`);
  assert.ok(start >= 0, `${file} has no "## ${title}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The cells of a `| a | b | c |` row, trimmed (no escaped pipes in these tables). */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

describe('docs/api.md error table', () => {
  let rows = new Map<string, string[]>();

  before(async () => {
    rows = new Map();
    for (const line of section(await readDoc(API_DOC), 'Errors', 'docs/api.md')) {
      const row = cells(line);
      const code = /^`([a-z_]+)`$/.exec(row[0] ?? '')?.[1];
      if (line.trimStart().startsWith('|') && code !== undefined) rows.set(code, row);
    }
  });

  for (const [code, { status }] of Object.entries(ERROR_CODES) as Array<[ErrorCode, { status: number }]>) {
    it(`documents \`${code}\` with status ${status}`, () => {
      const row = rows.get(code);
      assert.ok(row !== undefined, `docs/api.md "## Errors" has no table row "| \`${code}\` | ${status} | … |"`);
      assert.equal(row[1], String(status), `docs/api.md: the status of \`${code}\``);
      assert.ok((row[2] ?? '') !== '', `docs/api.md: \`${code}\` has no meaning`);
    });
  }

  it('has no row for a code the service does not have', () => {
    const stale = [...rows.keys()].filter((code) => !(code in ERROR_CODES));
    assert.deepEqual(stale, [], 'docs/api.md error rows without a code in src/errors/codes.ts');
  });
});

describe('docs/configuration.md configuration table', () => {
  let table: string[] = [];
  let rows = new Map<string, string[]>();

  before(async () => {
    const lines = (await readDoc(CONFIG_DOC)).split(/\r?\n/);
    const start = lines.indexOf(TABLE_START);
    const end = lines.indexOf(TABLE_END);
    assert.ok(start >= 0 && end > start, `docs/configuration.md has no ${TABLE_START} … ${TABLE_END} block`);
    table = lines.slice(start + 1, end).filter((line) => line.trim() !== '');
    rows = new Map();
    for (const line of table.slice(2)) {
      const row = cells(line);
      const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(row[0] ?? '')?.[1];
      assert.ok(name !== undefined, `docs/configuration.md: a row whose variable cell is not \`NAME\`: ${line}`);
      assert.ok(!rows.has(name), `docs/configuration.md lists ${name} twice`);
      rows.set(name, row);
    }
  });

  it('is one table with the header | Variable | Default | Description |', () => {
    assert.equal(table[0], TABLE_HEADER);
    assert.match(table[1] ?? '', /^\|(\s*:?-+:?\s*\|){3}$/);
    for (const line of table) assert.equal(cells(line).length, 3, `docs/configuration.md: not a 3-cell row: ${line}`);
  });

  for (const { name, fallback } of CONFIG_VARIABLES) {
    const expectedDefault = fallback === undefined || fallback === '' ? '—' : `\`${fallback}\``;
    it(`documents \`${name}\` with its default ${expectedDefault}`, () => {
      const row = rows.get(name);
      assert.ok(row !== undefined, `docs/configuration.md has no table row "| \`${name}\` | … |"`);
      assert.equal(row[1], expectedDefault, `docs/configuration.md: the default of ${name}`);
      assert.ok((row[2] ?? '') !== '', `docs/configuration.md: ${name} has no description`);
    });
  }

  it('has no row for a variable src/config/config.ts does not read', () => {
    const known = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));
    const stale = [...rows.keys()].filter((name) => !known.has(name));
    assert.deepEqual(stale, [], 'docs/configuration.md rows for unknown variables');
  });
});
