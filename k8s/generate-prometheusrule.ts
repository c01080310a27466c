// Writes k8s/base/prometheusrule.yaml from grafana/alerts.yml (Prometheus rule format), so the
// alerts Prometheus loads in Kubernetes are the very rules the repository tests: `npm run k8s:rules`.
// test/deploy/prometheusrule.test.ts fails when the committed file differs from this output.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ALERTS_FILE = path.join(ROOT, 'grafana', 'alerts.yml');
export const RULE_FILE = path.join(ROOT, 'k8s', 'base', 'prometheusrule.yaml');

const HEADER = [
  '# GENERATED from grafana/alerts.yml by `npm run k8s:rules`: edit the rules there, then re-run.',
  '# prometheus-operator loads it; the namespace and the labels its ruleSelector wants are set by',
  '# kustomize (docs/deployment.md).',
].join('\n');

/** The PrometheusRule document for the rule file's text; throws when it has no rule groups. */
export function renderPrometheusRule(alertsYaml: string): string {
  const parsed: unknown = parse(alertsYaml);
  const groups = (parsed as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new Error(`Expected grafana/alerts.yml to hold a non-empty "groups:" list, got ${JSON.stringify(parsed)?.slice(0, 200)}`);
  }
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'opencode-process-manager' },
    spec: { groups: groups as unknown[] },
  };
  return `${HEADER}\n${stringify(rule, { lineWidth: 0 })}`;
}

async function main(): Promise<void> {
  await writeFile(RULE_FILE, renderPrometheusRule(await readFile(ALERTS_FILE, 'utf8')));
  process.stdout.write(`wrote ${path.relative(ROOT, RULE_FILE)} from ${path.relative(ROOT, ALERTS_FILE)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
