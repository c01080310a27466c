// The configuration doc's table is the settings table: regenerate it with `npm run docs:config`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { CONFIG_DOC, withConfigTable } from '../../scripts/generate-config-doc.js';

describe('docs/configuration.md', () => {
  it('holds the table generated from src/config/settings.ts (npm run docs:config)', async () => {
    const doc = await readFile(CONFIG_DOC, 'utf8');
    assert.equal(doc, withConfigTable(doc), 'docs/configuration.md is stale: run `npm run docs:config`');
  });

  it('refuses a doc without the markers instead of writing nothing', () => {
    assert.throws(() => withConfigTable('# Configuration\n'), /config-table:start/);
  });
});
