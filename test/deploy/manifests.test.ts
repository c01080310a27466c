// k8s/base and k8s/overlays/scaled: rendered with `kubectl kustomize` (or, when kubectl is not
// installed, the built-in subset, said loudly), then every document is checked offline: apiVersion
// allow-list, OpenAPI schemas, unknown fields, yamllint, and cross-checks with the Dockerfile, the
// config module and the running app (probe paths, the metric KEDA scales on).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { crossCheckProblems, probePaths, workload } from './cross-checks.js';
import { disallowedTypes, docName, schemaErrors, typeKey, unknownFieldErrors } from './k8s-schema.js';
import type { Doc } from './kustomize-subset.js';
import { renderKustomization } from './kustomize-subset.js';
import { kubectlAvailable, render, type Renderer } from './render.js';

const KUSTOMIZATIONS = ['k8s/base', 'k8s/overlays/scaled'];
const RENDERER: Renderer = kubectlAvailable() ? 'kubectl' : 'builtin';
if (RENDERER === 'builtin') {
  process.stderr.write(
    '\n*** kubectl is NOT installed: k8s/ is rendered with the built-in kustomize subset (test/deploy/kustomize-subset.ts), not kubectl kustomize ***\n\n',
  );
}
const rendered = new Map(KUSTOMIZATIONS.map((dir) => [dir, render(path.join(PROJECT_ROOT, dir), RENDERER)]));
const docsOf = (dir: string): Doc[] => structuredClone(rendered.get(dir) ?? []);

describe('k8s manifests', () => {
  for (const dir of KUSTOMIZATIONS) {
    describe(dir, () => {
      it(`renders with ${RENDERER === 'kubectl' ? 'kubectl kustomize' : 'the built-in kustomize subset (kubectl not installed)'}`, (t) => {
        t.diagnostic(`renderer: ${RENDERER}; documents: ${docsOf(dir).map(docName).join(', ')}`);
        assert.ok(docsOf(dir).length > 0);
      });

      it('uses only allow-listed apiVersions', () => {
        assert.deepEqual(disallowedTypes(docsOf(dir)), []);
      });

      it('validates against the Kubernetes and CRD OpenAPI schemas', async () => {
        assert.deepEqual(await schemaErrors(docsOf(dir)), []);
      });

      it('has no field the schemas do not declare', () => {
        assert.deepEqual(unknownFieldErrors(docsOf(dir), PROJECT_ROOT), []);
      });

      it('passes the cross-checks with the Dockerfile and the config module', () => {
        assert.deepEqual(crossCheckProblems(docsOf(dir)), []);
      });
    });
  }

  it('the scaled overlay runs several replicas behind a session-hashing Ingress with a KEDA scaler', () => {
    const docs = docsOf('k8s/overlays/scaled');
    assert.ok(Number(workload(docs).doc.spec.replicas) > 1);
    const ingress = docs.find((d) => d.kind === 'Ingress');
    assert.equal(ingress?.metadata.annotations['nginx.ingress.kubernetes.io/upstream-hash-by'], '$http_x_session_id');
    const trigger = docs.find((d) => d.kind === 'ScaledObject')?.spec.triggers[0];
    assert.equal(trigger?.type, 'prometheus');
    assert.match(String(trigger?.metadata.query), /opencode_manager_pending_requests/);
  });

  it('the built-in renderer gives what kubectl kustomize gives', { skip: RENDERER !== 'kubectl' && 'kubectl is not installed' }, () => {
    const byName = (docs: Doc[]): Map<string, Doc> => new Map(docs.map((d) => [`${typeKey(d)}/${String(d.metadata.name)}`, d]));
    for (const dir of KUSTOMIZATIONS) {
      assert.deepEqual(byName(renderKustomization(path.join(PROJECT_ROOT, dir))), byName(docsOf(dir)), dir);
    }
  });

  describe('the checks catch broken manifests', () => {
    const broken = (mutate: (docs: Doc[]) => void): Doc[] => {
      const docs = docsOf('k8s/base');
      mutate(docs);
      return docs;
    };
    const container = (docs: Doc[]): Doc => workload(docs).container;

    it('a removed apiVersion', () => {
      const docs = broken((d) => {
        (d.find((x) => x.kind === 'PodDisruptionBudget') as Doc).apiVersion = 'policy/v1beta1';
      });
      assert.match(disallowedTypes(docs).join('\n'), /policy\/v1beta1/);
    });

    it('a wrong type', async () => {
      const docs = broken((d) => {
        container(d).ports[0].containerPort = 'http';
      });
      assert.match((await schemaErrors(docs)).join('\n'), /containerPort must be integer/);
    });

    it('a misspelt field', () => {
      const docs = broken((d) => {
        container(d).resourcez = container(d).resources;
      });
      assert.match(unknownFieldErrors(docs, PROJECT_ROOT).join('\n'), /'"resourcez"' does not exist/);
    });

    it('an unknown variable in the ConfigMap, a port mismatch, a short grace period', () => {
      const docs = broken((d) => {
        (d.find((x) => x.kind === 'ConfigMap') as Doc).data.OCPM_DRAIN_TIMEOUT = '1';
        container(d).ports[0].containerPort = 8080;
        workload(d).pod.spec.terminationGracePeriodSeconds = 30;
      });
      const problems = crossCheckProblems(docs).join('\n');
      assert.match(problems, /OCPM_DRAIN_TIMEOUT is not a variable/);
      assert.match(problems, /containerPort 8080 is not the app default 3000/);
      assert.match(problems, /terminationGracePeriodSeconds 30 s must exceed/);
    });
  });

  it('passes yamllint', { skip: spawnSync('yamllint', ['--version']).error !== undefined && 'yamllint is not installed (apt-get install yamllint)' }, () => {
    execFileSync('yamllint', ['--strict', '-c', path.join(PROJECT_ROOT, 'k8s', '.yamllint.yaml'), '-f', 'parsable', path.join(PROJECT_ROOT, 'k8s')], {
      encoding: 'utf8',
    });
  });

  describe('against the running app', () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService();
    });
    after(async () => {
      await svc.close();
    });

    it('every probe path answers 200', async () => {
      for (const dir of KUSTOMIZATIONS) {
        for (const probe of probePaths(docsOf(dir))) {
          const response = await fetch(`${svc.url}${probe}`);
          assert.equal(response.status, 200, `${dir}: ${probe}`);
        }
      }
    });

    it('the metric KEDA scales on is exported', async () => {
      const query = String(docsOf('k8s/overlays/scaled').find((d) => d.kind === 'ScaledObject')?.spec.triggers[0].metadata.query);
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      for (const metric of query.match(/opencode_manager_[a-z_]+/g) ?? []) {
        assert.match(text, new RegExp(`^# TYPE ${metric} `, 'm'), `${metric} is not in /metrics`);
      }
    });
  });
});
