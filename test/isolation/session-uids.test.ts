// Per-session uids with the real opencode (server mode, the stub model): where the service may switch
// uids (root here), session A's agent cannot change B's files' mode or times, and a fork storm of A's
// is bounded by A's own process limit while B keeps answering. Skipped where the service cannot
// switch uids (a non-root run): there, docs/security.md lists what remains.
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseToolOutputs, startStubLlm, toolMessage, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { probeSandbox, SANDBOX_BINARY } from '../../src/manager/isolation/sandbox-binary.js';
import { unreachableByOthers } from '../../src/manager/isolation/session-uids.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { forkStorm } from '../helpers/isolation-attacks.js';
import { call } from '../helpers/http.js';
import { explain, realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const probe = probeSandbox();
// The service turns the layer off when session uids cannot reach the launcher and opencode (a 0700 checkout).
const closed = unreachableByOthers([path.dirname(SANDBOX_BINARY)]);
const canSwitch = probe.unavailable === undefined && probe.setuid && closed === undefined;

for (const uidLayer of ['on', 'off'] as const) {
  describe(
    `per-session uids ${uidLayer} (real opencode, server mode)`,
    { skip: canSwitch ? false : `the service cannot switch uids here${closed === undefined ? '' : ` (${closed} is closed to other uids)`}` },
    () => {
      let stub: StubLlm;
      let svc: TestService;
      let temp: { dir: string; remove: () => Promise<void> };
      const url = (p: string): string => `${svc.url}${p}`;
      const send = async (session: string, text: string): Promise<string> => {
        const answer = await call(url(`/api/sessions/${session}/messages`), 'POST', { text });
        assert.equal(answer.status, 200, explain(svc, answer));
        return String(answer.body.text);
      };

      before(async () => {
        stub = await startStubLlm();
        temp = await makeTempDir(`uids-${uidLayer}`);
        // Session uids must reach the workspaces and the session homes.
        await chmod(temp.dir, 0o711);
        svc = await startTestService({
          ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`, { '*': 'allow' })),
          OCPM_MODE: 'server',
          OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
          OCPM_DATA_DIR: `${temp.dir}/data`,
          OCPM_SESSION_MAX_PROCESSES: '200',
          ...(uidLayer === 'off' ? { OCPM_ISOLATION_LAYERS_OFF: 'uid' } : {}),
        });
        for (const id of ['a', 'b']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
        await writeFile(path.join(svc.workspaceRoot, 'b', 'notes.txt'), 'b');
        assert.equal(await send('b', 'hello MARK:b1'), 'stub answer user_messages=1 marker=b1');
      });

      after(async () => {
        await svc?.close();
        await stub?.close();
        await temp?.remove();
      });

      it(uidLayer === 'on' ? 'says so in the status, and gives each session its own uid' : 'says so in the status', async () => {
        const status = (await call(url('/api/opencode/status'), 'GET')).body;
        assert.equal(status.isolation.protections.includes('uid'), uidLayer === 'on', JSON.stringify(status.isolation));
        if (uidLayer === 'off') return;
        const ownA = await send('a', toolMessage('bash', 'id -u'));
        const workspaceB = await stat(path.join(svc.workspaceRoot, 'b'));
        const uidA = Number(parseToolOutputs(ownA)[0]?.trim());
        assert.ok(uidA >= 100000 && uidA !== workspaceB.uid, `A runs as ${uidA}, B's workspace belongs to ${workspaceB.uid}`);
        assert.equal(workspaceB.mode & 0o7777, 0o2770);
        assert.equal((await stat(path.join(svc.dataDir, 'opencode', 'sessions', 'b'))).uid, workspaceB.uid);
      });

      it(uidLayer === 'on' ? "keeps B's workspace's mode and times out of A's reach" : "without the layer, A locks B's workspace (chmod 0)", async () => {
        const victim = path.join(svc.workspaceRoot, 'b');
        await send('a', toolMessage('bash', `chmod 0 ${victim}; touch -d 2001-01-01 ${victim}/notes.txt; ls -ld ${victim}`));
        const mode = (await stat(victim)).mode & 0o777;
        if (uidLayer === 'on') {
          assert.equal(mode, 0o770);
          assert.ok((await stat(path.join(victim, 'notes.txt'))).mtime.getFullYear() > 2001);
          assert.equal(await send('b', 'again MARK:b2'), 'stub answer user_messages=2 marker=b2');
        } else {
          assert.equal(mode, 0, 'the attack works without per-session uids');
          await chmod(victim, 0o755);
        }
      });

      if (uidLayer === 'on') {
        it("bounds a fork storm of A's by A's own process limit; B still answers", async () => {
          const storm = toolMessage('bash', forkStorm(300));
          const answer = await send('a', storm);
          const forked = Number(/forked (\d+)/.exec(answer)?.[1]);
          assert.ok(forked < 200, `A forked ${forked} of 300 under OCPM_SESSION_MAX_PROCESSES=200`);
          assert.equal(await send('b', 'still there MARK:b3'), 'stub answer user_messages=3 marker=b3');
        });
      }

      it('keeps the own workspace usable', async () => {
        // What the web app writes with group write (umask 002) the agent may change too.
        const fromApp = path.join(svc.workspaceRoot, 'a', 'from-app.txt');
        await writeFile(fromApp, 'app');
        await chmod(fromApp, 0o664);
        const answer = await send(
          'a',
          toolMessage('bash', 'mkdir -p sub && echo own > sub/own.txt && cat sub/own.txt && echo edited >> from-app.txt && echo app-ok'),
        );
        assert.ok(answer.includes('app-ok'), answer.slice(0, 3000));
        assert.ok(answer.includes('own'), answer);
      });
    },
  );
}
