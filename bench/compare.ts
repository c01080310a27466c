// Side-by-side cost of one turn with the REAL opencode and a stub model at fixed latency:
// the service in per-message mode, in server mode isolated (one sandboxed serve per session) and
// shared (one serve for all), and a bare `opencode serve` called directly (the floor: no manager).
// Each runs once per N and per gap between a session's PUT and its first message. Latency, peak RSS
// of the whole process tree, disk per session, servers started and spawns per message, and the
// targets of cheap isolation as ratios.
// Usage: npm run bench:compare -- [--sessions 1,5] [--followups 3] [--gaps 0,6000]
//        [--latency-per-token-ms 5] [--first-token-ms 100] [--opencode-env OPENCODE_X=1]
//        [--service-env OCPM_X=1] [--modes …] [--log-dir DIR]   (bench/README.md)
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStubLlm, type StubLlm } from '../test/fixtures/stub-llm/server.mjs';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { args, MODES, OPENCODE_BIN, out, stats, type Mode, type Scenario } from './compare-args.js';
import { directClient, serviceClient, serviceCounts, type Client } from './compare-clients.js';
import { killLeftovers, measureDisk, opencodeEnv, rssSampler, startDirect, startService, stopTree } from './compare-procs.js';
import { preparedPluginDir } from './compare-plugin.js';
import { derived, markdown } from './compare-report.js';
import { writeResults } from './results.js';

interface Rounds {
  /** Messages sent, answered or not. */
  sent: number;
  first: number[];
  followup: number[];
  warm: number[];
  notWarm: number;
  wrong: string[];
  failed: string[];
  /** Set when a whole round failed: the later rounds were not sent. */
  stoppedEarly: string | null;
}

/**
 * Each session: open it, then its first message `gapMs` after the open was sent (at once when 0);
 * the warm-up poll, where there is one, runs beside it. Then `followups` rounds of one message per
 * session, all at once. A failed turn is recorded and left out of the latencies: the run goes on, so
 * a flaky mode still gets numbers; a round in which every turn failed ends the scenario.
 */
async function runRounds(client: Client, ids: string[], gapMs: number, pollWarm: boolean): Promise<Rounds> {
  const r: Rounds = { sent: 0, first: [], followup: [], warm: [], notWarm: 0, wrong: [], failed: [], stoppedEarly: null };
  const turn = async (id: string, round: number): Promise<boolean> => {
    const started = Date.now();
    r.sent += 1;
    let text: string;
    try {
      text = await client.send(id, `round ${round} MARK:${id}-${round}`);
    } catch (error) {
      r.failed.push(`${id} round ${round} after ${Date.now() - started} ms: ${String(error).slice(0, 300)}`);
      return false;
    }
    (round === 1 ? r.first : r.followup).push(Date.now() - started);
    // The stub counts the user messages it was sent: a follow-up that lost its conversation shows.
    const expected = `stub answer user_messages=${round} marker=${id}-${round}`;
    if (text !== expected) r.wrong.push(`${id} round ${round}: ${text.slice(0, 120)}`);
    return true;
  };
  const opened: string[] = [];
  const firsts = await Promise.all(
    ids.map(async (id) => {
      const sentAt = Date.now();
      try {
        await client.open(id);
      } catch (error) {
        r.failed.push(`${id} open after ${Date.now() - sentAt} ms: ${String(error).slice(0, 300)}`);
        return false;
      }
      opened.push(id);
      const stop = new AbortController();
      const warm = pollWarm ? client.warm(id, sentAt, stop.signal).catch(() => null) : Promise.resolve(undefined);
      const wait = sentAt + gapMs - Date.now();
      if (wait > 0) await sleep(wait);
      const ok = await turn(id, 1);
      stop.abort();
      const warmMs = await warm;
      if (typeof warmMs === 'number') r.warm.push(warmMs);
      else if (warmMs === null) r.notWarm += 1;
      return ok;
    }),
  );
  if (!firsts.some(Boolean)) r.stoppedEarly = 'every first message (or open) failed: no follow-ups sent';
  for (let round = 2; round <= args.followups + 1 && r.stoppedEarly === null; round++) {
    const oks = await Promise.all(opened.map((id) => turn(id, round)));
    if (!oks.some(Boolean)) r.stoppedEarly = `every turn of round ${round} failed: later rounds not sent`;
  }
  return r;
}

function emptyScenario(mode: Mode, n: number, gapMs: number): Scenario {
  return {
    mode,
    sessions: n,
    gapMs,
    messages: 0,
    first: null,
    followup: null,
    warm: null,
    notWarmBeforeFirstAnswer: 0,
    peakRssMb: null,
    rootPeakRssMb: null,
    spawns: null,
    spawnsPer100: null,
    serverStarts: null,
    disk: null,
    wrongAnswers: [],
    failed: [],
    leftoverPids: [],
    error: null,
  };
}

