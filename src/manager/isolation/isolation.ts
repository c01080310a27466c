// OCPM_ISOLATION resolved at boot: whether every opencode child runs in a Landlock sandbox of its
// session, and why not when it does not.
import { probeLandlock, type LandlockProbe } from './sandbox-binary.js';

export type IsolationSetting = 'auto' | 'required' | 'off';

export interface Isolation {
  /** 'landlock' when sessions are confined, 'none' otherwise. */
  readonly mechanism: 'landlock' | 'none';
  readonly enforced: boolean;
  /** The kernel's Landlock ABI (0: none). */
  readonly abi: number;
  /** Why isolation is not enforced (null when it is). */
  readonly reason: string | null;
}

/** OCPM_ISOLATION=required and the kernel or the launcher cannot confine: the service must not start. */
export class IsolationUnavailableError extends Error {
  override readonly name = 'IsolationUnavailableError';
}

export function resolveIsolation(setting: IsolationSetting, probe: () => LandlockProbe = probeLandlock): Isolation {
  if (setting === 'off') {
    return { mechanism: 'none', enforced: false, abi: 0, reason: 'OCPM_ISOLATION=off' };
  }
  const landlock = probe();
  if (landlock.unavailable === undefined) return { mechanism: 'landlock', enforced: true, abi: landlock.abi, reason: null };
  if (setting === 'required') {
    throw new IsolationUnavailableError(`OCPM_ISOLATION=required but sessions cannot be isolated: ${landlock.unavailable}`);
  }
  return { mechanism: 'none', enforced: false, abi: landlock.abi, reason: landlock.unavailable };
}
