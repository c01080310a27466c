// The isolation suite with the real opencode binary: session A's agent runs the attack list
// (test/helpers/isolation-attacks.ts) against session B, the service and its secrets, in both
// modes, with every opencode permission approved. No secret may come back, nothing may be written
// into B's workspace, and legitimate work in A's own workspace must still succeed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { parseToolOutputs, startStubLlm, toolMessage, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { attacks, legitimateWork, PLANTED_FILES, SHM_CANARY, SUCCESS_MARKERS } from '../helpers/isolation-attacks.js';
import { isPidLive, pidsWithArg } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';
import { realOpencodeHome } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const secret = (what: string): string => `${what}-${randomBytes(8).toString('hex')}`;

for (const mode of ['per-message', 'server'] as const) {
  describe(`isolation with the real opencode, ${mode} mode`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    let canary: ChildProcess;
    const secrets = {
      victimFile: secret('VICTIM-FILE'),
      victimWords: secret('VICTIM-WORDS'),
      canaryEnv: secret('CANARY-ENV'),
      providerKey: secret('sk-PROVIDER-KEY'),
      dataFile: secret('DATA-DIR-FILE'),
      shmFile: secret('SHM-FILE'),
    };
    const url = (p: string): string => `${svc.url}${p}`;
    const send = async (session: string, text: string): Promise<string> => {
      const answer = await call(url(`/api/sessions/${session}/messages`), 'POST', { text });
      assert.equal(answer.status, 200, `${answer.status} ${JSON.stringify(answer.body)}`);
      return String(answer.body.text);
    };

    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`isolation-${mode}`);
      const home = await realOpencodeHome(stub, `${temp.dir}/home`);
      // Every permission approved, and a provider key that must not reach the agent's commands.
      const config = JSON.stringify(stubOpencodeConfig(stub.baseURL, { permission: { '*': 'allow' } })).replace(
        '"apiKey":"x"',
        `"apiKey":"${secrets.providerKey}"`,
      );
      svc = await startTestService({
        ...home,
        OPENCODE_CONFIG_CONTENT: config,
        OCPM_ISOLATION: 'required',
        OCPM_OPENCODE_BIN: '',
        OCPM_MODE: mode,
        OCPM_KILL_GRACE_MS: '2000',
        OCPM_DRAIN_TIMEOUT_MS: '1000',
      });
      // A process outside every sandbox with a secret in its environment.
      canary = spawn('sleep', ['600'], { env: { PATH: process.env.PATH, CANARY: secrets.canaryEnv }, stdio: 'ignore' });
      await writeFile(path.join(svc.dataDir, 'api-token'), `${TEST_API_TOKEN}\n`);
      await writeFile(path.join(svc.dataDir, 'notes.txt'), secrets.dataFile);
      await writeFile(SHM_CANARY, secrets.shmFile, { mode: 0o666 });
      for (const id of ['a', 'b']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
      await writeFile(path.join(svc.workspaceRoot, 'b', 'secret.txt'), secrets.victimFile);
      await send('b', `remember ${secrets.victimWords} MARK:b`);
    });

    after(async () => {
      await rm(SHM_CANARY, { force: true });
      canary.kill('SIGKILL');
      await svc?.close();
      await stub?.close();
      await temp?.remove();
    });

    it('reports isolation as enforced in status and metrics', async () => {
      const status = (await call(url('/api/opencode/status'), 'GET')).body;
      assert.equal(status.isolation.mechanism, 'landlock');
      assert.equal(status.isolation.enforced, true);
      const lifetime = status.isolation.protections.includes('pidns') ? 'pidns' : 'subreaper';
      assert.deepEqual(status.isolation.protections, ['landlock', lifetime, 'caps', 'devices', 'limits', 'tcp']);
      assert.match((await call(url('/metrics'), 'GET')).body as string, /^opencode_manager_isolation_enforced 1$/m);
    });

    it("keeps session A's agent out of B's workspace, the data dir, other processes and every secret", async () => {
      const targets = {
        victimWorkspace: path.join(svc.workspaceRoot, 'b'),
        victimRelative: '../b',
        dataDir: svc.dataDir,
        servicePid: process.pid,
        canaryPid: canary.pid!,
        victimFile: 'secret.txt',
        servicePort: Number(new URL(svc.url).port),
      };
      const forbidden = [...Object.values(secrets), TEST_API_TOKEN, 'OPENCODE_SERVER_PASSWORD', 'OPENCODE_CONFIG_CONTENT', ...SUCCESS_MARKERS];
      for (const attack of attacks(targets)) {
        const answer = await send('a', attack.message);
        const outputs = parseToolOutputs(answer);
        assert.ok(outputs.length > 0, `${attack.name}: the tool ran and its output came back (${answer.slice(0, 300)})`);
        for (const word of forbidden) assert.ok(!answer.includes(word), `${attack.name}: leaked ${word}:\n${answer.slice(0, 2000)}`);
      }
      for (const file of PLANTED_FILES) assert.equal(existsSync(path.join(targets.victimWorkspace, file)), false, `${file} was planted in B's workspace`);
      assert.equal(canary.exitCode, null, 'the canary process is still running');
      assert.equal(canary.signalCode, null);
      // B's conversation is intact and continues.
      assert.equal(await send('b', 'again MARK:b2'), 'stub answer user_messages=2 marker=b2');
    });

    it('ends every process the agent started, however it escaped: with its turn, or its server at DELETE', async () => {
      assert.equal((await call(url('/api/sessions/escape'), 'PUT', { workspace: 'escape' })).status, 201);
      const token = `${3000 + Math.floor(Math.random() * 1000)}.${randomBytes(4).readUInt32BE(0)}`;
      const quiet = '>/dev/null 2>&1 </dev/null';
      const escape = toolMessage(
        'bash',
        `env -i setsid sleep ${token} ${quiet} & OCPM_PROCESS_MARK=forged setsid sleep ${token} ${quiet} & (setsid sleep ${token} ${quiet} &) ; echo escaped`,
      );
      const answer = await send('escape', escape);
      assert.ok(answer.includes('escaped'), answer.slice(0, 500));
      if (mode === 'server') {
        // A server's tools live as long as the server: the session's server ends at DELETE.
        assert.equal(pidsWithArg(token).filter(isPidLive).length, 3, 'the escaped processes run while the server does');
        assert.equal((await call(url('/api/sessions/escape'), 'DELETE')).status, 204);
      }
      await waitFor(`no escaped sleep ${token} left`, () => pidsWithArg(token).filter(isPidLive).length === 0, 15_000);
      if (mode === 'per-message') assert.equal((await call(url('/api/sessions/escape'), 'DELETE')).status, 204);
    });

    it("survives a clean-up race: an escaped loop swapping a TMPDIR entry for a link to B's workspace deletes nothing of B's", async () => {
      assert.equal((await call(url('/api/sessions/swap'), 'PUT', { workspace: 'swap' })).status, 201);
      const victim = path.join(svc.workspaceRoot, 'b');
      const token = `${3000 + Math.floor(Math.random() * 1000)}.${randomBytes(4).readUInt32BE(0)}`;
      // The loop runs outside the turn's environment (env -i, its own session) and keeps replacing a
      // directory of the run's TMPDIR with a symlink to B's workspace while the service cleans up.
      // Its $0 (the token) names it in /proc for the independent scan.
      const loop = `T="$TMPDIR"; env -i T="$T" setsid sh -c 'while :; do mkdir -p "$T/d/e" 2>/dev/null; touch "$T/d/e/f" 2>/dev/null; rm -rf "$T/d"; ln -sfn ${victim} "$T/d"; done' ${token} >/dev/null 2>&1 </dev/null & echo looping`;
      const answer = await send('swap', toolMessage('bash', loop));
      assert.ok(answer.includes('looping'), answer.slice(0, 500));
      if (mode === 'server') {
        assert.equal(pidsWithArg(token).filter(isPidLive).length, 1, 'the loop runs while the server does');
        assert.equal((await call(url('/api/sessions/swap?purge=true'), 'DELETE')).status, 204);
      }
      await waitFor('the loop has ended', () => pidsWithArg(token).filter(isPidLive).length === 0, 15_000);
      assert.equal(existsSync(path.join(victim, 'secret.txt')), true, "B's file is still there");
      assert.equal((await call(url('/livez'), 'GET')).status, 200);
      assert.equal(await send('b', 'after the race MARK:b9'), 'stub answer user_messages=3 marker=b9');
      if (mode === 'per-message') assert.equal((await call(url('/api/sessions/swap?purge=true'), 'DELETE')).status, 204);
    });

    it('lets the agent work in its own workspace', async () => {
      const own = path.join(svc.workspaceRoot, 'a');
      for (const work of legitimateWork(own)) {
        const answer = await send('a', work.message);
        assert.ok(answer.includes(work.expect), `${work.name}: ${answer.slice(0, 1000)}`);
      }
      assert.equal(existsSync(path.join(own, 'src', 'own.txt')), true);
    });

    it('purges a session: workspace, conversation and history are gone from disk', async () => {
      await mkdir(path.join(svc.workspaceRoot, 'gone'), { recursive: true });
      assert.equal((await call(url('/api/sessions/gone'), 'PUT', { workspace: 'gone' })).status, 201);
      const words = secret('PURGED-WORDS');
      await send('gone', `keep ${words} MARK:g`);
      assert.equal((await call(url('/api/sessions/gone?purge=maybe'), 'DELETE')).status, 400);
      assert.equal((await call(url('/api/sessions/gone?purge=true'), 'DELETE')).status, 204);
      assert.equal(existsSync(path.join(svc.workspaceRoot, 'gone')), false);
      assert.equal(existsSync(path.join(svc.dataDir, 'opencode', 'sessions', 'gone')), false);
      const grep = spawn('grep', ['-r', '-a', '-l', words, svc.dataDir, svc.workspaceRoot]);
      let found = '';
      grep.stdout.on('data', (chunk: Buffer) => (found += chunk.toString()));
      await new Promise((resolve) => grep.on('close', resolve));
      assert.equal(found, '', `the purged session's words are still on disk in: ${found}`);
    });
  });
}
