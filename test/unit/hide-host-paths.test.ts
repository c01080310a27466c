import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOST_PATH, pathHider } from '../../src/util/hide-host-paths.js';

describe('pathHider', () => {
  const hide = pathHider('/srv/ws/a', ['/srv/ws', '/srv/app', '/srv/app/data', '/tmp/ocpm-child-']);

  it("makes the workspace's paths relative and the workspace itself '.'", () => {
    assert.deepEqual(hide({ path: { cwd: '/srv/ws/a', root: '/srv/ws/a' }, file: '/srv/ws/a/src/x.ts' }), {
      path: { cwd: '.', root: '.' },
      file: 'src/x.ts',
    });
  });

  it('hides host paths: other workspaces, the checkout, the data dir, private TMPDIRs', () => {
    const out = hide(['/srv/ws/b/secret.txt', 'see /srv/app/data/api-token now', '/tmp/ocpm-child-1234/x', '/srv/ws']) as string[];
    assert.deepEqual(out, [HOST_PATH, `see ${HOST_PATH} now`, HOST_PATH, HOST_PATH]);
  });

  it('does not take a sibling with a longer name for the workspace', () => {
    assert.equal(hide('/srv/ws/ab/file'), HOST_PATH);
  });

  it('leaves other values and system paths alone', () => {
    assert.deepEqual(hide({ n: 1, ok: true, none: null, bin: '/usr/bin/git' }), { n: 1, ok: true, none: null, bin: '/usr/bin/git' });
  });
});
