// Dashboard panels the live check (dashboard-queries.test.ts) cannot see with a finite value, and the
// known series on which promtool.test.ts evaluates them instead. A session handoff is timed by the
// replica that drains: the scraped service only receives one (it must stay up to be scraped), so
// its handoff histogram stays empty and the quantiles are NaN there.

export const JOB = 'opencode-process-manager';

export interface SyntheticSeries {
  readonly series: string;
  readonly values: string;
}

export const series = (name: string, labels: Record<string, string>, values: string): SyntheticSeries => ({
  series: `${name}{${Object.entries({ job: JOB, instance: 'a:3000', ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`,
  values,
});

// Per minute: 10 sessions handed off, each in 1 s to 2.5 s (p50 = 1.75 s, p95 = 2.425 s by linear
// interpolation in that bucket).
export const HANDOFF_SERIES: SyntheticSeries[] = [
  ...['0.05', '0.1', '0.25', '0.5', '1'].map((le) => series('opencode_manager_session_handoff_seconds_bucket', { le }, '0x15')),
  ...['2.5', '5', '10', '30', '60', '120', '+Inf'].map((le) => series('opencode_manager_session_handoff_seconds_bucket', { le }, '0+10x15')),
  series('opencode_manager_session_handoff_seconds_sum', {}, '0+17.5x15'),
  series('opencode_manager_session_handoff_seconds_count', {}, '0+10x15'),
];

export const HANDOFF_PANELS: Record<string, number> = {
  'panel "Handoff time per session p50 / p95" A': 1.75,
  'panel "Handoff time per session p50 / p95" B': 2.425,
};

/** The queries the live check leaves to promtool: they must still parse and find their series live. */
export const NOT_LIVE_PANELS: ReadonlySet<string> = new Set(Object.keys(HANDOFF_PANELS));
