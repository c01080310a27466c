// The README documents every error code with its HTTP status and every configuration variable,
// so a new code or variable cannot ship undocumented.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config/config.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const README = path.join(PROJECT_ROOT, 'README.md');

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('README.md', () => {
  let lines: string[] = [];

  before(async () => {
    const text = await readFile(README, 'utf8').catch((error: unknown) => {
      throw new Error(`README.md is missing at ${README}`, { cause: error });
    });
    lines = text.split(/\r?\n/);
  });

  describe('error table', () => {
    for (const [code, { status }] of Object.entries(ERROR_CODES) as Array<[ErrorCode, { status: number }]>) {
      it(`documents \`${code}\` with status ${status}`, () => {
        const row = new RegExp('\\|\\s*`' + escapeRegExp(code) + '`\\s*\\|\\s*' + String(status) + '\\s*\\|');
        assert.ok(
          lines.some((line) => row.test(line)),
          `README.md has no table row "| \`${code}\` | ${status} |"`,
        );
      });
    }
  });

  describe('configuration table', () => {
    for (const { name } of CONFIG_VARIABLES) {
      it(`documents \`${name}\``, () => {
        const cell = new RegExp('\\|\\s*`' + escapeRegExp(name) + '`\\s*\\|');
        assert.ok(
          lines.some((line) => line.trimStart().startsWith('|') && cell.test(line)),
          `README.md has no table row with a cell "\`${name}\`"`,
        );
      });
    }
  });
});
