// OCPM_ISOLATION resolved at boot: whether every opencode child runs in a sandbox of its session,
// which layers of that sandbox are active, and why the others are not.
import type { Config } from '../../config/config.js';
import type { IsolationLayerName } from '../../config/settings-isolation.js';
import { probeSandbox, TCP_LANDLOCK_ABI, type SandboxProbe } from './sandbox-binary.js';
import { unreachableByOthers } from './session-uids.js';

export type IsolationSetting = 'auto' | 'required' | 'off';
export type IsolationSettings = Config['isolation'];

/**
 * One protection of the sessions: `landlock` (files, signals, ptrace, abstract sockets), `pidns` or
 * `subreaper` (no process outlives its session), `caps` (no capability), `uid` (a uid per session),
 * `devices` (only a shell's
 * device nodes), `limits` (per-process memory and file size), `tcp` (connect only to allowed ports).
 */
export { PROTECTIONS, type Protection } from '../../contracts/vocabulary.js';
import type { Protection } from '../../contracts/vocabulary.js';

export interface Isolation {
  /** 'landlock' when sessions are confined, 'none' otherwise. */
  readonly mechanism: 'landlock' | 'none';
  readonly enforced: boolean;
  /** The kernel's Landlock ABI (0: none). */
  readonly abi: number;
  /** Why isolation is not enforced (null when it is). */
  readonly reason: string | null;
  /** The active layers (empty when not enforced). */
  readonly protections: readonly Protection[];
  /** One line per layer that could not be enabled or was switched off (warned at boot). */
  readonly warnings: readonly string[];
}

/** OCPM_ISOLATION=required and the kernel or the launcher cannot confine: the service must not start. */
export class IsolationUnavailableError extends Error {
  override readonly name = 'IsolationUnavailableError';
}

const DEFAULTS: Pick<IsolationSettings, 'isolationLayersOff' | 'sandboxTcpConnect' | 'sessionMemoryMb' | 'sessionDiskMb'> = {
  isolationLayersOff: [],
  sandboxTcpConnect: [80, 443],
  sessionMemoryMb: 2048,
  sessionDiskMb: 2048,
};

function layers(settings: Partial<IsolationSettings>, probe: SandboxProbe, uidPaths: readonly string[]): { protections: Protection[]; warnings: string[] } {
  const { isolationLayersOff, sandboxTcpConnect, sessionMemoryMb, sessionDiskMb } = { ...DEFAULTS, ...settings };
  const off = (layer: IsolationLayerName): boolean => isolationLayersOff.includes(layer);
  const protections: Protection[] = ['landlock'];
  const warnings: string[] = [];
  if (off('lifetime')) {
    warnings.push("lifetime: switched off (OCPM_ISOLATION_LAYERS_OFF): a session's processes can outlive it");
  } else if (probe.pidns && !off('pidns')) {
    protections.push('pidns');
  } else {
    protections.push('subreaper');
    warnings.push(
      off('pidns')
        ? "pidns: switched off (OCPM_ISOLATION_LAYERS_OFF); a subreaper launcher holds each session's processes"
        : "pidns: the kernel refuses a PID namespace here (no CAP_SYS_ADMIN, no user namespaces); a subreaper launcher holds each session's processes",
    );
  }
  if (off('caps')) warnings.push('caps: switched off (OCPM_ISOLATION_LAYERS_OFF): sessions keep the capabilities of the service');
  else protections.push('caps');
  const unreachable = unreachableByOthers(uidPaths);
  if (!probe.setuid) {
    // Only a warning where it could have been had: a non-root service has nothing to separate from.
    if (probe.holdsCapabilities) warnings.push('uid: the service lacks CAP_SETUID, CAP_SETGID or CAP_CHOWN: sessions share its uid');
  } else if (off('uid')) warnings.push("uid: switched off (OCPM_ISOLATION_LAYERS_OFF): sessions run as the service's uid");
  else if (unreachable !== undefined) warnings.push(`uid: ${unreachable} is closed to other uids (no o+x): sessions run as the service's uid`);
  else protections.push('uid');
  if (off('devices')) warnings.push('devices: switched off (OCPM_ISOLATION_LAYERS_OFF): sessions may read and write every file under /dev');
  else protections.push('devices');
  if (off('limits') || (sessionMemoryMb === 0 && sessionDiskMb === 0))
    warnings.push("limits: switched off: no memory or file-size limit on the agent's commands");
  else protections.push('limits');
  if (off('tcp') || sandboxTcpConnect === 'any')
    warnings.push("tcp: switched off: the agent's commands may connect to any TCP port, the service's and other sessions' servers included");
  else if (probe.abi < TCP_LANDLOCK_ABI) warnings.push(`tcp: the kernel's Landlock ABI ${probe.abi} has no TCP rules (ABI ${TCP_LANDLOCK_ABI}, Linux 6.7)`);
  else protections.push('tcp');
  return { protections, warnings };
}

/**
 * @param uidPaths directories every session's uid must traverse (the workspace root, the session
 *   homes): per-session uids are used only when they can.
 */
export function resolveIsolation(
  settings: Partial<IsolationSettings> & { isolation: IsolationSetting },
  probe: () => SandboxProbe = probeSandbox,
  uidPaths: readonly string[] = [],
): Isolation {
  if (settings.isolation === 'off') {
    return { mechanism: 'none', enforced: false, abi: 0, reason: 'OCPM_ISOLATION=off', protections: [], warnings: [] };
  }
  const found = probe();
  if (found.unavailable === undefined) return { mechanism: 'landlock', enforced: true, abi: found.abi, reason: null, ...layers(settings, found, uidPaths) };
  if (settings.isolation === 'required') {
    throw new IsolationUnavailableError(`OCPM_ISOLATION=required but sessions cannot be isolated: ${found.unavailable}`);
  }
  return { mechanism: 'none', enforced: false, abi: found.abi, reason: found.unavailable, protections: [], warnings: [] };
}

/** Whether a layer is active (the sandbox builds its launcher flags from this). */
export function hasProtection(isolation: Isolation, protection: Protection): boolean {
  return isolation.protections.includes(protection);
}
