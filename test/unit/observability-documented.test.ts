// The README's Metrics section lists every metric of the registry (ours and prom-client's defaults)
// with its type and label names, and nothing else; and every alert in grafana/alerts.yml has a
// Runbook section that its `runbook` annotation points to. A new metric or alert cannot ship
// undocumented, and a renamed one cannot leave a stale row.
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

/** The lines of README.md from `## title` to the next `## ` heading. */
function section(readme: string, title: string): string[] {
  const lines = readme.split(/\r?\n/);
  const start = lines.indexOf(`## ${title}`);
  assert.ok(start >= 0, `README.md has no "## ${title}" section`);
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
    assert.ok(!rows.has(name), `README.md lists ${name} twice`);
    const labelCell = (cells[3] ?? '').replace(/\([^)]*\)/g, '').trim();
    const labels =
      labelCell === ''
        ? []
        : labelCell.split(',').map((segment) => {
            const label = /^`([a-zA-Z_][a-zA-Z0-9_]*)`/.exec(segment.trim())?.[1];
            assert.ok(label !== undefined, `README.md row ${name}: cannot read a label name in "${segment.trim()}"`);
            return label;
          });
    rows.set(name, { type: (cells[2] ?? '').split(' ')[0] as string, labels: labels.sort() });
  }
  return rows;
}

describe('README.md documents the observability surface', () => {
  let readme = '';
  before(async () => {
    readme = await readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  });

  it('the Metrics section lists every registry metric with its type and labels, and no other', async () => {
    const rows = metricRows(section(readme, 'Metrics'));
    const registry = createMetrics().registry;
    const actual = new Map<string, Row>();
    for (const { name, type } of await registry.getMetricsAsJSON()) {
      // prom-client keeps the declared label names on the metric; its typings do not expose them.
      const labels = [...((registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
      actual.set(name, { type: String(type), labels });
    }
    const undocumented = [...actual.keys()].filter((name) => !rows.has(name));
    const stale = [...rows.keys()].filter((name) => !actual.has(name));
    assert.deepEqual(undocumented, [], 'metrics missing from the README Metrics section');
    assert.deepEqual(stale, [], 'README rows for metrics the registry does not have');
    for (const [name, row] of actual) assert.deepEqual(rows.get(name), row, `README row of ${name} (type, labels)`);
  });

  it('every alert has a Runbook section, and its runbook annotation points there', async () => {
    const runbook = section(readme, 'Runbook');
    const rules = parseYaml(await readFile(path.join(PROJECT_ROOT, 'grafana', 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; annotations?: Record<string, string> }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    assert.ok(alerts.length >= 9);
    for (const { alert, annotations } of alerts) {
      const heading = runbook.indexOf(`### ${alert}`);
      assert.ok(heading >= 0, `README.md Runbook has no "### ${alert}"`);
      assert.ok((runbook[heading + 2] ?? '').trim() !== '', `README.md Runbook "### ${alert}" is empty`);
      assert.equal(annotations?.runbook, `README.md#${alert.toLowerCase()}`, `${alert}: runbook annotation`);
      for (const key of ['summary', 'description']) assert.ok((annotations?.[key] ?? '') !== '', `${alert} has no ${key}`);
    }
  });
});
