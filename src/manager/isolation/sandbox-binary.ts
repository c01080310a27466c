// Finds the Landlock launcher `ocpm-sandbox` (native/ocpm-sandbox.c, compiled by `npm ci` into
// build/) and asks the kernel which Landlock ABI it offers.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The launcher built at install time: <package root>/build/ocpm-sandbox (from src/ and dist/ alike). */
export const SANDBOX_BINARY = fileURLToPath(new URL('../../../build/ocpm-sandbox', import.meta.url));

/** Signals, ptrace and abstract sockets are scoped to the sandbox from this ABI on (kernel 6.12). */
export const REQUIRED_LANDLOCK_ABI = 6;

export interface LandlockProbe {
  /** 0 when the kernel has no Landlock, or the launcher is missing. */
  readonly abi: number;
  /** Why Landlock cannot be used, or undefined when it can. */
  readonly unavailable: string | undefined;
}

export function probeLandlock(binary = SANDBOX_BINARY): LandlockProbe {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return { abi: 0, unavailable: `the sandbox launcher ${binary} is missing (npm ci compiles it from native/ocpm-sandbox.c; a C compiler is needed)` };
  }
  let abi: number;
  try {
    abi = Number.parseInt(execFileSync(binary, ['--abi'], { encoding: 'utf8', timeout: 5000 }).trim(), 10);
  } catch (error) {
    return { abi: 0, unavailable: `the sandbox launcher failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!(abi >= REQUIRED_LANDLOCK_ABI)) {
    return {
      abi: Number.isFinite(abi) ? abi : 0,
      unavailable:
        abi > 0 ? `the kernel's Landlock ABI ${abi} is older than ${REQUIRED_LANDLOCK_ABI} (Linux 6.12)` : 'the kernel has no Landlock (or it is disabled)',
    };
  }
  return { abi, unavailable: undefined };
}
