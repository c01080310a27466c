// k8s/base/prometheusrule.yaml is generated from grafana/alerts.yml: the committed file must be
// exactly what `npm run k8s:rules` writes, so the alerts in Kubernetes are the tested ones.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ALERTS_FILE, RULE_FILE, renderPrometheusRule } from '../../k8s/generate-prometheusrule.js';

describe('PrometheusRule', () => {
  it('is up to date with grafana/alerts.yml (run `npm run k8s:rules`)', async () => {
    const expected = renderPrometheusRule(await readFile(ALERTS_FILE, 'utf8'));
    assert.equal(await readFile(RULE_FILE, 'utf8'), expected, 'k8s/base/prometheusrule.yaml is stale: run `npm run k8s:rules`');
  });

  it('carries every rule group of the rules file unchanged', async () => {
    const alerts = parse(await readFile(ALERTS_FILE, 'utf8')) as { groups: unknown[] };
    const rule = parse(await readFile(RULE_FILE, 'utf8')) as { spec: { groups: unknown[] } };
    assert.deepEqual(rule.spec.groups, alerts.groups);
  });

  it('refuses a rules file without groups', () => {
    assert.throws(() => renderPrometheusRule('rules: []\n'), /non-empty "groups:" list/);
  });
});
