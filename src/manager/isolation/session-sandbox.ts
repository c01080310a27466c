// The sandbox of one session's opencode process (a `run` or a `serve`) and of every command its
// agent runs. The launcher holds the whole process tree to opencode's lifetime (a PID namespace, or a
// subreaper), leaves it no capability and only a shell's device nodes. Two nested Landlock domains:
//  - opencode itself may read system files and write its session's workspace, its session home
//    (conversation, config, cache) and its private TMPDIR; its own file tools are bound by this.
//  - commands of its bash tool start through SHELL=ocpm-sandbox, which adds a narrower domain (no
//    session home beyond HOME, so no conversation database, no operator config file), connects only
//    to the allowed TCP ports, runs under per-process memory and file-size limits, and drops every
//    environment variable not on the tool allow-list (provider keys, OPENCODE_SERVER_PASSWORD,
//    opencode's config).
//    Being a nested domain, they cannot ptrace opencode, and Landlock scoping stops signals to
//    anything outside their own sandbox; /proc shows neither of them other processes.
import { chownSync, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { NETWORK_VARIABLES } from '../child-env.js';
import { PROCESS_MARK_VARIABLE } from '../process-tree/spawn-tracked.js';
import { hasProtection, type Isolation } from './isolation.js';
import { prepareSessionHome, type SessionHome } from './session-home.js';
import { linkSharedPlugin, type SharedPlugin } from './shared-plugin.js';
import type { SessionUids } from './session-uids.js';
import { worldReadablePaths } from './world-readable.js';

/**
 * Read-only for everything in a sandbox: programs, libraries, configuration, and of /proc only the
 * machine-wide files and the sandboxed process's own directory (`/proc/self` resolves to the
 * launcher's pid, which exec keeps: opencode needs its own maps, exe and cgroup). All of /proc would
 * hand out other processes' environments: Landlock stops ptrace across sandboxes, but reading
 * /proc/<pid>/environ of a same-user process is not stopped by it (measured on Linux 6.18).
 */
export const SYSTEM_READ_PATHS = [
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt',
  // Of /sys only what runtimes size themselves by: not the cgroup files, which list host pids.
  '/sys/devices/system/cpu',
  '/sys/devices/system/node',
  '/sys/kernel/mm/transparent_hugepage',
  '/proc/self',
  '/proc/version',
  '/proc/cpuinfo',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/loadavg',
  '/proc/uptime',
  '/proc/filesystems',
  '/proc/sys/vm',
  '/proc/sys/kernel',
];

/** /etc, of which a sandbox reads only what every user may (not /etc/shadow where the agent is uid 0). */
export const SYSTEM_CONFIG_DIR = '/etc';

/** The device nodes a shell needs; the rest of /dev (disks, /dev/shm of other processes…) stays closed. */
export const SHELL_DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx', '/dev/pts'];

/** Variables the agent's commands keep (besides the operator's OCPM_TOOL_ENV_ALLOW). */
const TOOL_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TZ',
  'TERM',
  'COLORTERM',
  'TMPDIR',
  'PWD',
  ...NETWORK_VARIABLES,
  PROCESS_MARK_VARIABLE,
];

export interface SandboxOptions {
  /** The ocpm-sandbox launcher. */
  readonly launcher: string;
  /** The opencode executable the service runs (its directory becomes readable). */
  readonly opencodeBinary: string;
  /** OCPM_SANDBOX_READ_PATHS: more read-only paths (toolchains outside /usr, shared caches…). */
  readonly sandboxReadPaths: readonly string[];
  /** OCPM_TOOL_ENV_ALLOW: more variables the agent's commands keep (NAME or PREFIX*). */
  readonly toolEnvAllow: readonly string[];
  /** The environment opencode children are built from (for the operator's opencode config file). */
  readonly sourceEnv: NodeJS.ProcessEnv;
  /** The active layers; each one adds its launcher flags. */
  readonly isolation: Isolation;
  /** The service's kill grace: the launcher's own is shorter, so it ends the tree before the service SIGKILLs it. */
  readonly killGraceMs: number;
  /** OCPM_SANDBOX_TCP_CONNECT, OCPM_SESSION_MEMORY_MB, OCPM_SESSION_DISK_MB. */
  readonly tcpConnect: readonly number[] | 'any';
  readonly memoryMb: number;
  readonly diskMb: number;
  /** The service's own port, never open to the agent's commands. */
  readonly servicePort?: number;
  /** The operator's opencode config file is neither passed nor readable (the gateway inlines a rewritten copy). */
  readonly operatorConfigHidden?: boolean;
  /** With the `uid` layer: each session's uid, and the most processes it may have (0: no limit). */
  readonly uids?: SessionUids;
  readonly maxProcesses?: number;
  /** opencode's plugin package installed once (shared-plugin.ts): read-only to opencode, linked into each session's config home once ready. */
  readonly sharedPlugin?: SharedPlugin | undefined;
}

