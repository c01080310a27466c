#!/usr/bin/env node
// The `ocpm` bin. npx links this package's own bin straight to the checkout, where nothing may be
// built yet: run the compiled CLI when dist/ has it (the image), else the TypeScript source through
// tsx (a devDependency, present after `npm ci`). OCPM_CLI_FROM_SOURCE=1 forces the source, so tests
// never run a stale dist/.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const built = new URL('../dist/cli/ocpm.js', import.meta.url);
const source = new URL('../src/cli/ocpm.ts', import.meta.url);

if (existsSync(built) && process.env.OCPM_CLI_FROM_SOURCE !== '1') {
  await import(built.href);
} else {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport(source.href, import.meta.url);
}
