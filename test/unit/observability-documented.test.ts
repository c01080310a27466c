// docs/metrics.md's Metrics section lists every metric of the registry (ours and prom-client's
// defaults) with its type and label names, and nothing else; and every alert in grafana/alerts.yml
// has a section in the Runbook of docs/operations.md, which its `runbook` annotation points to. A new
// metric or alert cannot ship undocumented, and a renamed one cannot leave a stale row.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

interface Row {
  readonly type: string;
  readonly labels: string[];
}

const METRICS_DOC = 'docs/metrics.md';
const OPERATIONS_DOC = 'docs/operations.md';

/** The lines of a document from `## title` to the next `## ` heading. */
function section(text: string, title: string, file: string): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.indexOf(`## ${title}`);
  assert.ok(start >= 0, `${file} has no "## ${title}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** `| \`name\` | type | labels | meaning |` rows; label cells are "`a` = `x`\|`y`, `b` (note)". */
function metricRows(lines: string[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of lines) {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const name = /^`([a-zA-Z_:][a-zA-Z0-9_:]*)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined) continue;
    assert.ok(!rows.has(name), `${METRICS_DOC} lists ${name} twice`);
    const labelCell = (cells[3] ?? '').replace(/\([^)]*\)/g, '').trim();
    const labels =
      labelCell === ''
        ? []
        : labelCell.split(',').map((segment) => {
            const label = /^`([a-zA-Z_][a-zA-Z0-9_]*)`/.exec(segment.trim())?.[1];
            assert.ok(label !== undefined, `${METRICS_DOC} row ${name}: cannot read a label name in "${segment.trim()}"`);
            return label;
          });
    rows.set(name, { type: (cells[2] ?? '').split(' ')[0] as string, labels: labels.sort() });
  }
  return rows;
}

describe('the docs document the observability surface', () => {
  let metricsDoc = '';
  let operationsDoc = '';
  before(async () => {
    metricsDoc = await readFile(path.join(PROJECT_ROOT, METRICS_DOC), 'utf8');
    operationsDoc = await readFile(path.join(PROJECT_ROOT, OPERATIONS_DOC), 'utf8');
  });

  it('the Metrics section lists every registry metric with its type and labels, and no other', async () => {
    const rows = metricRows(section(metricsDoc, 'Metrics', METRICS_DOC));
    const registry = createMetrics().registry;
    const actual = new Map<string, Row>();
    for (const { name, type } of await registry.getMetricsAsJSON()) {
      // prom-client keeps the declared label names on the metric; its typings do not expose them.
      const labels = [...((registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
      actual.set(name, { type: String(type), labels });
    }
    const undocumented = [...actual.keys()].filter((name) => !rows.has(name));
    const stale = [...rows.keys()].filter((name) => !actual.has(name));
    assert.deepEqual(undocumented, [], `metrics missing from the Metrics section of ${METRICS_DOC}`);
    assert.deepEqual(stale, [], `${METRICS_DOC} rows for metrics the registry does not have`);
    for (const [name, row] of actual) assert.deepEqual(rows.get(name), row, `${METRICS_DOC} row of ${name} (type, labels)`);
  });

  it('every alert has a Runbook section, and its runbook annotation points there', async () => {
    const runbook = section(operationsDoc, 'Runbook', OPERATIONS_DOC);
    const rules = parseYaml(await readFile(path.join(PROJECT_ROOT, 'grafana', 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; annotations?: Record<string, string> }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    assert.ok(alerts.length >= 9);
    for (const { alert, annotations } of alerts) {
      const heading = runbook.indexOf(`### ${alert}`);
      assert.ok(heading >= 0, `${OPERATIONS_DOC} Runbook has no "### ${alert}"`);
      assert.ok((runbook[heading + 2] ?? '').trim() !== '', `${OPERATIONS_DOC} Runbook "### ${alert}" is empty`);
      assert.equal(annotations?.runbook, `${OPERATIONS_DOC}#${alert.toLowerCase()}`, `${alert}: runbook annotation`);
      for (const key of ['summary', 'description']) assert.ok((annotations?.[key] ?? '') !== '', `${alert} has no ${key}`);
    }
  });
});
