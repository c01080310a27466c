// k8s/base and k8s/overlays/scaled: rendered with `kubectl kustomize` (or, when kubectl is not
// installed, the built-in subset, said loudly), then every document is checked offline: apiVersion
// allow-list, OpenAPI schemas, unknown fields, yamllint, and cross-checks with the Dockerfile, the
// config module and the running app (probe paths, the metric KEDA scales on).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config/config.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { crossCheckProblems, probePaths, workload } from './cross-checks.js';
import { backendTrafficPolicyErrors } from './envoy-gateway.js';
import { disallowedTypes, docName, schemaErrors, typeKey, unknownFieldErrors } from './k8s-schema.js';
import type { Doc } from './kustomize-subset.js';
import { renderKustomization } from './kustomize-subset.js';
import { kubectlAvailable, render, renderOverlay, type Renderer } from './render.js';

const KUSTOMIZATIONS = ['k8s/base', 'k8s/overlays/scaled', 'k8s/overlays/session-uids'];
const RENDERER: Renderer = kubectlAvailable() ? 'kubectl' : 'builtin';
if (RENDERER === 'builtin') {
  process.stderr.write(
    '\n*** kubectl is NOT installed: k8s/ is rendered with the built-in kustomize subset (test/deploy/kustomize-subset.ts), not kubectl kustomize ***\n\n',
  );
}
const rendered = new Map(KUSTOMIZATIONS.map((dir) => [dir, render(path.join(PROJECT_ROOT, dir), RENDERER)]));
const docsOf = (dir: string): Doc[] => structuredClone(rendered.get(dir) ?? []);
const fallbackOf = (name: string): string | undefined => CONFIG_VARIABLES.find((v) => v.name === name)?.fallback;

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

  describe('the scaled overlay', () => {
    const docs = (): Doc[] => docsOf('k8s/overlays/scaled');
    const one = (kind: string): Doc => {
      const found = docs().filter((d) => d.kind === kind);
      assert.equal(found.length, 1, `one ${kind}`);
      return found[0] as Doc;
    };
    const env = (name: string): Doc | undefined => ((workload(docs()).container.env ?? []) as Doc[]).find((e) => e.name === name);
    const configValue = (name: string): string | undefined =>
      docs()
        .filter((d) => d.kind === 'ConfigMap')
        .map((c) => (c.data as Record<string, string> | undefined)?.[name])
        .find((v) => v !== undefined);

    it('runs several replicas, scaled by KEDA on the queued messages', () => {
      assert.ok(Number(workload(docs()).doc.spec.replicas) > 1);
      const trigger = one('ScaledObject').spec.triggers[0];
      assert.equal(trigger?.type, 'prometheus');
      assert.match(String(trigger?.metadata.query), /opencode_manager_pending_requests/);
    });

    it('routes /api through an Envoy Gateway to the Service, with timeouts above a turn', () => {
      const gateway = one('Gateway');
      assert.equal(gateway.spec.gatewayClassName, 'eg');
      const route = one('HTTPRoute');
      assert.deepEqual(
        (route.spec.parentRefs as Doc[]).map((p) => p.name),
        [gateway.metadata.name],
      );
      const [rule, ...others] = route.spec.rules as Doc[];
      assert.equal(others.length, 0);
      assert.deepEqual(rule?.matches, [{ path: { type: 'PathPrefix', value: '/api' } }]);
      const service = docs().find((d) => d.kind === 'Service' && d.metadata.name === 'opencode-process-manager') as Doc;
      const http = (service.spec.ports as Doc[]).find((p) => p.name === 'http') as Doc;
      assert.deepEqual(
        (rule?.backendRefs as Doc[]).map((b) => [b.kind, b.name, b.port]),
        [['Service', service.metadata.name, http.port]],
      );
      // Gateway API durations: a number and a unit (h, m, s, ms), no fractions.
      const seconds = (d: string): number => {
        const m = /^(\d+)(h|m|s|ms)$/.exec(d);
        assert.ok(m, `${d} is not a single-unit Gateway API duration`);
        return Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms'];
      };
      const turnTimeoutS = Number(configValue('OCPM_TURN_TIMEOUT_MS') ?? fallbackOf('OCPM_TURN_TIMEOUT_MS')) / 1000;
      assert.ok(seconds(String(rule?.timeouts?.request)) > turnTimeoutS, `timeouts.request must exceed a turn (${turnTimeoutS} s)`);
    });

    it('hashes X-Session-Id to a pod with a BackendTrafficPolicy on the route', () => {
      const policy = one('BackendTrafficPolicy');
      assert.deepEqual(backendTrafficPolicyErrors(policy), []);
      assert.deepEqual(policy.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: one('HTTPRoute').metadata.name }]);
      assert.equal(policy.metadata.namespace, one('HTTPRoute').metadata.namespace);
      assert.deepEqual(policy.spec.loadBalancer, { type: 'ConsistentHash', consistentHash: { type: 'Header', header: { name: 'X-Session-Id' } } });
    });

    it('admits the Envoy Gateway data plane and the replicas themselves, and nothing of ingress-nginx remains', () => {
      const rules = one('NetworkPolicy').spec.ingress as Doc[];
      const from = rules.flatMap((r) => r.from as Doc[]);
      assert.ok(from.some((f) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'envoy-gateway-system'));
      const podLabels = workload(docs()).pod.metadata.labels as Record<string, string>;
      const peers = rules.find((r) =>
        (r.from as Doc[]).some(
          (f) =>
            f.namespaceSelector === undefined &&
            Object.entries((f.podSelector?.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => podLabels[k] === v) &&
            Object.keys(f.podSelector?.matchLabels ?? {}).length > 0,
        ),
      );
      assert.ok(peers, 'a rule admits the StatefulSet pods');
      assert.deepEqual(peers.ports, [{ port: 'http', protocol: 'TCP' }]);
      assert.equal(docs().filter((d) => d.kind === 'Ingress').length, 0);
      assert.doesNotMatch(JSON.stringify(docs()), /nginx/i);
      for (const dir of KUSTOMIZATIONS) {
        for (const file of readdirSync(path.join(PROJECT_ROOT, dir))) {
          assert.doesNotMatch(readFileSync(path.join(PROJECT_ROOT, dir, file), 'utf8'), /nginx/i, `${dir}/${file}`);
        }
      }
    });

    it('keeps the workspaces on one shared ReadWriteMany claim at the workspace root, /data on each pod', () => {
      const { pod, container, doc } = workload(docs());
      const root = configValue('OCPM_WORKSPACE_ROOT');
      const mount = (container.volumeMounts as Doc[]).find((m) => m.mountPath === root);
      const volume = (pod.spec.volumes as Doc[]).find((v) => v.name === mount?.name);
      assert.equal(mount?.subPath, undefined);
      const claim = docs().find((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === volume?.persistentVolumeClaim?.claimName);
      assert.equal(claim?.metadata.name, 'opencode-process-manager-workspaces');
      assert.deepEqual(claim?.spec.accessModes, ['ReadWriteMany']);
      const dataMount = (container.volumeMounts as Doc[]).find((m) => m.mountPath === configValue('OCPM_DATA_DIR'));
      const template = (doc.spec.volumeClaimTemplates as Doc[]).find((t) => t.metadata.name === dataMount?.name);
      assert.deepEqual(template?.spec.accessModes, ['ReadWriteOnce']);
    });

    it('finds its peers through the headless Service, which publishes not-ready pods', () => {
      const headless = docs().find((d) => d.kind === 'Service' && d.spec.clusterIP === 'None') as Doc;
      assert.equal(workload(docs()).doc.spec.serviceName, headless.metadata.name);
      assert.equal(headless.spec.publishNotReadyAddresses, true);
      const value = String(env('OCPM_PEER_DNS')?.value);
      const m = /^([^:]+):(\d+)$/.exec(value);
      assert.ok(m, `OCPM_PEER_DNS ${value} is host:port`);
      const labels = String(m[1]).split('.');
      assert.equal(labels[0], headless.metadata.name);
      if (labels.length > 1) {
        assert.equal(labels[1], '$(POD_NAMESPACE)');
        assert.deepEqual(env('POD_NAMESPACE')?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
        assert.deepEqual(labels.slice(2), ['svc', 'cluster', 'local']);
      }
      assert.ok(
        (headless.spec.ports as Doc[]).some((p) => p.port === Number(m[2])),
        `port ${m[2]} is a port of ${String(headless.metadata.name)}`,
      );
    });

    it('gives a stopping replica time to drain and hand its sessions off', () => {
      const { pod, container } = workload(docs());
      const graceS = Number(pod.spec.terminationGracePeriodSeconds);
      const drainS = Number(configValue('OCPM_DRAIN_TIMEOUT_MS') ?? fallbackOf('OCPM_DRAIN_TIMEOUT_MS')) / 1000;
      const killS = Number(configValue('OCPM_KILL_GRACE_MS') ?? fallbackOf('OCPM_KILL_GRACE_MS')) / 1000;
      const preStopS = Number((container.lifecycle.preStop.exec.command as string[])[1]);
      // Handoff: opencode export/import ~2-3 s per session; at least 100 sessions at 3 s.
      const handoffS = graceS - (preStopS + drainS + 2 * killS);
      assert.ok(graceS > drainS);
      assert.ok(handoffS >= 300, `${graceS} s leaves ${handoffS} s for the handoff after the drain, less than 300 s`);
    });
  });

  describe('the components (k8s/components), on the overlays they are for', () => {
    /** Each component: the kinds it drops, and the kustomizations it applies to. */
    const COMPONENTS: Record<string, { drops: string[]; on: string[] }> = {
      'without-prometheus-operator': { drops: ['ServiceMonitor', 'PrometheusRule'], on: KUSTOMIZATIONS },
      'without-envoy-gateway': { drops: ['Gateway', 'HTTPRoute', 'BackendTrafficPolicy'], on: ['k8s/overlays/scaled'] },
      'without-keda': { drops: ['ScaledObject'], on: ['k8s/overlays/scaled'] },
    };
    const byName = (docs: Doc[]): Map<string, Doc> => new Map(docs.map((d) => [`${typeKey(d)}/${String(d.metadata.name)}`, d]));

    it('every component is covered here', () => {
      assert.deepEqual(readdirSync(path.join(PROJECT_ROOT, 'k8s', 'components')).sort(), Object.keys(COMPONENTS).sort());
    });

    for (const [component, { drops, on }] of Object.entries(COMPONENTS)) {
      for (const dir of on) {
        it(`${component} on ${dir} drops ${drops.join(', ')} and changes nothing else`, () => {
          const overlay = [
            'apiVersion: kustomize.config.k8s.io/v1beta1',
            'kind: Kustomization',
            'resources:',
            `  - ../../${dir.replace(/^k8s\//, '')}`,
            'components:',
            `  - ../../components/${component}`,
            '',
          ].join('\n');
          const docs = renderOverlay(PROJECT_ROOT, 'component-test', overlay, RENDERER);
          const expected = docsOf(dir).filter((d) => !drops.includes(String(d.kind)));
          assert.ok(expected.length < docsOf(dir).length, `${dir} has something to drop`);
          assert.deepEqual(byName(docs), byName(expected));
          if (RENDERER === 'kubectl')
            assert.deepEqual(byName(renderOverlay(PROJECT_ROOT, 'component-test', overlay, 'builtin')), byName(docs), 'built-in renderer');
        });
      }
    }
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

    it('root without the per-session-uid profile, or a capability added to the non-root pod', () => {
      const root = broken((d) => {
        workload(d).pod.spec.securityContext.runAsUser = 0;
        container(d).securityContext.capabilities.add = ['SYS_ADMIN'];
      });
      assert.match(crossCheckProblems(root).join('\n'), /as root, exactly CHOWN, SETGID, SETPCAP, SETUID may be added/);
      const added = broken((d) => {
        container(d).securityContext.capabilities.add = ['NET_RAW'];
      });
      assert.match(crossCheckProblems(added).join('\n'), /no capability may be added/);
    });
  });

  describe('the checks catch a broken scaled overlay', () => {
    const broken = (mutate: (docs: Doc[]) => void): Doc[] => {
      const docs = docsOf('k8s/overlays/scaled');
      mutate(docs);
      return docs;
    };
    const kind = (docs: Doc[], k: string): Doc => docs.find((d) => d.kind === k) as Doc;

    it('a BackendTrafficPolicy with a wrong hash type, a misspelt field, no target', async () => {
      const docs = broken((d) => {
        const policy = kind(d, 'BackendTrafficPolicy');
        policy.spec.loadBalancer.consistentHash.type = 'Headers';
        policy.spec.loadBalancer.consistentHash.heder = policy.spec.loadBalancer.consistentHash.header;
        delete policy.spec.targetRefs;
      });
      const errors = (await schemaErrors(docs)).join('\n');
      assert.match(errors, /consistentHash\.type must be one of SourceIP, Header, Cookie/);
      assert.match(errors, /consistentHash\.heder is not a field/);
      assert.match(errors, /spec\.targetRefs is required/);
      const misspelt = broken((d) => {
        const hash = kind(d, 'BackendTrafficPolicy').spec.loadBalancer.consistentHash;
        hash.heder = hash.header;
      });
      assert.match(unknownFieldErrors(misspelt, PROJECT_ROOT).join('\n'), /BackendTrafficPolicy\/.*'"heder"' does not exist/);
    });

    it('a consistent hash without its header, a header that is no header name', async () => {
      const docs = broken((d) => {
        delete kind(d, 'BackendTrafficPolicy').spec.loadBalancer.consistentHash.header;
      });
      assert.match((await schemaErrors(docs)).join('\n'), /header must be set if and only if type is Header/);
      const policy = kind(docsOf('k8s/overlays/scaled'), 'BackendTrafficPolicy');
      policy.spec.loadBalancer.consistentHash.header.name = 'X Session Id';
      assert.match(backendTrafficPolicyErrors(policy).join('\n'), /is not a header name/);
    });

    it('a route to a missing port, a policy on a missing route, an HTTPRoute field of another version', () => {
      const docs = broken((d) => {
        kind(d, 'HTTPRoute').spec.rules[0].backendRefs[0].port = 8080;
        kind(d, 'HTTPRoute').spec.rules[0].timeouts.idle = '1h';
        kind(d, 'BackendTrafficPolicy').spec.targetRefs[0].name = 'elsewhere';
      });
      const problems = crossCheckProblems(docs).join('\n');
      assert.match(problems, /backend port 8080 is not a port of Service opencode-process-manager/);
      assert.match(problems, /target gateway\.networking\.k8s\.io\/HTTPRoute\/elsewhere is not rendered/);
      assert.match(unknownFieldErrors(docs, PROJECT_ROOT).join('\n'), /HTTPRoute\/.*'"idle"' does not exist/);
    });

    it('a missing workspace claim, an undefined $(VAR), an unknown variable', () => {
      const docs = broken((d) => {
        d.splice(d.indexOf(kind(d, 'PersistentVolumeClaim')), 1);
        const env = workload(d).container.env as Doc[];
        env.splice(
          env.findIndex((e) => e.name === 'POD_NAMESPACE'),
          1,
        );
        env.push({ name: 'OCPM_PEERS_DNS', value: 'x:1' });
      });
      const problems = crossCheckProblems(docs).join('\n');
      assert.match(problems, /PersistentVolumeClaim opencode-process-manager-workspaces is not rendered/);
      assert.match(problems, /OCPM_PEER_DNS refers to \$\(POD_NAMESPACE\), which no env entry before it defines/);
      assert.match(problems, /env OCPM_PEERS_DNS is not a variable/);
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
