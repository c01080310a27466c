// Writes the configuration table of docs/configuration.md (between its config-table markers) from
// the settings table in src/config/settings.ts: `npm run docs:config`. test/unit/config-doc.test.ts
// fails when the committed doc differs from this output.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configTableMarkdown } from '../src/config/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_DOC = path.join(ROOT, 'docs', 'configuration.md');
export const START = '<!-- config-table:start -->';
export const END = '<!-- config-table:end -->';

/** The doc with its table block replaced; throws when the markers are missing. */
export function withConfigTable(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md needs the lines\n${START}\n${END}\naround its configuration table`);
  return `${doc.slice(0, start + START.length)}\n${configTableMarkdown()}\n${doc.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const doc = await readFile(CONFIG_DOC, 'utf8');
  await writeFile(CONFIG_DOC, withConfigTable(doc));
  process.stdout.write(`wrote the configuration table of ${path.relative(ROOT, CONFIG_DOC)}\n`);
}
