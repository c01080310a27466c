// A throwaway Prometheus (the Debian `prometheus` package) for one test file: free loopback port,
// temp data dir, 1 s scrapes of the given targets, optional rule files; stop() ends it and removes
// the dir. Missing binaries fail loudly: CI installs them (.ci/run), and a skipped check proves nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findFreePort } from '../../src/util/free-port.js';
import { stopChild } from './child-process.js';
import { makeTempDir } from './fixtures.js';
import { waitFor } from './wait-for.js';

export interface PromSeries {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as Prometheus prints it: may be "NaN", "+Inf"]. */
  readonly values: Array<[number, string]>;
}

export interface Prometheus {
  readonly url: string;
  /** Evaluates at `time` (unix seconds, default now); a PromQL error rejects with Prometheus's message. */
  instant(expr: string, time?: number): Promise<PromSeries[]>;
  /** Evaluates over [start, end] with a step in seconds, as a Grafana time series panel does. */
  range(expr: string, start: number, end: number, step: number): Promise<PromSeries[]>;
  stop(): Promise<void>;
}

/** Fails with the install command when a binary is missing. */
export function requireBinary(name: 'prometheus' | 'promtool'): void {
  const found = spawnSync(name, ['--version'], { stdio: 'ignore' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(`${name} is not installed; install it with: apt-get install -y --no-install-recommends prometheus (.ci/run does)`);
  }
}

export async function startPrometheus(options: { job: string; targets: string[]; ruleFiles?: string[] }): Promise<Prometheus> {
  requireBinary('prometheus');
  const temp = await makeTempDir('prometheus');
  const config = path.join(temp.dir, 'prometheus.yml');
  // JSON is valid YAML: no YAML writer needed.
  await writeFile(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
    }),
  );
  const port = await findFreePort();
  const stderr: string[] = [];
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(temp.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    await stopChild(child, 5000);
    await temp.remove();
  };

  const api = async (endpoint: string, form: Record<string, string>): Promise<PromSeries[]> => {
    const response = await fetch(`${url}/api/v1/${endpoint}`, { method: 'POST', body: new URLSearchParams(form) });
    const body = (await response.json()) as { status: string; error?: string; errorType?: string; data?: { resultType: string; result: any[] } };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`Prometheus rejected ${form.query}: ${body.errorType}: ${body.error}`);
    const { resultType, result } = body.data;
    if (resultType === 'matrix') return result as PromSeries[];
    if (resultType === 'vector')
      return result.map((r: { metric: Record<string, string>; value: [number, string] }) => ({ metric: r.metric, values: [r.value] }));
    return [{ metric: {}, values: [result as unknown as [number, string]] }];
  };

  try {
    await waitFor('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr.join('')}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    instant: (expr, time = Date.now() / 1000) => api('query', { query: expr, time: String(time) }),
    range: (expr, start, end, step) => api('query_range', { query: expr, start: String(start), end: String(end), step: String(step) }),
    stop,
  };
}
