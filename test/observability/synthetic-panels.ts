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

// The Model gateway row. The fake opencode never calls a model, so the service dashboard-queries.test.ts
// scrapes has none of its series (but the zero-initialised refusals): gateway-panels.test.ts checks its
// queries live against a service whose gateway carries the stub model, with the virtual key the service
// gave the session's opencode, and promtool.test.ts checks their values on the series below.
export const GATEWAY_PANEL_TITLES: readonly string[] = [
  'Model calls per second by outcome',
  'Upstream error ratio by provider',
  'Model time to first byte p50 / p95 by provider',
  'Model calls refused per second by reason',
];

/** Whether a panel query (its `where`) is one of the Model gateway row. */
export const isGatewayQuery = (where: string): boolean => GATEWAY_PANEL_TITLES.some((title) => where.startsWith(`panel "${title}" `));

/** The metrics only model calls through the gateway create (the alert rules' are checked by gateway-panels.test.ts). */
export const GATEWAY_METRIC = /^opencode_manager_model_/;

// Per minute, provider anthropic: 45 calls succeed, 12 are answered an error (529), 3 find no
// provider (connect), 6 are refused for budget and 1 has no valid key (those 7 never went upstream,
// so they are not in the ratio): 15 errors in 60 calls that went upstream, 25%. Provider openai: 20
// calls, no error (0, not missing). The 57 anthropic answers a minute began 0.5 s to 1 s after their
// call (p50 = 0.75 s, p95 = 0.975 s by linear interpolation); the 60 calls ended after 5 s to 10 s
// (phase total, which the panel must leave out).
const anthropic = { provider: 'anthropic', model: 'anthropic/claude-sonnet-4-5' };
export const GATEWAY_SERIES: SyntheticSeries[] = [
  series('opencode_manager_model_calls_total', { ...anthropic, outcome: 'success' }, '0+45x15'),
  series('opencode_manager_model_calls_total', { ...anthropic, outcome: 'upstream_error' }, '0+12x15'),
  series('opencode_manager_model_calls_total', { ...anthropic, outcome: 'failed' }, '0+3x15'),
  series('opencode_manager_model_calls_total', { ...anthropic, outcome: 'refused_budget' }, '0+6x15'),
  series('opencode_manager_model_calls_total', { provider: 'anthropic', model: 'other', outcome: 'unauthorized' }, '0+1x15'),
  series('opencode_manager_model_calls_total', { provider: 'openai', model: 'openai/gpt-5', outcome: 'success' }, '0+20x15'),
  series('opencode_manager_model_upstream_errors_total', { provider: 'anthropic', status: '529' }, '0+12x15'),
  series('opencode_manager_model_upstream_errors_total', { provider: 'anthropic', status: 'connect' }, '0+3x15'),
  series('opencode_manager_model_reservations_refused_total', { reason: 'budget' }, '0+6x15'),
  series('opencode_manager_model_reservations_refused_total', { reason: 'rate' }, '0x15'),
  ...['0.05', '0.1', '0.25', '0.5'].map((le) =>
    series('opencode_manager_model_call_seconds_bucket', { provider: 'anthropic', phase: 'first_byte', le }, '0x15'),
  ),
  ...['1', '2', '5', '10', '30', '60', '120', '300', '+Inf'].map((le) =>
    series('opencode_manager_model_call_seconds_bucket', { provider: 'anthropic', phase: 'first_byte', le }, '0+57x15'),
  ),
  ...['0.05', '0.1', '0.25', '0.5', '1', '2', '5'].map((le) =>
    series('opencode_manager_model_call_seconds_bucket', { provider: 'anthropic', phase: 'total', le }, '0x15'),
  ),
  ...['10', '30', '60', '120', '300', '+Inf'].map((le) =>
    series('opencode_manager_model_call_seconds_bucket', { provider: 'anthropic', phase: 'total', le }, '0+60x15'),
  ),
];

/** What the Model gateway panels must show on those series: [labels, value] per series of the query. */
export const GATEWAY_PANELS: Record<string, ReadonlyArray<readonly [string, number]>> = {
  'panel "Upstream error ratio by provider" A': [
    ['{provider="anthropic"}', 0.25],
    ['{provider="openai"}', 0],
  ],
  'panel "Model time to first byte p50 / p95 by provider" A': [['{provider="anthropic"}', 0.75]],
  'panel "Model time to first byte p50 / p95 by provider" B': [['{provider="anthropic"}', 0.975]],
  'panel "Model calls refused per second by reason" A': [
    ['{reason="budget"}', 0.1],
    ['{reason="rate"}', 0],
  ],
};
