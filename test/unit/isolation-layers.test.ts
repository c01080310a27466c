// Which sandbox layers boot turns on (and warns about), and what the agent's commands may read.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveIsolation } from '../../src/manager/isolation/isolation.js';
import type { SandboxProbe } from '../../src/manager/isolation/sandbox-binary.js';
import { SessionSandbox } from '../../src/manager/isolation/session-sandbox.js';
import { worldReadablePaths } from '../../src/manager/isolation/world-readable.js';
import { makeTempDir } from '../helpers/fixtures.js';

const probe =
  (found: Partial<SandboxProbe>): (() => SandboxProbe) =>
  () => ({ abi: 7, unavailable: undefined, pidns: true, holdsCapabilities: true, setuid: true, ...found });

describe('isolation layers', () => {
  it('turns every layer on where the kernel allows', () => {
    const isolation = resolveIsolation({ isolation: 'auto' }, probe({}));
    assert.deepEqual(isolation.protections, ['landlock', 'pidns', 'caps', 'uid', 'devices', 'limits', 'tcp']);
    assert.deepEqual(isolation.warnings, []);
  });

  it('falls back to the subreaper without a PID namespace, and says so', () => {
    const isolation = resolveIsolation({ isolation: 'auto' }, probe({ pidns: false }));
    assert.ok(isolation.protections.includes('subreaper'));
    assert.ok(!isolation.protections.includes('pidns'));
    assert.match(isolation.warnings.join('\n'), /pidns: the kernel refuses/);
  });

  it('drops and warns about each layer switched off', () => {
    const isolation = resolveIsolation({ isolation: 'auto', isolationLayersOff: ['lifetime', 'caps', 'uid', 'devices', 'tcp', 'limits'] }, probe({}));
    assert.deepEqual(isolation.protections, ['landlock']);
    assert.equal(isolation.warnings.length, 6);
  });

  it('has no TCP rules below Landlock ABI 4, and none with OCPM_SANDBOX_TCP_CONNECT=any', () => {
    assert.ok(!resolveIsolation({ isolation: 'auto', sandboxTcpConnect: 'any' }, probe({})).protections.includes('tcp'));
    const old = resolveIsolation({ isolation: 'auto' }, probe({ abi: 3, unavailable: undefined }));
    assert.ok(!old.protections.includes('tcp'));
    assert.match(old.warnings.join('\n'), /ABI 3 has no TCP rules/);
  });

  it('gives sessions uids of their own only where the service may and every session uid can reach its directories', async () => {
    const temp = await makeTempDir('uid-paths');
    try {
      const closed = resolveIsolation({ isolation: 'auto' }, probe({}), [path.join(temp.dir, 'workspaces')]);
      assert.ok(!closed.protections.includes('uid'));
      assert.match(closed.warnings.join('\n'), /is closed to other uids/);
      await chmod(temp.dir, 0o711);
      assert.ok(resolveIsolation({ isolation: 'auto' }, probe({}), [path.join(temp.dir, 'workspaces')]).protections.includes('uid'));
      // A service without capabilities has nothing to separate from: no uid layer, no warning.
      const plain = resolveIsolation({ isolation: 'auto' }, probe({ setuid: false, holdsCapabilities: false }));
      assert.ok(!plain.protections.includes('uid'));
      assert.deepEqual(plain.warnings, []);
    } finally {
      await temp.remove();
    }
  });

  it('reports nothing when not enforced', () => {
    assert.deepEqual(resolveIsolation({ isolation: 'off' }, probe({})).protections, []);
    assert.deepEqual(resolveIsolation({ isolation: 'auto' }, probe({ abi: 0, unavailable: 'no Landlock' })).protections, []);
  });
});

describe("what the agent's commands may read", () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('shell-readable');
  });
  after(async () => temp?.remove());

  it("holds no secret of the operator's: not the opencode config file or dir, the data dir or /etc/shadow", async () => {
    const configFile = path.join(temp.dir, 'config', 'opencode.json');
    const configDir = path.join(temp.dir, 'config-dir');
    await mkdir(path.dirname(configFile), { recursive: true });
    await mkdir(configDir);
    await writeFile(configFile, '{"provider":{"x":{"options":{"apiKey":"sk-SECRET"}}}}');
    const sandbox = new SessionSandbox({
      launcher: '/usr/bin/true',
      opencodeBinary: '/usr/bin/true',
      sandboxReadPaths: [],
      toolEnvAllow: [],
      sourceEnv: { OPENCODE_CONFIG: configFile, OPENCODE_CONFIG_DIR: configDir },
      isolation: resolveIsolation({ isolation: 'auto' }, probe({})),
      killGraceMs: 2000,
      tcpConnect: [80, 443],
      memoryMb: 2048,
      diskMb: 2048,
    });
    const readable = sandbox.shellReadable();
    const beneath = (file: string): string[] => readable.filter((p) => file === p || file.startsWith(`${p}/`));
    for (const secret of [configFile, configDir, temp.dir, '/etc/shadow', '/etc/gshadow']) {
      assert.deepEqual(beneath(secret), [], `${secret} is readable through ${beneath(secret).join(', ')}`);
    }
    // opencode itself still reads its config: only the commands' list leaves it out.
    const wrapped = sandbox.wrap('opencode', ['serve'], {
      sessionId: 's',
      workspace: temp.dir,
      tmpDir: temp.dir,
      home: { root: temp.dir, home: temp.dir, env: {} } as never,
    });
    assert.ok(wrapped.args.includes(configFile));
    assert.ok(!wrapped.env.OCPM_SANDBOX_SHELL_RO!.split(':').includes(configFile));
  });

  it('grants a world-readable directory whole and leaves out what others may not read', async () => {
    const root = path.join(temp.dir, 'etc-like');
    await mkdir(path.join(root, 'open'), { recursive: true, mode: 0o755 });
    await mkdir(path.join(root, 'mixed'), { mode: 0o755 });
    await mkdir(path.join(root, 'mixed', 'private'), { mode: 0o700 });
    await chmod(root, 0o755);
    await writeFile(path.join(root, 'open', 'a'), 'a', { mode: 0o644 });
    await writeFile(path.join(root, 'mixed', 'b'), 'b', { mode: 0o644 });
    await writeFile(path.join(root, 'secret'), 's', { mode: 0o640 });
    const paths = worldReadablePaths(root)
      .map((p) => path.relative(root, p))
      .sort();
    assert.deepEqual(paths, ['mixed/b', 'open']);
  });
});
