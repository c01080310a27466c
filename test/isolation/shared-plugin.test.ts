// Nothing installed per session: with isolation each session has a config home of its own, where
// the real opencode would install its plugin package from the registry (~95 MB with npm's cache) at
// the session's first turn. The service installs it once under the data dir at boot and links every
// session's config home to it; opencode finds its version there and installs nothing. Boot does not
// wait for the install: sessions are linked once it is done.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { explain, realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

/** Bytes under `dir`, links counted as links (never followed). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    total += entry.isDirectory() ? await treeBytes(entryPath) : (await lstat(entryPath)).size;
  }
  return total;
}

for (const mode of ['per-message', 'server'] as const) {
  describe(`opencode's plugin package installed once for every session (${mode} mode)`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };

    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`shared-plugin-${mode}`);
      // The service installs from the registry at boot: it needs this machine's CA certificates.
      const certificates: Record<string, string> =
        process.env.NODE_EXTRA_CA_CERTS === undefined ? {} : { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS };
      svc = await startTestService({ ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`)), ...certificates, OCPM_MODE: mode });
    });

    after(async () => {
      await svc?.close();
      await stub?.close();
      await temp?.remove();
    });

    it("links each session's config home to the one install, and no session's home holds a package or npm's cache", async () => {
      // Boot does not wait for the install (~10 s from the registry): its log line says it is done.
      await waitFor('the shared install', () => svc.logs.some((line) => String(line.message).startsWith("opencode's plugin package")), 180_000);
      const shared = path.join(svc.dataDir, 'opencode', 'shared-plugin');
      const version = (await call(`${svc.url}/api/opencode/status`, 'GET')).body.version as string;
      const installed = JSON.parse(readFileSync(path.join(shared, 'node_modules', '@opencode-ai', 'plugin', 'package.json'), 'utf8')).version;
      assert.equal(installed, version, "the shared install is opencode's own version");
      for (const id of ['a', 'b']) {
        assert.equal((await call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })).status, 201);
        const answer = await call(`${svc.url}/api/sessions/${id}/messages`, 'POST', { text: 'hello' });
        assert.equal(answer.status, 200, explain(svc, answer));
        const root = path.join(svc.dataDir, 'opencode', 'sessions', id);
        const modules = path.join(root, 'config', 'opencode', 'node_modules');
        assert.ok((await lstat(modules)).isSymbolicLink(), `${id}: node_modules is a link to the shared install`);
        assert.equal(await readlink(modules), path.join(shared, 'node_modules'));
        assert.equal(existsSync(path.join(root, 'home', '.npm')), false, `${id}: no npm cache in the session's home`);
        const bytes = await treeBytes(root);
        assert.ok(bytes <= 5 * 1024 * 1024, `${id}: its home holds ${bytes} bytes`);
      }
      assert.equal(svc.logs.filter((line) => String(line.message).startsWith("opencode's plugin package installed once")).length, 1);
    });
  });
}
