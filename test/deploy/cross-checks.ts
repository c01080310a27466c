// Project rules over rendered manifests that no schema knows: ports agree with the Dockerfile and
// the app, ConfigMap keys and env are variables the config module knows, selectors and references
// (Services, claims, Gateway API routes and policies, env $(VAR)s) resolve, the grace period covers
// the drain, the pod is locked down and writes only to volumes.
// Returns problems as messages, so a test can also feed it broken manifests.
import { ConfigError, CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { docName } from './k8s-schema.js';
import type { Doc } from './kustomize-subset.js';
import { exposedPorts, runtimeUser } from './dockerfile.js';

const known = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));

const fallback = (name: string): string | undefined => CONFIG_VARIABLES.find((v) => v.name === name)?.fallback;

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** What the service needs to run sessions under uids of their own (docs/security.md). */
const SESSION_UID_CAPABILITIES = ['CHOWN', 'SETGID', 'SETPCAP', 'SETUID'];
export interface Workload {
  readonly doc: Doc;
  readonly pod: Doc;
  readonly container: Doc;
}

export function workload(docs: Doc[]): Workload {
  const sets = docs.filter((d) => d.kind === 'StatefulSet');
  if (sets.length !== 1) throw new Error(`Expected one StatefulSet, got ${sets.length}`);
  const doc = sets[0] as Doc;
  const container = (doc.spec.template.spec.containers as Doc[]).find((c) => c.name === 'opencode-process-manager');
  if (container === undefined) throw new Error('No container named opencode-process-manager');
  return { doc, pod: doc.spec.template as Doc, container };
}

/** The HTTP paths of the container's probes. */
export function probePaths(docs: Doc[]): string[] {
  const { container } = workload(docs);
  return ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => String(container[p]?.httpGet?.path));
}

