#!/usr/bin/env node
// The npm registry reachable here serves only opencode-ai's linux-x64 platform packages; the other
// optional platform packages answer 404, so `npm install` leaves them out of package-lock.json and
// `npm ci` then refuses the lockfile as "out of sync". This adds an entry (version, os, cpu, libc,
// no tarball) for each missing one: npm ci skips them by platform and installs what it can.
// Run it after every `npm install` that rewrites the lockfile: `node .ci/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const osNames = { darwin: 'darwin', linux: 'linux', windows: 'win32' };
let added = 0;
for (const [, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const match = /^opencode-(darwin|linux|windows)-(x64|arm64)(-baseline)?(-musl)?$/.exec(name);
    const key = `node_modules/${name}`;
    if (match === null || packages[key] !== undefined) continue;
    packages[key] = {
      version,
      cpu: [match[2]],
      optional: true,
      os: [osNames[match[1]]],
      ...(match[4] === undefined ? {} : { libc: ['musl'] }),
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