/** One scenario in a fresh temp dir; never throws: what went wrong is in `error`, and nothing of it is left running. */
async function runScenario(mode: Mode, n: number, gapMs: number, stub: StubLlm, pluginDir: string | undefined): Promise<Scenario> {
  const result = emptyScenario(mode, n, gapMs);
  const tmp = mkdtempSync(path.join(os.tmpdir(), `ocpm-compare-${mode}-`));
  // Traversable by other uids, as a deployment's data dir and workspaces are: the sandbox's uid layer needs it.
  chmodSync(tmp, 0o755);
  const ids = Array.from({ length: n }, (_, i) => `s${i}`);
  const password = `bench-${process.pid}-${Date.now()}`;
  let child: ChildProcess | undefined;
  let rss: ReturnType<typeof rssSampler> | undefined;
  const stopRss = (): void => {
    if (rss === undefined) return;
    const peak = rss.stop();
    rss = undefined;
    result.peakRssMb = peak.tree;
    result.rootPeakRssMb = peak.root;
  };
  try {
    const env = await opencodeEnv(tmp, stub);
    let client: Client;
    let base: string;
    if (mode === 'direct') {
      ({ child, base } = await startDirect(env, password));
      client = directClient(base, password, path.join(tmp, 'ws'));
    } else {
      ({ child, base } = await startService(mode, n, gapMs, tmp, env, pluginDir));
      client = serviceClient(base, mode);
    }
    rss = rssSampler(child.pid!);
    // Without a gap the poll would only compete with the first message: PUT→warm is not measured then.
    const pollWarm = mode === 'direct' || (mode !== 'per-message' && gapMs > 0);
    const rounds = await runRounds(client, ids, gapMs, pollWarm);
    stopRss();
    Object.assign(result, {
      messages: rounds.sent,
      first: stats(rounds.first),
      followup: stats(rounds.followup),
      warm: stats(rounds.warm),
      notWarmBeforeFirstAnswer: rounds.notWarm,
      wrongAnswers: rounds.wrong,
      failed: rounds.failed,
      error: rounds.stoppedEarly,
    });
    // The bare serve was spawned once, by us; the service counts its own spawns and server starts.
    const counts = mode === 'direct' ? { spawns: 1, serverStarts: 1 } : await serviceCounts(base);
    result.spawns = counts.spawns;
    result.serverStarts = counts.serverStarts;
    result.spawnsPer100 = result.messages === 0 ? null : Math.round((counts.spawns / result.messages) * 1000) / 10;
    result.disk = await measureDisk(tmp, n); // before the stop: a service may clean up on its way out
    result.leftoverPids = await stopTree(child, tmp);
    child = undefined;
  } catch (error) {
    result.error = `${result.error === null ? '' : `${result.error}; then `}${error instanceof Error ? error.message : String(error)}`.slice(0, 2000);
  } finally {
    stopRss();
    // A failed scenario still leaves nothing behind (a service that never got ready may have started opencode).
    result.leftoverPids.push(...(child === undefined ? killLeftovers(tmp) : await stopTree(child, tmp)));
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch (error) {
      out(`  could not remove ${tmp}: ${String(error)}`);
    }
  }
  return result;
}

const summary = (r: Scenario): string =>
  `  first p50 ${r.first?.p50 ?? '–'} ms, follow-up p50 ${r.followup?.p50 ?? '–'} ms, warm p50 ${r.warm?.p50 ?? '–'} ms, peak RSS ${r.peakRssMb ?? '–'} MB ` +
  `(root ${r.rootPeakRssMb ?? '–'} MB), disk/session p50 ${r.disk?.p50Mb ?? '–'} MB, servers started ${r.serverStarts ?? '–'}, spawns ${r.spawns ?? '–'}, ` +
  `failed ${r.failed.length}${r.error === null ? '' : `, ERROR ${r.error.slice(0, 300)}`}`;

async function main(): Promise<void> {
  if (!existsSync(path.join(PROJECT_ROOT, 'dist', 'main.js')))
    throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench:compare does)');
  if (args.logDir !== undefined) mkdirSync(args.logDir, { recursive: true });
  if (Object.keys(args.opencodeEnv).length > 0) out(`opencode settings in every scenario: ${JSON.stringify(args.opencodeEnv)}`);
  if (Object.keys(args.serviceEnv).length > 0) out(`service settings in every scenario: ${JSON.stringify(args.serviceEnv)}`);
  const pluginDir = preparedPluginDir();
  const stub = await startStubLlm({ latencyPerTokenMs: args.latencyPerTokenMs, firstTokenMs: args.firstTokenMs });
  const results: Scenario[] = [];
  try {
    for (const n of args.sessions) {
      for (const gapMs of args.gaps) {
        for (const mode of MODES.filter((m) => args.modes.includes(m))) {
          out(`- N=${n} gap ${gapMs} ms ${mode}…`);
          const r = await runScenario(mode, n, gapMs, stub, pluginDir);
          out(summary(r));
          results.push(r);
        }
      }
    }
  } finally {
    await stub.close();
  }
  const d = derived(results);
  const table = markdown(results, d);
  const files = writeResults('compare', new Date(), { args, opencodeBin: OPENCODE_BIN, cpus: os.cpus().length, results, derived: d }, table);
  out();
  out(table);
  out(`results: ${files.json} and ${files.markdown}`);
  const bad = results.filter((r) => r.failed.length + r.wrongAnswers.length + r.leftoverPids.length > 0 || r.error !== null);
  for (const r of bad) {
    const problems = { error: r.error, failed: r.failed, wrong: r.wrongAnswers, leftoverPids: r.leftoverPids };
    out(`PROBLEM N=${r.sessions} gap ${r.gapMs} ms ${r.mode}: ${JSON.stringify(problems)}`);
  }
  process.exitCode = bad.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`compare failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