/** Every problem found, as "Kind/name: what" messages. */
export function crossCheckProblems(docs: Doc[]): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };
  const { doc: sts, pod, container } = workload(docs);
  const where = docName(sts);
  const podLabels = pod.metadata?.labels as Record<string, string> | undefined;
  const ports = (container.ports ?? []) as Doc[];
  const http = ports.find((p) => p.name === 'http');
  const appPort = Number(fallback('PORT'));

  // Ports: the container's, the image's EXPOSE, the app's default and the ConfigMap's agree.
  check(http?.containerPort === appPort, `${where}: containerPort ${http?.containerPort} is not the app default ${appPort}`);
  check(
    exposedPorts().includes(http?.containerPort),
    `${where}: containerPort ${http?.containerPort} is not EXPOSEd by the Dockerfile (${exposedPorts().join(',')})`,
  );

  // ConfigMaps: only variables src/config/config.ts knows, with values it accepts.
  const configMaps = docs.filter((d) => d.kind === 'ConfigMap');
  for (const cm of configMaps) {
    const data = (cm.data ?? {}) as Record<string, string>;
    for (const key of Object.keys(data)) check(known.has(key), `${docName(cm)}: ${key} is not a variable src/config/config.ts knows`);
    try {
      loadConfig(data, '/');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`${docName(cm)}: ${error.message}`);
    }
    if (data.PORT !== undefined) check(Number(data.PORT) === http?.containerPort, `${docName(cm)}: PORT ${data.PORT} is not the containerPort`);
  }
  for (const ref of (container.envFrom ?? []) as Doc[]) {
    if (ref.configMapRef !== undefined)
      check(
        configMaps.some((c) => c.metadata.name === ref.configMapRef.name),
        `${where}: envFrom ConfigMap ${ref.configMapRef.name} is not rendered`,
      );
  }
  // env: known variables; $(VAR) only of a variable defined before (Kubernetes leaves any other
  // reference as it is); the values of known variables, with the ConfigMaps', parse.
  const defined = new Set<string>();
  const literal: Record<string, string> = {};
  for (const env of (container.env ?? []) as Doc[]) {
    const name = String(env.name);
    if (name.startsWith('OCPM_') || name === 'PORT' || name === 'HOST') {
      check(known.has(name), `${where}: env ${name} is not a variable src/config/config.ts knows`);
    }
    const value = env.value as string | undefined;
    for (const [, ref] of (value ?? '').matchAll(/\$\(([^)]*)\)/g)) {
      check(defined.has(String(ref)), `${where}: env ${name} refers to $(${ref}), which no env entry before it defines`);
    }
    if (known.has(name) && value !== undefined) literal[name] = value.replace(/\$\(([^)]*)\)/g, 'x');
    defined.add(name);
  }

  if (Object.keys(literal).length > 0) {
    try {
      loadConfig({ ...Object.fromEntries(configMaps.flatMap((c) => Object.entries((c.data ?? {}) as Record<string, string>))), ...literal }, '/');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`${where}: env: ${error.message}`);
    }
  }

  // No secret value is committed: Secrets are referenced, never rendered.
  for (const secret of docs.filter((d) => d.kind === 'Secret')) problems.push(`${docName(secret)}: Secrets must not be committed`);

  // Selectors and references resolve.
  for (const svc of docs.filter((d) => d.kind === 'Service')) {
    check(matches(svc.spec.selector, podLabels), `${docName(svc)}: selector does not match the pod labels`);
    for (const p of svc.spec.ports as Doc[]) {
      const target = p.targetPort as string | number;
      check(
        ports.some((c) => c.name === target || c.containerPort === target),
        `${docName(svc)}: targetPort ${target} is not a container port`,
      );
    }
  }
  for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
    for (const d of docs.filter((x) => x.kind === kind)) {
      const selector = (kind === 'NetworkPolicy' ? d.spec.podSelector : d.spec.selector)?.matchLabels as Record<string, string> | undefined;
      check(matches(selector, podLabels), `${docName(d)}: selector does not match the pod labels`);
    }
  }
  check(matches(sts.spec.selector?.matchLabels, podLabels), `${where}: selector does not match its pod template`);
  for (const np of docs.filter((d) => d.kind === 'NetworkPolicy')) {
    for (const rule of (np.spec.ingress ?? []) as Doc[]) {
      for (const p of (rule.ports ?? []) as Doc[])
        check(
          ports.some((c) => c.name === p.port || c.containerPort === p.port),
          `${docName(np)}: port ${p.port} is not a container port`,
        );
    }
  }
  for (const sm of docs.filter((d) => d.kind === 'ServiceMonitor')) {
    const selected = docs.filter((d) => d.kind === 'Service' && matches(sm.spec.selector?.matchLabels, d.metadata.labels));
    check(selected.length === 1, `${docName(sm)}: selects ${selected.length} Services (one, or every pod is scraped twice)`);
    for (const e of sm.spec.endpoints as Doc[]) {
      check(
        selected.every((s) => (s.spec.ports as Doc[]).some((p) => p.name === e.port)),
        `${docName(sm)}: port ${e.port} is not a port of the Service`,
      );
      check(e.path === '/metrics', `${docName(sm)}: scrapes ${e.path}, not /metrics`);
    }
  }
  // Gateway API: a route's parents are rendered Gateways (and listeners), its backends rendered
  // Services and ports; a policy's targets are rendered resources of its namespace.
  for (const route of docs.filter((d) => d.kind === 'HTTPRoute')) {
    for (const parent of (route.spec.parentRefs ?? []) as Doc[]) {
      const gateway = docs.find((d) => d.kind === (parent.kind ?? 'Gateway') && d.metadata.name === parent.name);
      check(gateway !== undefined, `${docName(route)}: parent ${String(parent.kind ?? 'Gateway')}/${parent.name} is not rendered`);
      if (parent.sectionName !== undefined && gateway !== undefined)
        check(
          (gateway.spec.listeners as Doc[]).some((l) => l.name === parent.sectionName),
          `${docName(route)}: ${docName(gateway)} has no listener ${parent.sectionName}`,
        );
    }
    for (const rule of (route.spec.rules ?? []) as Doc[]) {
      for (const backend of (rule.backendRefs ?? []) as Doc[]) {
        const svc = docs.find((d) => d.kind === (backend.kind ?? 'Service') && d.metadata.name === backend.name);
        check(svc?.kind === 'Service', `${docName(route)}: backend Service ${backend.name} is not rendered`);
        check(
          (svc?.spec.ports as Doc[] | undefined)?.some((x) => x.port === backend.port) === true,
          `${docName(route)}: backend port ${backend.port} is not a port of Service ${backend.name}`,
        );
      }
    }
  }
  for (const policy of docs.filter((d) => d.kind === 'BackendTrafficPolicy')) {
    for (const ref of (policy.spec.targetRefs ?? []) as Doc[]) {
      const target = docs.find((d) => d.kind === ref.kind && d.metadata.name === ref.name && String(d.apiVersion).split('/')[0] === ref.group);
      check(target !== undefined, `${docName(policy)}: target ${ref.group}/${ref.kind}/${ref.name} is not rendered`);
      check(
        target?.metadata.namespace === policy.metadata.namespace,
        `${docName(policy)}: target ${ref.kind}/${ref.name} is in another namespace (a policy attaches in its own)`,
      );
    }
  }
  // Claims: a pod volume's claim is rendered (or comes from the StatefulSet's volumeClaimTemplates).
  for (const volume of ((pod.spec.volumes ?? []) as Doc[]).filter((v) => v.persistentVolumeClaim !== undefined)) {
    const claim = String(volume.persistentVolumeClaim.claimName);
    check(
      docs.some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim),
      `${where}: volume ${volume.name}: PersistentVolumeClaim ${claim} is not rendered`,
    );
  }
  const volumeNames = new Set([
    ...((pod.spec.volumes ?? []) as Doc[]).map((v) => String(v.name)),
    ...((sts.spec.volumeClaimTemplates ?? []) as Doc[]).map((t) => String(t.metadata.name)),
  ]);
  for (const m of (container.volumeMounts ?? []) as Doc[]) check(volumeNames.has(String(m.name)), `${where}: volumeMount ${m.name} is not a volume`);
  for (const so of docs.filter((d) => d.kind === 'ScaledObject')) {
    const ref = so.spec.scaleTargetRef as Doc;
    check(ref.kind === 'StatefulSet' && ref.name === sts.metadata.name, `${docName(so)}: scaleTargetRef is not the StatefulSet`);
  }

  // Shutdown: the grace period covers preStop, the drain, the kill grace and opencode serve's slow exit.
  const env = Object.fromEntries(configMaps.flatMap((c) => Object.entries((c.data ?? {}) as Record<string, string>)));
  const drainMs = Number(env.OCPM_DRAIN_TIMEOUT_MS ?? fallback('OCPM_DRAIN_TIMEOUT_MS'));
  const killMs = Number(env.OCPM_KILL_GRACE_MS ?? fallback('OCPM_KILL_GRACE_MS'));
  const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const preStopMs = preStop?.[0] === 'sleep' ? Number(preStop[1]) * 1000 : NaN;
  check(Number.isFinite(preStopMs) && preStopMs > 0, `${where}: preStop must be a sleep (endpoints drop the pod before the drain starts)`);
  const graceMs = Number(pod.spec.terminationGracePeriodSeconds) * 1000;
  check(
    graceMs > preStopMs + drainMs + 2 * killMs,
    `${where}: terminationGracePeriodSeconds ${graceMs / 1000} s must exceed preStop + drain + 2 x kill grace (${(preStopMs + drainMs + 2 * killMs) / 1000} s)`,
  );

  // Locked down: non-root (the image's uid), no escalation, read-only root, no capabilities, seccomp.
  // The one exception (k8s/overlays/session-uids): root with exactly what per-session uids need.
  const psc = (pod.spec.securityContext ?? {}) as Doc;
  const csc = (container.securityContext ?? {}) as Doc;
  const added = ((csc.capabilities?.add ?? []) as string[]).slice().sort();
  const sessionUids = String(csc.runAsUser ?? psc.runAsUser) === '0';
  if (sessionUids) {
    check(JSON.stringify(added) === JSON.stringify(SESSION_UID_CAPABILITIES), `${where}: as root, exactly ${SESSION_UID_CAPABILITIES.join(', ')} may be added`);
  } else {
    check(psc.runAsNonRoot === true || csc.runAsNonRoot === true, `${where}: runAsNonRoot is not set`);
    check(String(csc.runAsUser ?? psc.runAsUser) === runtimeUser()?.split(':')[0], `${where}: runAsUser is not the Dockerfile's USER ${runtimeUser()}`);
    check(added.length === 0, `${where}: no capability may be added`);
  }
  check(csc.allowPrivilegeEscalation === false, `${where}: allowPrivilegeEscalation must be false`);
  check(csc.readOnlyRootFilesystem === true, `${where}: readOnlyRootFilesystem must be true`);
  check((csc.capabilities?.drop as string[] | undefined)?.includes('ALL') === true, `${where}: capabilities must drop ALL`);
  check((csc.seccompProfile ?? psc.seccompProfile)?.type === 'RuntimeDefault', `${where}: seccompProfile must be RuntimeDefault`);

  // With a read-only root, everything the service and opencode write must be a volume.
  const mounts = (container.volumeMounts ?? []) as Doc[];
  const writable = (dir: string): boolean => mounts.some((m) => m.mountPath === dir && m.readOnly !== true);
  for (const dir of [env.OCPM_WORKSPACE_ROOT, env.OCPM_DATA_DIR, '/tmp', '/home/node']) {
    check(dir !== undefined && writable(dir), `${where}: ${dir} must be a writable volume mount`);
  }
  const tokenFile = ((container.env ?? []) as Doc[]).find((e) => e.name === 'OCPM_API_TOKEN_FILE')?.value as string | undefined;
  const secretVolumes = new Set(((pod.spec.volumes ?? []) as Doc[]).filter((v) => v.secret !== undefined).map((v) => v.name as string));
  check(
    tokenFile !== undefined && mounts.some((m) => secretVolumes.has(m.name) && tokenFile.startsWith(`${m.mountPath}/`)),
    `${where}: OCPM_API_TOKEN_FILE must point into a mounted Secret`,
  );
  return problems;
}
