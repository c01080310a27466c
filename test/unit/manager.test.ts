// OpencodeProcessManager used directly, as an app embedding it would (no HTTP): every entry point
// applies the same session rules, readiness follows the lifecycle, and turns run in both modes with
// the fake opencode (a real executable).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcpmError } from '../../src/errors/errors.js';
import { OpencodeProcessManager } from '../../src/manager/opencode-process-manager.js';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';

const isCode = (code: string) => (error: unknown) => error instanceof OcpmError && error.code === code;

for (const mode of ['per-message', 'server'] as const) {
  describe(`the manager, embedded (${mode} mode)`, () => {
    let temp: Awaited<ReturnType<typeof makeTempDir>>;
    let manager: OpencodeProcessManager;
    const workspace = (name: string): string => path.join(temp.dir, 'ws', name);

    before(async () => {
      temp = await makeTempDir('manager');
      for (const name of ['a', 'b', 'a/inner']) await mkdir(workspace(name), { recursive: true });
      manager = new OpencodeProcessManager({
        settings: {
          storage: { dataDir: path.join(temp.dir, 'data') },
          opencode: { opencodeBin: FAKE_OPENCODE, mode },
          isolation: { isolation: 'off' },
          pool: { poolSize: 1 },
        },
      });
      assert.deepEqual(manager.readiness()?.code, 'not_ready');
      await manager.start();
    });

    after(async () => {
      await manager.drain(1000);
      await temp.remove();
    });

    it('is ready after start, in the mode asked for', () => {
      assert.equal(manager.readiness(), undefined);
      assert.equal(manager.getStats().configuredMode, mode);
    });

    it('runs a message in a session it registers on the way, and continues its conversation', async () => {
      const first = await manager.executeInSession('s1', workspace('a'), 'hello');
      assert.equal(first.mode, mode);
      assert.ok(first.text.length > 0);
      const second = await manager.executeInSession('s1', workspace('a'), 'again');
      assert.equal(second.opencodeSessionId, first.opencodeSessionId);
      assert.equal(manager.getSession('s1')?.messageCount, 2);
    });

    it("refuses, in executeInSession as in registerSession, a workspace inside another session's", async () => {
      assert.throws(() => manager.registerSession('s2', workspace('a/inner')), isCode('workspace_in_use'));
      await assert.rejects(manager.executeInSession('s2', workspace('a/inner'), 'hi'), isCode('workspace_in_use'));
      assert.equal(manager.getSession('s2'), undefined);
    });

    it('refuses to move a session to another workspace while it runs a turn', async () => {
      const started = Promise.withResolvers<void>();
      const running = manager.executeInSession('s1', workspace('a'), '#fake delay=400\nslow', { onEvent: () => started.resolve() });
      await started.promise;
      assert.equal(manager.getSession('s1')?.busy, true);
      await assert.rejects(manager.executeInSession('s1', workspace('b'), 'moved'), isCode('session_busy'));
      assert.throws(() => manager.registerSession('s1', workspace('b')), isCode('session_busy'));
      await running;
      assert.equal(manager.getSession('s1')?.workspace, workspace('a'));
    });
  });
}

describe('the manager, draining', () => {
  it('answers draining (not not_ready) while draining and stopping, and not_ready once stopped', async () => {
    const temp = await makeTempDir('manager-drain');
    await mkdir(path.join(temp.dir, 'ws'), { recursive: true });
    const manager = new OpencodeProcessManager({
      settings: {
        storage: { dataDir: path.join(temp.dir, 'data') },
        opencode: { opencodeBin: FAKE_OPENCODE, mode: 'per-message' },
        isolation: { isolation: 'off' },
      },
    });
    await manager.start();
    const started = Promise.withResolvers<void>();
    const running = manager.executeInSession('d1', path.join(temp.dir, 'ws'), '#fake delay=300\nslow', { onEvent: () => started.resolve() });
    await started.promise;
    const drained = manager.drain(10_000);
    assert.equal(manager.readiness()?.code, 'draining');
    await assert.rejects(manager.assertCanAccept('d2'), isCode('draining'));
    await running;
    await drained;
    assert.equal(manager.readiness()?.code, 'not_ready');
    await temp.remove();
  });
});
