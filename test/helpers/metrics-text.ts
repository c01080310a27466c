// Reads samples from the Prometheus text format of /metrics (tests and benchmarks).

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/;

/** Every sample of the metric `name` (exactly that name: `x_count` is not `x`), with its labels. */
export function series(text: string, name: string): Series[] {
  const found: Series[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null || match[1] !== name) continue;
    const labels = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]));
    found.push({ labels, value: Number(match[4]) });
  }
  return found;
}

/** The first sample whose labels include `labels`; 0 when the series is absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const hit = series(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}

/** The samples of `name` summed by the value of one label (e.g. commands_total by outcome, over every mode). */
export function sumBy(text: string, name: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const s of series(text, name)) {
    const key = s.labels[label] ?? '';
    sums[key] = (sums[key] ?? 0) + s.value;
  }
  return sums;
}
