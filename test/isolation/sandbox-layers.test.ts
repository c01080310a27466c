// Each layer of the sandbox launcher against the attack it exists for, run directly (real processes,
// no opencode): with the layer on the attack fails, with it off the same attack succeeds, so every
// test here fails when its protection is switched off. As root and, from root, as uid 1000.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_BINARY, probeSandbox } from '../../src/manager/isolation/sandbox-binary.js';
import { SHELL_DEVICES, SYSTEM_CONFIG_DIR, SYSTEM_READ_PATHS } from '../../src/manager/isolation/session-sandbox.js';
import { worldReadablePaths } from '../../src/manager/isolation/world-readable.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { forkStorm } from '../helpers/isolation-attacks.js';
import { isPidLive, pidsWithArg } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

const PYTHON = '/usr/bin/python3';
const probe = probeSandbox();
const isRoot = process.getuid?.() === 0;
const users = isRoot
  ? [
      { name: 'root', uid: 0, prefix: [] as string[] },
      { name: 'uid 1000', uid: 1000, prefix: ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', '--'] },
    ]
  : [{ name: `uid ${process.getuid?.() ?? '?'}`, uid: process.getuid?.() ?? -1, prefix: [] as string[] }];

interface Ran {
  readonly code: number | null;
  readonly out: string;
}

function exec(argv: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const uniqueSleep = (): string => `${3000 + Math.floor(Math.random() * 1000)}.${randomBytes(4).readUInt32BE(0)}`;

for (const user of users) {
  describe(`the sandbox launcher's layers, as ${user.name}`, () => {
    let temp: { dir: string; remove: () => Promise<void> };
    let etc: string[];
    const ro = (system: 'world-readable' | 'all'): string[] =>
      [...SYSTEM_READ_PATHS, ...(system === 'all' ? [SYSTEM_CONFIG_DIR] : etc)].flatMap((p) => ['--ro', p]);
    type LaunchOptions = { etc?: 'world-readable' | 'all'; devices?: readonly string[] };
    /** The launcher's main mode around `bash -c script`, as this describe's user. */
    const launcherArgv = (flags: readonly string[], script: string, options: LaunchOptions = {}): string[] => [
      ...user.prefix,
      SANDBOX_BINARY,
      ...ro(options.etc ?? 'world-readable'),
      '--rw',
      temp.dir,
      ...(options.devices ?? SHELL_DEVICES).flatMap((p) => ['--dev', p]),
      ...flags,
      '--',
      '/bin/bash',
      '-c',
      script,
    ];
    const launch = (flags: readonly string[], script: string, options: LaunchOptions = {}): Promise<Ran> => exec(launcherArgv(flags, script, options));
    /** The launcher's shell mode (the agent's commands), with extra OCPM_SANDBOX_SHELL_* variables. */
    const shell = (script: string, env: Record<string, string>): Promise<Ran> =>
      exec([...user.prefix, SANDBOX_BINARY, '-c', script], {
        OCPM_SANDBOX_SHELL_RO: [...SYSTEM_READ_PATHS, ...etc].join(':'),
        OCPM_SANDBOX_SHELL_RW: temp.dir,
        OCPM_SANDBOX_SHELL_DEV: SHELL_DEVICES.join(':'),
        OCPM_SANDBOX_SHELL_ENV: 'PATH',
        ...env,
      });

    before(async () => {
      assert.ok(probe.unavailable === undefined, `the launcher works here: ${probe.unavailable}`);
      temp = await makeTempDir('sandbox-layers');
      if (user.uid > 0) chownSync(temp.dir, user.uid, user.uid);
      etc = worldReadablePaths(SYSTEM_CONFIG_DIR);
    });
    after(async () => {
      await temp?.remove();
    });

    const lifetimes = [...(probe.pidns ? ['pidns'] : []), 'subreaper'];
    for (const lifetime of lifetimes) {
      it(`${lifetime}: processes escaped by env -i, setsid and a double fork end with the program`, async () => {
        const token = uniqueSleep();
        // Their output goes elsewhere: a survivor holding the pipe would keep the test waiting for its end.
        const quiet = '>/dev/null 2>&1 </dev/null';
        const escape = `env -i setsid sleep ${token} ${quiet} & (setsid sleep ${token} ${quiet} &) ; env -i sh -c 'sleep ${token} ${quiet} &' ; echo started`;
        const ran = await launch(['--lifetime', lifetime], escape);
        assert.equal(ran.code, 0, ran.out);
        await waitFor(`no sleep ${token} left`, () => pidsWithArg(token).filter(isPidLive).length === 0, 5000);
        // Off: the same escape survives the program.
        const token2 = uniqueSleep();
        const off = await launch(['--lifetime', 'none'], escape.replaceAll(token, token2));
        assert.equal(off.code, 0, off.out);
        const survivors = pidsWithArg(token2).filter(isPidLive);
        for (const pid of survivors) process.kill(pid, 'SIGKILL');
        assert.equal(survivors.length, 3, 'without the lifetime layer the escaped processes survive');
      });

      it(`${lifetime}: a SIGTERM gives the program its grace, then the whole tree is killed`, async () => {
        const token = uniqueSleep();
        const argv = launcherArgv(['--lifetime', lifetime, '--grace-ms', '300'], `trap '' TERM; env -i setsid sleep ${token} >/dev/null 2>&1 & echo up; wait`);
        // setpriv execs the launcher: the signal reaches it.
        const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        await waitFor(`sleep ${token} running`, () => pidsWithArg(token).filter(isPidLive).length === 1, 5000);
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('close', resolve));
        await waitFor(`no sleep ${token} left`, () => pidsWithArg(token).filter(isPidLive).length === 0, 5000);
      });

      it(`${lifetime}: when the service dies, the tree goes too`, async () => {
        const token = uniqueSleep();
        const launcher = launcherArgv(['--lifetime', lifetime, '--grace-ms', '200'], `env -i setsid sleep ${token} >/dev/null 2>&1 & echo up; wait`)
          .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
          .join(' ');
        // A stand-in for the service: a shell that does not exec the launcher, then is SIGKILLed.
        const service = spawn('/bin/bash', ['-c', `${launcher}; true`], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => service.stdout.once('data', resolve));
        await waitFor(`sleep ${token} running`, () => pidsWithArg(token).filter(isPidLive).length === 1, 5000);
        service.kill('SIGKILL');
        await waitFor(`no sleep ${token} left`, () => pidsWithArg(token).filter(isPidLive).length === 0, 5000);
      });
    }

    if (probe.pidns) {
      it('pidns: /proc shows only the session', async () => {
        // With all of /proc readable (the sandbox grants only /proc/self and a few files).
        const inside = await launch(['--ro', '/proc', '--lifetime', 'pidns'], "ls /proc | grep -c '^[0-9]'");
        assert.ok(Number(inside.out.trim()) < 10, `processes seen in a PID namespace: ${inside.out}`);
        const outside = await launch(['--ro', '/proc', '--lifetime', 'subreaper'], "ls /proc | grep -c '^[0-9]'");
        assert.ok(Number(outside.out.trim()) > Number(inside.out.trim()), `without it the host's processes show: ${outside.out}`);
      });
    }

    it('caps: no capability in any set, no raw socket', async () => {
      // The shell reads its own status (a child's /proc/self is another pid, outside the rule).
      const script = `while read -r line; do case $line in Cap*) echo "$line";; esac; done < /proc/self/status; ${PYTHON} -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('RAW-OPEN')"`;
      const on = await launch(['--lifetime', 'subreaper', '--caps', 'drop'], script);
      for (const set of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.match(on.out, new RegExp(`${set}:\\s+0{16}`), on.out);
      if (user.uid === 0) assert.match(on.out, /CapBnd:\s+0{16}/, on.out);
      assert.doesNotMatch(on.out, /RAW-OPEN/);
      if (user.uid !== 0) return; // An unprivileged user holds nothing to drop.
      const off = await launch(['--lifetime', 'subreaper', '--caps', 'keep'], script);
      assert.match(off.out, /RAW-OPEN/, `as root without the layer a raw socket opens: ${off.out}`);
    });

    it('etc: /etc/shadow is not on the read list', async () => {
      const on = await launch(['--lifetime', 'subreaper'], 'cat /etc/shadow && echo SHADOW-READ');
      assert.doesNotMatch(on.out, /SHADOW-READ/);
      assert.match((await launch(['--lifetime', 'subreaper'], 'cat /etc/passwd | head -1')).out, /^root:/, 'world-readable files stay readable');
      if (user.uid !== 0) return;
      const off = await launch(['--lifetime', 'subreaper', '--caps', 'drop'], 'cat /etc/shadow && echo SHADOW-READ', { etc: 'all' });
      assert.match(off.out, /SHADOW-READ/, 'uid 0 without capabilities reads /etc/shadow by its owner bits when all of /etc is readable');
    });

    it("devices: another process's /dev/shm file and disks are out of reach", async () => {
      const name = `/dev/shm/ocpm-layers-${randomBytes(6).toString('hex')}`;
      const secret = `SHM-SECRET-${randomBytes(6).toString('hex')}`;
      writeFileSync(name, secret, { mode: 0o666 });
      try {
        const script = `cat ${name}; echo; ls /dev/sda /dev/vda 2>&1 | head -2; echo -n > /dev/null && echo null-ok`;
        const on = await launch(['--lifetime', 'subreaper'], script);
        assert.doesNotMatch(on.out, new RegExp(secret));
        assert.match(on.out, /null-ok/);
        const off = await launch(['--lifetime', 'subreaper'], script, { devices: ['/dev'] });
        assert.match(off.out, new RegExp(secret), 'with all of /dev the file is readable');
        if (probe.pidns) {
          const privateShm = await launch(['--lifetime', 'pidns'], `cat ${name}; echo mine > /dev/shm/own && cat /dev/shm/own`, { devices: ['/dev'] });
          assert.doesNotMatch(privateShm.out, new RegExp(secret), 'a PID namespace has a /dev/shm of its own');
          assert.match(privateShm.out, /mine/);
        }
      } finally {
        rmSync(name, { force: true });
      }
    });

    if (user.uid === 0 && probe.setuid) {
      it("uid: another session's files keep their mode, owner and times; a session's processes are counted on its own", async () => {
        const [uidA, uidB] = [100_001 + Math.floor(Math.random() * 50_000), 160_001 + Math.floor(Math.random() * 1000)];
        const victim = path.join(temp.dir, 'victim');
        const attack = `chmod 0 ${victim}; touch -d 2001-01-01 ${victim}/f; chown $(id -u) ${victim}/f; stat -c '%a %u' ${victim}`;
        const setUp = (owner: number): void => {
          mkdirSync(victim, { recursive: true });
          writeFileSync(path.join(victim, 'f'), 'x');
          chownSync(victim, owner, owner);
          chownSync(path.join(victim, 'f'), owner, owner);
          chmodSync(victim, 0o2770);
        };
        chmodSync(temp.dir, 0o711);
        setUp(uidB);
        const on = await launch(['--lifetime', 'pidns', '--uid', String(uidA), '--gid', String(uidA)], attack);
        assert.equal((statSync(victim).mode & 0o7777).toString(8), '2770', on.out);
        assert.equal(statSync(path.join(victim, 'f')).mtime.getFullYear() > 2001, true);
        // Off: sessions share the service's uid (0 without capabilities): they own each other's files.
        rmSync(victim, { recursive: true, force: true });
        setUp(0);
        const off = await launch(['--lifetime', 'pidns'], attack);
        assert.equal(statSync(victim).mode & 0o777, 0, `without per-session uids chmod 0 locks the other session out: ${off.out}`);
        chmodSync(victim, 0o700);

        const forks = forkStorm(100);
        const limited = await launch(['--lifetime', 'pidns', '--uid', String(uidA), '--gid', String(uidA), '--limits', 'nproc=40'], forks);
        assert.ok(Number(/forked (\d+)/.exec(limited.out)?.[1]) < 40, `forks under nproc=40: ${limited.out}`);
        const unlimited = await launch(['--lifetime', 'pidns', '--uid', String(uidA), '--gid', String(uidA)], forks);
        assert.equal(Number(/forked (\d+)/.exec(unlimited.out)?.[1]), 100, unlimited.out);
      });
    }

    describe('the tool shell', () => {
      let server: Server;
      let port: number;
      before(async () => {
        server = createServer((socket) => socket.end('HELLO-FROM-SERVICE\n'));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        port = (server.address() as { port: number }).port;
      });
      after(() => new Promise<void>((resolve) => server.close(() => resolve())));

      it('tcp: connects only to the allowed ports', async () => {
        const script = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3`;
        const on = await shell(script, { OCPM_SANDBOX_SHELL_TCP: '80,443' });
        assert.doesNotMatch(on.out, /HELLO-FROM-SERVICE/);
        assert.match(on.out, /Permission denied/);
        const off = await shell(script, {});
        assert.match(off.out, /HELLO-FROM-SERVICE/, 'without the rule the port answers');
      });

      it('limits: a 3 GiB allocation and a 4 GiB file are refused', async () => {
        const script = `${PYTHON} -c "import mmap; m = mmap.mmap(-1, 3 * 1024**3, flags=mmap.MAP_PRIVATE); print('ALLOCATED', len(m))"; truncate -s 4G big.bin && echo FILE-MADE; rm -f big.bin`;
        const limits = `data=${2048 * 1024 * 1024},fsize=${2048 * 1024 * 1024}`;
        const on = await shell(`cd ${temp.dir} && ${script}`, { OCPM_SANDBOX_SHELL_LIMITS: limits });
        assert.match(on.out, /Cannot allocate memory|MemoryError/);
        assert.doesNotMatch(on.out, /ALLOCATED|FILE-MADE/);
        const off = await shell(`cd ${temp.dir} && ${script}`, {});
        assert.match(off.out, /ALLOCATED/);
        assert.match(off.out, /FILE-MADE/);
        assert.equal(existsSync(`${temp.dir}/big.bin`), false);
      });
    });
  });
}
