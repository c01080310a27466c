// Finds the sandbox launcher `ocpm-sandbox` (native/, compiled by `npm ci` into build/) and asks it
// what it can do on this kernel and as this user.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../util/guards.js';

/** The launcher built at install time: <package root>/build/ocpm-sandbox (from src/ and dist/ alike). */
export const SANDBOX_BINARY = fileURLToPath(new URL('../../../build/ocpm-sandbox', import.meta.url));

/** Signals, ptrace and abstract sockets are scoped to the sandbox from this ABI on (kernel 6.12). */
export const REQUIRED_LANDLOCK_ABI = 6;
/** TCP connect rules exist from this ABI on (kernel 6.7). */
export const TCP_LANDLOCK_ABI = 4;

export interface SandboxProbe {
  /** 0 when the kernel has no Landlock, or the launcher is missing. */
  readonly abi: number;
  /** Why Landlock cannot be used, or undefined when it can. */
  readonly unavailable: string | undefined;
  /** A PID namespace can be made (as root, or inside a user namespace). */
  readonly pidns: boolean;
  /** The service holds capabilities (which every sandbox drops). */
  readonly holdsCapabilities: boolean;
  /** The service may run sessions under uids of their own (CAP_SETUID, CAP_SETGID, CAP_CHOWN). */
  readonly setuid: boolean;
}

function parseProbe(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name !== undefined && value !== undefined) values.set(name, Number.parseInt(value, 10));
  }
  return values;
}

export function probeSandbox(binary = SANDBOX_BINARY): SandboxProbe {
  const none = { abi: 0, pidns: false, holdsCapabilities: false, setuid: false };
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return { ...none, unavailable: `the sandbox launcher ${binary} is missing (npm ci compiles it from native/; a C compiler is needed)` };
  }
  let values: Map<string, number>;
  try {
    values = parseProbe(execFileSync(binary, ['--probe'], { encoding: 'utf8', timeout: 5000 }));
  } catch (error) {
    return { ...none, unavailable: `the sandbox launcher failed: ${errorMessage(error)}` };
  }
  const abi = values.get('abi') ?? Number.NaN;
  const found = {
    abi: Number.isFinite(abi) ? abi : 0,
    pidns: values.get('pidns') === 1,
    holdsCapabilities: values.get('caps') === 1,
    setuid: values.get('setuid') === 1,
  };
  if (!(abi >= REQUIRED_LANDLOCK_ABI)) {
    return {
      ...found,
      unavailable:
        abi > 0 ? `the kernel's Landlock ABI ${abi} is older than ${REQUIRED_LANDLOCK_ABI} (Linux 6.12)` : 'the kernel has no Landlock (or it is disabled)',
    };
  }
  return { ...found, unavailable: undefined };
}