export interface SandboxTarget {
  readonly sessionId: string;
  readonly workspace: string;
  readonly home: SessionHome;
  /** The child's private TMPDIR (spawnTracked's). */
  readonly tmpDir: string;
  /** The session's own model gateway port: open to its commands too (a call still needs the session's key). */
  readonly gatewayPort?: number | undefined;
}

export interface WrappedCommand {
  readonly file: string;
  readonly args: string[];
  /** Variables the sandboxed child needs on top of its environment. */
  readonly env: Record<string, string>;
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The operator's opencode config file, which a session's own XDG_CONFIG_HOME would hide. */
function operatorConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OPENCODE_CONFIG !== undefined && env.OPENCODE_CONFIG !== '') return env.OPENCODE_CONFIG;
  const configHome = env.XDG_CONFIG_HOME ?? (env.HOME === undefined ? undefined : path.join(env.HOME, '.config'));
  if (configHome === undefined) return undefined;
  return ['opencode.json', 'opencode.jsonc'].map((name) => path.join(configHome, 'opencode', name)).find((file) => existsSync(file));
}

const MIB = 1024 * 1024;

export class SessionSandbox {
  /** What opencode itself reads (its config file included). */
  private readonly readPaths: string[];
  /** What the agent's commands read: the same without the operator's opencode config. */
  private readonly shellReadPaths: string[];
  private readonly toolEnv: string;
  private readonly shell: string;
  private readonly configFile: string | undefined;
  private readonly launcherFlags: string[];
  private readonly shellLimits: Record<string, string>;
  private readonly devices: string[];

  constructor(private readonly options: SandboxOptions) {
    this.configFile = options.operatorConfigHidden === true ? undefined : operatorConfigFile(options.sourceEnv);
    const configDir = options.sourceEnv.OPENCODE_CONFIG_DIR;
    const nodePrefix = path.dirname(path.dirname(real(process.execPath)));
    this.shellReadPaths = [
      ...SYSTEM_READ_PATHS,
      ...worldReadablePaths(SYSTEM_CONFIG_DIR),
      path.dirname(real(options.opencodeBinary)),
      path.dirname(real(options.launcher)),
      // Node for the agent's commands, when it is not under /usr (a version manager's, a registry package's).
      ...(nodePrefix === '/usr' || nodePrefix === '/' ? [] : [path.join(nodePrefix, 'bin'), path.join(nodePrefix, 'lib'), path.join(nodePrefix, 'include')]),
      ...options.sandboxReadPaths,
    ];
    this.readPaths = [
      ...this.shellReadPaths,
      ...(this.configFile === undefined ? [] : [this.configFile]),
      ...(configDir === undefined || configDir === '' ? [] : [configDir]),
      ...(options.sharedPlugin === undefined ? [] : [options.sharedPlugin.dir]),
    ];
    this.toolEnv = [...TOOL_ENV, ...options.toolEnvAllow].join(',');
    this.shell = ['/bin/bash', '/usr/bin/bash', '/bin/sh'].find((shell) => existsSync(shell)) ?? '/bin/sh';
    this.launcherFlags = this.buildLauncherFlags();
    this.shellLimits = this.buildShellLimits();
    this.devices = hasProtection(options.isolation, 'devices') ? SHELL_DEVICES : ['/dev'];
  }

