// The settings of the sessions' isolation: the sandbox, its layers and its limits. Rows of the
// settings table (src/config/settings.ts).
import { z } from 'zod';
import { commaList, integer, NAMES, nameList, pathList, setting, text } from './setting.js';

/** The sandbox layers an operator can switch off (diagnosis, or a workload one of them breaks). */
export const ISOLATION_LAYERS = ['lifetime', 'pidns', 'caps', 'uid', 'devices', 'tcp', 'limits'] as const;
export type IsolationLayerName = (typeof ISOLATION_LAYERS)[number];

const portList: z.ZodType<'any' | number[], string> = z
  .string()
  .trim()
  .regex(/^(any|\d{1,5}( *, *\d{1,5})*)$/)
  .transform((value) => (value === 'any' ? ('any' as const) : value.split(',').map((port) => Number(port.trim()))))
  .pipe(z.union([z.literal('any'), z.array(z.number().int().min(1).max(65535)).min(1)]));

const uidRange: z.ZodType<{ first: number; last: number }, string> = z
  .string()
  .trim()
  .regex(/^\d{1,10}-\d{1,10}$/)
  .transform((value) => {
    const [first, last] = value.split('-').map(Number) as [number, number];
    return { first, last };
  })
  .refine(({ first, last }) => first >= 1000 && last >= first && last <= 4_294_967_294, 'first-last, 1000 <= first <= last');

export const ISOLATION_SETTINGS = {
  OCPM_ISOLATION: setting(
    'isolation',
    'isolation',
    z.enum(['auto', 'required', 'off']),
    'auto',
    'auto, required or off',
    "`auto`: every session's opencode runs in a Landlock sandbox of its own wherever the kernel can (Linux 6.12+); `required`: refuse to start otherwise; `off`: no sandbox (warned at boot).",
  ),
  OCPM_SANDBOX_READ_PATHS: setting(
    'isolation',
    'sandboxReadPaths',
    pathList,
    [],
    'a comma-separated list of absolute paths',
    'More read-only paths inside every sandbox (comma-separated, absolute), for toolchains outside `/usr` and `/opt`.',
  ),
  OCPM_OPENCODE_PLUGIN_DIR: setting(
    'isolation',
    'opencodePluginDir',
    text.optional(),
    undefined,
    'an absolute path',
    "A directory where `@opencode-ai/plugin` at opencode's version is already installed (`npm install --prefix DIR @opencode-ai/plugin@VERSION`; the image has one): every isolated session's config home links to it, read-only, and the service installs nothing. Unset: installed once at boot into `OCPM_DATA_DIR/opencode/shared-plugin` from the npm registry. A directory without that version is not used: each session's opencode installs the package itself, as without either.",
    { isPath: true },
  ),
  OCPM_TOOL_ENV_ALLOW: setting(
    'isolation',
    'toolEnvAllow',
    nameList,
    [],
    NAMES,
    "More variables the agent's commands keep in the sandbox (`NAME` or `PREFIX*`). Provider keys reach commands only when listed here.",
  ),
  OCPM_ISOLATION_LAYERS_OFF: setting(
    'isolation',
    'isolationLayersOff',
    commaList(z.enum(ISOLATION_LAYERS)),
    [],
    `a comma-separated list of ${ISOLATION_LAYERS.join(', ')}`,
    "Sandbox layers to switch off (each is warned at boot and missing from the status): `lifetime` (a session's processes may outlive it), `pidns` (subreaper instead of a PID namespace), `caps`, `uid` (sessions run as the service's uid), `devices` (all of `/dev`), `tcp`, `limits`.",
  ),
  OCPM_SESSION_UID_RANGE: setting(
    'isolation',
    'sessionUidRange',
    uidRange,
    { first: 100000, last: 165535 },
    'first-last (uids, first >= 1000)',
    'Where the service may switch uids (root, or `CAP_SETUID`, `CAP_SETGID`, `CAP_CHOWN`), each session runs as its own uid from this range, owning its workspace (mode 2770, its own group) and session home (0700).',
    { fallbackText: '100000-165535' },
  ),
  OCPM_SESSION_MAX_PROCESSES: setting(
    'isolation',
    'sessionMaxProcesses',
    integer(0, 1_000_000),
    256,
    'an integer (0: no limit)',
    "With per-session uids: the most processes and threads (`RLIMIT_NPROC` of its uid) one session's opencode and commands may have; `0`: no limit.",
  ),
  OCPM_SANDBOX_TCP_CONNECT: setting(
    'isolation',
    'sandboxTcpConnect',
    portList,
    [80, 443],
    'a comma-separated list of TCP ports, or any',
    "The TCP ports the agent's commands may connect to (Landlock ABI 4+); `any` lifts the rule. The service's own port and the sessions' `opencode serve` ports stay closed unless listed.",
  ),
  OCPM_SESSION_MEMORY_MB: setting(
    'isolation',
    'sessionMemoryMb',
    integer(0, 1048576),
    2048,
    'an integer number of MiB (0: no limit)',
    "The most data memory (`RLIMIT_DATA`) one process of the agent's commands may allocate, in MiB; `0`: no limit.",
  ),
  OCPM_SESSION_DISK_MB: setting(
    'isolation',
    'sessionDiskMb',
    integer(0, 1048576),
    2048,
    'an integer number of MiB (0: no limit)',
    "The disk one session may fill, in MiB: the largest file its commands may write (`RLIMIT_FSIZE`), and its workspace's total, measured after each turn (over it, its messages get 429 `resource_limit`); `0`: no limit.",
  ),
} as const;
