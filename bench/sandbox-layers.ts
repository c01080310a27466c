// What each sandbox layer adds to starting a session's process: the launcher around `/bin/true`,
// spawned and waited for, under each lifetime (none, subreaper, pidns) and with the other layers
// on, interleaved so machine noise hits every variant alike; plus the resident memory the
// supervising processes (launcher, PID-namespace init) hold while a program runs.
// Usage: node --import tsx bench/sandbox-layers.ts [--runs 200]   (docs/performance.md)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { probeSandbox, SANDBOX_BINARY } from '../src/manager/isolation/sandbox-binary.js';
import { SHELL_DEVICES, SYSTEM_CONFIG_DIR, SYSTEM_READ_PATHS } from '../src/manager/isolation/session-sandbox.js';
import { worldReadablePaths } from '../src/manager/isolation/world-readable.js';
import { percentile, writeResults } from './results.js';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '200' } } });
const RUNS = Number(opts.runs);
if (!Number.isInteger(RUNS) || RUNS < 10) {
  process.stderr.write('usage: node --import tsx bench/sandbox-layers.ts [--runs 200]   (at least 10)\n');
  process.exit(2);
}

const probe = probeSandbox();
if (probe.unavailable !== undefined) throw new Error(`the launcher cannot sandbox here: ${probe.unavailable}`);
const readList = [...SYSTEM_READ_PATHS, ...worldReadablePaths(SYSTEM_CONFIG_DIR)].flatMap((p) => ['--ro', p]);
const devices = SHELL_DEVICES.flatMap((p) => ['--dev', p]);
const variants: Record<string, string[]> = {
  'landlock only (before)': [...readList, '--dev', '/dev', '--caps', 'keep', '--lifetime', 'none'],
  '+ caps, devices': [...readList, ...devices, '--caps', 'drop', '--lifetime', 'none'],
  '+ subreaper': [...readList, ...devices, '--caps', 'drop', '--lifetime', 'subreaper'],
  ...(probe.pidns ? { '+ pidns': [...readList, ...devices, '--caps', 'drop', '--lifetime', 'pidns'] } : {}),
};

const samples = new Map<string, number[]>(Object.keys(variants).map((name) => [name, []]));
for (let run = 0; run < RUNS; run++) {
  for (const [name, flags] of Object.entries(variants)) {
    const started = process.hrtime.bigint();
    const result = spawnSync(SANDBOX_BINARY, [...flags, '--', '/bin/true']);
    if (result.status !== 0) throw new Error(`${name}: exit ${result.status}: ${result.stderr.toString()}`);
    samples.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
}

/** RSS (kB) of the launcher and, with a PID namespace, of its init, while `sleep` runs under them. */
async function supervisorRssKb(flags: string[]): Promise<number> {
  const child = spawn(SANDBOX_BINARY, [...flags, '--', '/bin/sleep', '5'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rss = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const init = flags.includes('pidns') ? children.reduce((sum, pid) => sum + rss(pid), 0) : 0;
  const total = rss(child.pid!) + init;
  child.kill('SIGKILL');
  return total;
}

const rows = [...samples].map(([name, ms]) => ({
  variant: name,
  p50Ms: Number(percentile(ms, 0.5).toFixed(2)),
  p95Ms: Number(percentile(ms, 0.95).toFixed(2)),
}));
const memory: Record<string, number> = {};
// Without a lifetime layer the launcher execs the program: there is no supervisor to measure.
for (const [name, flags] of Object.entries(variants)) if (/subreaper|pidns/.test(name)) memory[name] = await supervisorRssKb(flags);

const lines = [
  `sandbox launch of /bin/true, ${RUNS} runs per variant, interleaved (uid ${process.getuid?.()}, pidns ${probe.pidns ? 'available' : 'unavailable'})`,
  '',
  '| variant | p50 ms | p95 ms | supervisor RSS kB |',
  '|---|---|---|---|',
  ...rows.map((row) => `| ${row.variant} | ${row.p50Ms} | ${row.p95Ms} | ${memory[row.variant] ?? '–'} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
writeResults('sandbox-layers', new Date(), { runs: RUNS, rows, memoryKb: memory }, lines.join('\n'));
