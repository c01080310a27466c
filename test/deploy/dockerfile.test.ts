// The Dockerfile: dockerfile-utils' linter finds nothing, and the project's rules hold (non-root
// numeric user, tini as PID 1, HEALTHCHECK on /livez, EXPOSE = the app's default port, volumes for
// the workspace root and the data dir, multi-stage with a slim Node 24 runtime).
// test/container/run.sh proves the image itself with podman.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { CONFIG_VARIABLES } from '../../src/config/config.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { argumentsOf, exposedPorts, readDockerfile, runtimeStage, runtimeUser } from './dockerfile.js';

const fallback = (name: string): string | undefined => CONFIG_VARIABLES.find((v) => v.name === name)?.fallback;

describe('Dockerfile', () => {
  it('passes dockerfile-utils lint with every check an error', () => {
    const E = ValidationSeverity.ERROR;
    const problems = validate(readDockerfile(), {
      deprecatedMaintainer: E,
      directiveCasing: E,
      emptyContinuationLine: E,
      instructionCasing: E,
      instructionCmdMultiple: E,
      instructionEntrypointMultiple: E,
      instructionHealthcheckMultiple: E,
      instructionJSONInSingleQuotes: E,
      instructionWorkdirRelative: E,
    });
    assert.deepEqual(
      problems.map((p) => `line ${p.range.start.line + 1}: ${typeof p.message === 'string' ? p.message : p.message.value}`),
      [],
    );
  });

  it('builds in one stage and runs from node:24-bookworm-slim in another', () => {
    assert.equal(argumentsOf(runtimeStage(), 'FROM')[0]?.[0], 'node:24-bookworm-slim');
    assert.equal((readDockerfile().match(/^FROM /gm) ?? []).length, 2, 'a build stage and a runtime stage');
    assert.ok(
      !runtimeStage().some((i) => i.getKeyword() === 'RUN' && /npm (ci|install)\b/.test(i.getTextContent())),
      'no npm install in the runtime stage: production node_modules come from the build stage',
    );
  });

  it("carries the console's static page next to dist/, where the built service looks for it", () => {
    const copies = argumentsOf(runtimeStage(), 'COPY').map((args) => args.join(' '));
    assert.ok(copies.includes('/app/dist ./dist'), copies.join('\n'));
    assert.ok(copies.includes('/app/public ./public'), 'the runtime stage copies public/ (GET /console)');
    assert.match(readDockerfile(), /^COPY public \.\/public$/m, 'the build stage has public/');
    assert.match(readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8'), /^!public\/$/m, 'public/ is in the build context');
  });

  it('runs as a numeric non-root user', () => {
    const user = runtimeUser();
    assert.ok(user !== undefined, 'the runtime stage sets USER');
    const uid = user.split(':')[0] ?? '';
    assert.match(uid, /^\d+$/, 'numeric, so Kubernetes runAsNonRoot can verify it');
    assert.notEqual(Number(uid), 0);
  });

  it('starts the service under tini', () => {
    const entrypoint = runtimeStage()
      .filter((i) => i.getKeyword() === 'ENTRYPOINT')
      .at(-1);
    assert.deepEqual(JSON.parse(entrypoint?.getArgumentsContent() ?? 'null'), ['/usr/bin/tini', '--']);
  });

  it('has a HEALTHCHECK on /livez', () => {
    const healthchecks = argumentsOf(runtimeStage(), 'HEALTHCHECK');
    assert.equal(healthchecks.length, 1);
    assert.match(healthchecks[0]?.join(' ') ?? '', /\/livez/);
  });

  it('EXPOSEs the app default port and sets the same PORT', () => {
    assert.deepEqual(exposedPorts(), [Number(fallback('PORT'))]);
    assert.match(readDockerfile(), new RegExp(`^\\s+PORT=${fallback('PORT')}\\b`, 'm'));
  });

  it('declares volumes for the workspace root and the data dir it configures', () => {
    const volumes = argumentsOf(runtimeStage(), 'VOLUME').flat().join(' ');
    for (const name of ['OCPM_WORKSPACE_ROOT', 'OCPM_DATA_DIR']) {
      const dir = new RegExp(`^\\s+${name}=(\\S+)`, 'm').exec(readDockerfile())?.[1];
      assert.ok(dir !== undefined, `the image sets ${name}`);
      assert.ok(volumes.includes(`"${dir}"`), `${dir} is a VOLUME`);
    }
  });

  it('puts the ocpm CLI on PATH: its launcher next to dist/, linked from /usr/local/bin', () => {
    const bin = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.ocpm;
    assert.equal(bin, 'bin/ocpm.mjs');
    const stage = runtimeStage();
    assert.ok(
      argumentsOf(stage, 'COPY').some((args) => args.includes('/app/bin')),
      'the runtime stage copies bin/',
    );
    assert.ok(
      stage.some((i) => i.getKeyword() === 'RUN' && i.getTextContent().includes(`ln -s /app/${bin} /usr/local/bin/ocpm`)),
      'a RUN links /usr/local/bin/ocpm to the launcher',
    );
    assert.match(readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8'), /^!bin\/$/m, '.dockerignore lets bin/ into the context');
  });
});
