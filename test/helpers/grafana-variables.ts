// Reads the queries out of a Grafana dashboard and expands Grafana's variables in them the way
// Grafana's Prometheus data source does, so the result can be sent to Prometheus as is. Anything left
// unexpanded is an error: Prometheus would reject it, or worse, match nothing.

export interface PanelQuery {
  /** Where it comes from, for messages: panel title and refId. */
  readonly where: string;
  readonly expr: string;
}

export interface QueryVariable {
  readonly name: string;
  readonly query: string;
  readonly multi: boolean;
  readonly includeAll: boolean;
  readonly allValue: string | undefined;
}

/** A chosen value: one or more values, or Grafana's "All". */
export type Selection = { readonly values: readonly string[] } | { readonly all: true };

export interface Builtins {
  readonly rateInterval: string;
  readonly interval: string;
  readonly rangeSeconds: number;
}

interface RawPanel {
  title?: string;
  type?: string;
  panels?: RawPanel[];
  targets?: Array<{ refId?: string; expr?: unknown }>;
}

export function panelsOf(dashboard: { panels?: RawPanel[] }): RawPanel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== 'row');
}

export function panelQueries(dashboard: { panels?: RawPanel[] }): PanelQuery[] {
  return panelsOf(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      if (typeof target.expr !== 'string' || target.expr.trim() === '') throw new Error(`panel "${panel.title}" ${target.refId}: no expr`);
      return { where: `panel "${panel.title}" ${target.refId}`, expr: target.expr };
    }),
  );
}

export function queryVariables(dashboard: { templating?: { list?: Array<Record<string, any>> } }): QueryVariable[] {
  return (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => ({
      name: String(v.name),
      query: typeof v.query === 'string' ? v.query : String(v.query?.query),
      multi: v.multi === true,
      includeAll: v.includeAll === true,
      allValue: typeof v.allValue === 'string' ? v.allValue : undefined,
    }));
}

/** `label_values(selector, label)` or `label_values(label)`: the only variable query form used here. */
export function parseLabelValues(query: string): { selector: string | undefined; label: string } {
  const match = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (match === null) throw new Error(`unsupported variable query (expected label_values(...)): ${query}`);
  return { selector: match[1], label: match[2] as string };
}

// Grafana's Prometheus data source (interpolateQueryExpr): a single-value variable is only
// quote-escaped; a multi-value or include-All one is regex-escaped and joined as (a|b).
const regularEscape = (value: string): string => value.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
const specialRegexEscape = (value: string): string => value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');

function formatValue(variable: QueryVariable, selection: Selection, format: string | undefined): string {
  if ('all' in selection) {
    if (variable.allValue === undefined) throw new Error(`$${variable.name}: "All" without allValue is not supported by this expander`);
    return variable.allValue;
  }
  const values = selection.values;
  if (values.length === 0) throw new Error(`$${variable.name} has no value`);
  if (format === 'raw') return values.join(',');
  if (format === 'regex') {
    const escaped = values.map((v) => v.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&'));
    return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
  }
  if (format !== undefined) throw new Error(`$${variable.name}: format ${format} is not supported by this expander`);
  if (!variable.multi && !variable.includeAll) return regularEscape(values[0] as string);
  const escaped = values.map(specialRegexEscape);
  return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
}

/** Expands built-ins and the given variables in every Grafana syntax; throws on anything left over. */
export function expand(expr: string, variables: ReadonlyMap<string, { variable: QueryVariable; selection: Selection }>, builtins: Builtins): string {
  const builtin: Record<string, string> = {
    __rate_interval: builtins.rateInterval,
    __interval: builtins.interval,
    __interval_ms: String(parseDurationMs(builtins.interval)),
    __range: `${builtins.rangeSeconds}s`,
    __range_s: String(builtins.rangeSeconds),
    __range_ms: String(builtins.rangeSeconds * 1000),
  };
  const replace = (name: string, format: string | undefined): string => {
    const fixed = builtin[name];
    if (fixed !== undefined && format === undefined) return fixed;
    const bound = variables.get(name);
    if (bound === undefined) throw new Error(`unknown variable $${name}${format === undefined ? '' : `:${format}`} in: ${expr}`);
    return formatValue(bound.variable, bound.selection, format);
  };
  // One pass over all syntaxes, so a `$` inside an expanded (escaped) value is never read again.
  const syntax = /\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g;
  const leftover = expr.replace(syntax, '');
  if (/\$|\[\[/.test(leftover)) throw new Error(`unexpanded variable syntax left in: ${expr}`);
  const out = expr.replace(syntax, (_m, a?: string, af?: string, b?: string, bf?: string, c?: string) => replace((a ?? b ?? c) as string, af ?? bf));
  return out;
}

function parseDurationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (match === null) throw new Error(`unsupported duration ${duration}`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
}
