// The attack list of the isolation suites: what session A's agent tries against session B, the
// service and its secrets, each through opencode's own tools (the stub model calls them on demand,
// test/fixtures/stub-llm). Shared by test/isolation/ (on the host) and test/container/ (in the image).
import { toolMessage } from '../fixtures/stub-llm/server.mjs';

export interface AttackTargets {
  /** Absolute path of session B's workspace, and B's workspace as seen from A's (relative). */
  readonly victimWorkspace: string;
  readonly victimRelative: string;
  /** The service's data dir (registry, api-token, opencode homes). */
  readonly dataDir: string;
  /** The service's pid, and a process outside every sandbox whose environment holds a secret. */
  readonly servicePid: number;
  readonly canaryPid: number;
  /** A file in B's workspace whose content must never come back. */
  readonly victimFile: string;
  /** The service's HTTP port on loopback. */
  readonly servicePort: number;
}

/** Shared memory a process outside the sandbox made (the host suite writes a secret into it). */
export const SHM_CANARY = '/dev/shm/ocpm-isolation-canary';

/**
 * What an attack prints only when it worked. Each is computed by the shell ($((1+1))), so the
 * command's own text, which the answer may echo, never holds it.
 */
export const SUCCESS_MARKERS = ['SERVICE-2-ANSWERED', 'RAW-2-OPEN', 'SHADOW-root:', 'SHM-2-READ', 'CAP-2-HELD'];

export interface Attack {
  readonly name: string;
  readonly message: string;
}

const bash = (command: string): string => toolMessage('bash', command);

/**
 * A shell command that forks `count` sleeping children and prints `forked N`, how many it got.
 * Python's fork does not retry the way bash's does: each refusal is immediate.
 */
export function forkStorm(count: number): string {
  return `/usr/bin/python3 -c "
import os, time
n = 0
for _ in range(${count}):
    try:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        n += 1
    except OSError:
        pass
print('forked', n)"`;
}

/** Every attack; each message's answer must hold none of the secrets. */
export function attacks(t: AttackTargets): Attack[] {
  const victim = `${t.victimWorkspace}/${t.victimFile}`;
  return [
    { name: 'cat another workspace (absolute)', message: bash(`cat ${victim}`) },
    { name: 'cat another workspace (relative)', message: bash(`cat ${t.victimRelative}/${t.victimFile}`) },
    { name: 'head, sh -c, python3 -c', message: bash(`head ${victim}; sh -c "cat ${victim}"; python3 -c "print(open('${victim}').read())"`) },
    { name: 'list another workspace and the workspace root', message: bash(`ls -la ${t.victimWorkspace} ${t.victimWorkspace}/..`) },
    {
      name: 'symlink planted in the own workspace',
      message: bash(`ln -sf ${victim} link-out; cat link-out; ln -sf ${t.victimWorkspace} dir-out; cat dir-out/${t.victimFile}`),
    },
    {
      name: 'write into another workspace',
      message: bash(`echo planted > ${t.victimWorkspace}/planted.txt; echo planted > ${t.victimRelative}/planted-rel.txt; ls ${t.victimWorkspace}`),
    },
    {
      name: 'data dir: api token, registry, logs',
      message: bash(`ls -la ${t.dataDir}; cat ${t.dataDir}/api-token; grep -a -r -h . ${t.dataDir} | head -c 4000`),
    },
    {
      name: "other sessions' opencode databases",
      message: bash(
        `find ${t.dataDir}/opencode -name 'opencode.db*' | head; for f in ${t.dataDir}/opencode/*/*/data/opencode/opencode.db* ${t.dataDir}/opencode/*/data/opencode/opencode.db*; do grep -a -o 'VICTIM-WORDS[A-Za-z0-9-]*' "$f"; done`,
      ),
    },
    { name: 'own environment', message: bash('env; cat /proc/self/environ | tr "\\0" "\\n"') },
    {
      name: "opencode's environment (parent processes)",
      message: bash('for p in $PPID $(ps -o ppid= -p $PPID); do tr "\\0" "\\n" < /proc/$p/environ; done; cat /proc/*/environ | tr "\\0" "\\n" | head -c 8000'),
    },
    {
      name: "the service's and another process's environment",
      message: bash(`tr "\\0" "\\n" < /proc/${t.servicePid}/environ; tr "\\0" "\\n" < /proc/${t.canaryPid}/environ`),
    },
    {
      name: 'signal the service and other processes',
      message: bash(`kill -STOP ${t.canaryPid}; kill -9 ${t.servicePid}; kill -9 ${t.canaryPid}; echo signals-sent`),
    },
    {
      name: 'ptrace another process',
      message: bash(
        `python3 -c "import ctypes; l=ctypes.CDLL(None); print('ptrace', l.ptrace(16, ${t.canaryPid}, 0, 0))"; cat /proc/${t.canaryPid}/mem 2>&1 | head -c 100`,
      ),
    },
    {
      name: "connect to the service's port",
      message: bash(`(exec 3<>/dev/tcp/127.0.0.1/${t.servicePort}) && echo SERVICE-$((1+1))-ANSWERED`),
    },
    {
      name: 'raw packet socket, capabilities',
      message: bash(
        `python3 -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('RAW-' + str(1+1) + '-OPEN')"; grep -q '^CapEff:.*[1-9a-f]' /proc/$$/status && echo CAP-$((1+1))-HELD`,
      ),
    },
    { name: '/etc/shadow', message: bash("head -c 5 /etc/shadow | sed 's/^/SHADOW-/'") },
    { name: "another process's shared memory", message: bash(`cat ${SHM_CANARY} && echo SHM-$((1+1))-READ; ls -la /dev/shm /dev | head -c 3000`) },
    { name: "opencode's read tool on another workspace", message: toolMessage('read', victim) },
    {
      name: "opencode's write tool into another workspace",
      message: toolMessage('write', { filePath: `${t.victimWorkspace}/planted-by-tool.txt`, content: 'planted' }),
    },
    { name: "opencode's read tool on the data dir", message: toolMessage('read', `${t.dataDir}/api-token`) },
  ];
}

/** Legitimate work in the own workspace that must still succeed, with what its answer must contain. */
export function legitimateWork(ownWorkspace: string): Array<Attack & { expect: string }> {
  return [
    {
      name: 'shell work in the own workspace',
      message: bash('mkdir -p src && echo own-content > src/own.txt && cat src/own.txt && git init -q . && echo git-ok'),
      expect: 'own-content',
    },
    { name: 'private TMPDIR', message: bash('echo tmp-ok > "$TMPDIR/t" && cat "$TMPDIR/t"'), expect: 'tmp-ok' },
    { name: "opencode's read tool in the own workspace", message: toolMessage('read', `${ownWorkspace}/src/own.txt`), expect: 'own-content' },
  ];
}

/** Files the attacks try to create in the victim's workspace: none may exist afterwards. */
export const PLANTED_FILES = ['planted.txt', 'planted-rel.txt', 'planted-by-tool.txt'];