  private buildLauncherFlags(): string[] {
    const { isolation, killGraceMs } = this.options;
    const lifetime = hasProtection(isolation, 'pidns') ? 'pidns' : hasProtection(isolation, 'subreaper') ? 'subreaper' : 'none';
    return [
      '--lifetime',
      lifetime,
      '--grace-ms',
      String(Math.max(100, Math.floor(killGraceMs * 0.75))),
      '--caps',
      hasProtection(isolation, 'caps') ? 'drop' : 'keep',
    ];
  }

  private buildShellLimits(): Record<string, string> {
    const { isolation, tcpConnect, memoryMb, diskMb, servicePort } = this.options;
    const env: Record<string, string> = {};
    if (hasProtection(isolation, 'tcp') && tcpConnect !== 'any') {
      env.OCPM_SANDBOX_SHELL_TCP = tcpConnect.filter((port) => port !== servicePort).join(',');
    }
    if (hasProtection(isolation, 'limits')) {
      const limits = [...(memoryMb > 0 ? [`data=${memoryMb * MIB}`] : []), ...(diskMb > 0 ? [`fsize=${diskMb * MIB}`] : [])];
      if (limits.length > 0) env.OCPM_SANDBOX_SHELL_LIMITS = limits.join(',');
    }
    return env;
  }

  /** Every path the agent's commands may read (system paths, never a secret of the operator's). */
  shellReadable(): readonly string[] {
    return this.shellReadPaths;
  }

  /** The session's home exists, its config home linked to the shared plugin package when there is one. */
  async prepareHome(home: SessionHome): Promise<void> {
    await prepareSessionHome(home);
    const { sharedPlugin } = this.options;
    if (sharedPlugin?.ready === true) await linkSharedPlugin(home.env.XDG_CONFIG_HOME!, sharedPlugin.dir);
  }

  /** HOME and XDG dirs of the session, and the operator's config file when it lived in the service's HOME. */
  childEnv(home: SessionHome): Record<string, string> {
    return { ...home.env, ...(this.configFile === undefined ? {} : { OPENCODE_CONFIG: this.configFile }) };
  }

  /** The launcher flags of the session's own uid: its files are given to it first (see SessionUids). */
  private uidFlags(target: SandboxTarget): string[] {
    const { uids, maxProcesses = 0 } = this.options;
    if (uids === undefined) return [];
    const uid = uids.ensure(target);
    chownSync(target.tmpDir, uid, uid);
    return ['--uid', String(uid), '--gid', String(uid), ...(maxProcesses > 0 ? ['--limits', `nproc=${maxProcesses}`] : [])];
  }

  /** `file args` run inside the session's sandbox, with the tool shell set up. */
  wrap(file: string, args: readonly string[], target: SandboxTarget): WrappedCommand {
    const ro = this.readPaths.flatMap((p) => ['--ro', p]);
    const rw = [target.workspace, target.home.root, target.tmpDir].flatMap((p) => ['--rw', p]);
    const dev = this.devices.flatMap((p) => ['--dev', p]);
    return {
      file: this.options.launcher,
      args: [...ro, ...rw, ...dev, ...this.launcherFlags, ...this.uidFlags(target), '--', file, ...args],
      env: {
        SHELL: this.options.launcher,
        OCPM_SANDBOX_SHELL: this.shell,
        OCPM_SANDBOX_SHELL_RO: this.shellReadPaths.join(':'),
        OCPM_SANDBOX_SHELL_RW: [target.workspace, target.tmpDir, target.home.home].join(':'),
        OCPM_SANDBOX_SHELL_DEV: this.devices.join(':'),
        OCPM_SANDBOX_SHELL_ENV: this.toolEnv,
        ...this.shellLimits,
        ...(target.gatewayPort === undefined || this.shellLimits.OCPM_SANDBOX_SHELL_TCP === undefined
          ? {}
          : { OCPM_SANDBOX_SHELL_TCP: [this.shellLimits.OCPM_SANDBOX_SHELL_TCP, String(target.gatewayPort)].filter((ports) => ports !== '').join(',') }),
      },
    };
  }
}
