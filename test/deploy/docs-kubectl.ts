// The kubectl commands of the documentation, and what they name: every `kubectl …` in a fenced code
// block or in inline code, split into words as a shell would, and the resources it names (TYPE/NAME,
// TYPE NAME, a pod name, `create secret … NAME` and its keys, `-f PATH`, `-k DIR`). The checks compare
// those with rendered manifests, so a doc that says `deploy/x` where k8s/ has a StatefulSet fails.
// A code block's `cat > FILE <<EOF … EOF` and `cat >> FILE <<EOF … EOF` are read too: the overlay
// docs/deployment.md has an operator write is rendered and checked like the ones in k8s/.
import path from 'node:path';
import type { Doc } from './kustomize-subset.js';

export interface DocCommand {
  readonly file: string;
  readonly line: number;
  /** The words of the command, `kubectl` first, quotes removed. */
  readonly words: readonly string[];
}

/** A file a code block writes with `cat > FILE <<EOF` (`append`: `cat >> FILE`), in the doc's order. */
export interface DocWrite {
  readonly file: string;
  readonly line: number;
  readonly path: string;
  readonly append: boolean;
  readonly content: string;
}

/** The lines of a markdown text, each with whether it sits inside a fenced code block. */
function classify(markdown: string): Array<{ text: string; number: number; fenced: boolean }> {
  const out: Array<{ text: string; number: number; fenced: boolean }> = [];
  let fence: string | undefined;
  markdown.split(/\r?\n/).forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    out.push({ text, number: i + 1, fenced: fence !== undefined });
  });
  return out;
}

/**
 * The words of one command starting at `start` (a shell's word splitting, enough for docs: quotes,
 * `$(…)` nesting, backslash escapes), up to an unquoted `|`, `;`, `&`, `)`, a comment or the end.
 */
export function shellWords(text: string, start = 0): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = start;
  const push = (): void => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end < 0 ? text.length : end;
      word = (word ?? '') + text.slice(i + 1, stop);
      i = stop + 1;
      continue;
    }
    if (c === '$' && text[i + 1] === '(') {
      let depth = 0;
      let j = i;
      for (; j < text.length; j += 1) {
        if (text[j] === '(') depth += 1;
        else if (text[j] === ')' && --depth === 0) break;
      }
      word = (word ?? '') + text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[i + 1];
      i += 2;
      continue;
    }
    if (/\s/.test(c)) {
      push();
      i += 1;
      continue;
    }
    if ('|;&)`'.includes(c) || (c === '#' && word === undefined)) break;
    word = (word ?? '') + c;
    i += 1;
  }
  push();
  return words;
}

/** Where `kubectl` starts a command in a line of shell: at its start, or after a separator. */
function commandsIn(text: string): string[][] {
  const found: string[][] = [];
  for (const match of text.matchAll(/(?:^|[\s(|;&`])kubectl(?=\s|$)/g)) {
    const at = (match.index ?? 0) + match[0].indexOf('kubectl');
    found.push(shellWords(text, at));
  }
  return found;
}

/** Every kubectl command of a markdown text: in code blocks (continuation lines joined) and inline code. */
export function kubectlCommands(markdown: string, file: string): DocCommand[] {
  const commands: DocCommand[] = [];
  const lines = classify(markdown);
  let heredocEnd: string | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const { text, number, fenced } = lines[i] as { text: string; number: number; fenced: boolean };
    if (!fenced) {
      for (const span of text.matchAll(/(`+)([^`]+?)\1/g)) {
        for (const words of commandsIn(span[2] ?? '')) commands.push({ file, line: number, words });
      }
      continue;
    }
    if (heredocEnd !== undefined) {
      if (text.trim() === heredocEnd) heredocEnd = undefined;
      continue;
    }
    let logical = text;
    while (logical.endsWith('\\') && lines[i + 1]?.fenced === true) {
      i += 1;
      logical = `${logical.slice(0, -1)} ${lines[i]?.text ?? ''}`;
    }
    heredocEnd = /<<-?\s*['"]?(\w+)['"]?/.exec(logical)?.[1];
    for (const words of commandsIn(logical)) commands.push({ file, line: number, words });
  }
  return commands;
}

/** The files the code blocks of a markdown text write with `cat > FILE <<EOF` or append to with `cat >>`. */
export function docWrites(markdown: string, file: string, variables: Record<string, string>): DocWrite[] {
  const writes: DocWrite[] = [];
  const lines = classify(markdown);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as { text: string; number: number; fenced: boolean };
    if (!line.fenced) continue;
    const m = /\bcat\s*(>>?)\s*(\S+)\s*<<-?\s*(['"]?)(\w+)\3/.exec(line.text);
    if (m === null) continue;
    const body: string[] = [];
    for (i += 1; i < lines.length && lines[i]?.fenced === true && lines[i]?.text.trim() !== m[4]; i += 1) body.push(lines[i]?.text ?? '');
    let content = `${body.join('\n')}\n`;
    // An unquoted delimiter expands variables, as the shell would.
    if (m[3] === '') content = content.replace(/\$\{?([A-Za-z_]\w*)\}?/g, (all, name: string) => variables[name] ?? all);
    writes.push({ file, line: line.number, path: m[2] as string, append: m[1] === '>>', content });
  }
  return writes;
}

/** The kubectl resource types the docs may name, by every spelling kubectl accepts for them. */
const TYPES: Record<string, readonly string[]> = {
  Pod: ['pod', 'pods', 'po'],
  StatefulSet: ['statefulset', 'statefulsets', 'sts'],
  Deployment: ['deployment', 'deployments', 'deploy'],
  DaemonSet: ['daemonset', 'daemonsets', 'ds'],
  ReplicaSet: ['replicaset', 'replicasets', 'rs'],
  Job: ['job', 'jobs'],
  Service: ['service', 'services', 'svc'],
  Endpoints: ['endpoints', 'ep'],
  Secret: ['secret', 'secrets'],
  ConfigMap: ['configmap', 'configmaps', 'cm'],
  PersistentVolumeClaim: ['persistentvolumeclaim', 'persistentvolumeclaims', 'pvc'],
  NetworkPolicy: ['networkpolicy', 'networkpolicies', 'netpol'],
  PodDisruptionBudget: ['poddisruptionbudget', 'poddisruptionbudgets', 'pdb'],
  ServiceAccount: ['serviceaccount', 'serviceaccounts', 'sa'],
  Ingress: ['ingress', 'ingresses', 'ing'],
  ServiceMonitor: ['servicemonitor', 'servicemonitors'],
  PrometheusRule: ['prometheusrule', 'prometheusrules'],
  ScaledObject: ['scaledobject', 'scaledobjects', 'so'],
  Gateway: ['gateway', 'gateways', 'gtw'],
  HTTPRoute: ['httproute', 'httproutes'],
  BackendTrafficPolicy: ['backendtrafficpolicy', 'backendtrafficpolicies', 'btp'],
  Node: ['node', 'nodes', 'no'],
  Namespace: ['namespace', 'namespaces', 'ns'],
  StorageClass: ['storageclass', 'storageclasses', 'sc'],
  CustomResourceDefinition: ['customresourcedefinition', 'customresourcedefinitions', 'crd', 'crds'],
  Event: ['event', 'events', 'ev'],
};
const KIND_OF = new Map(Object.entries(TYPES).flatMap(([kind, names]) => names.map((n) => [n, kind] as const)));

/** Kinds of the cluster itself, not of our manifests: the docs may name them to check prerequisites. */
const CLUSTER_KINDS = new Set(['Node', 'Namespace', 'StorageClass', 'Event']);

/** `statefulset`, `statefulset.apps`, `StatefulSet.v1.apps` → StatefulSet; undefined when unknown. */
export function kindOf(type: string): string | undefined {
  return KIND_OF.get(type.toLowerCase().split('.')[0] ?? '');
}

/** A name the docs leave to the reader (`<pod>`, `…`, `$NAME`): only its type is checked. */
const isPlaceholder = (name: string): boolean => /[<>…$*{}]/.test(name);

const FLAGS_WITH_VALUE = new Set([
  '-n',
  '--namespace',
  '--context',
  '--kubeconfig',
  '-l',
  '--selector',
  '-o',
  '--output',
  '-c',
  '--container',
  '--timeout',
  '--for',
  '-f',
  '--filename',
  '-k',
  '--kustomize',
  '-p',
  '--patch',
  '--type',
  '--field-selector',
  '--from-literal',
  '--from-file',
  '--from-env-file',
  '--replicas',
  '--tail',
  '--since',
  '--address',
  '--image',
  '--labels',
]);

interface Parsed {
  readonly verb: string | undefined;
  readonly positional: string[];
  readonly flags: Array<[string, string | undefined]>;
}

function parseArgs(words: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags: Array<[string, string | undefined]> = [];
  for (let i = 1; i < words.length; i += 1) {
    const word = words[i] as string;
    if (word === '--') break;
    if (word.startsWith('-') && word.length > 1) {
      const eq = word.indexOf('=');
      if (eq > 0) flags.push([word.slice(0, eq), word.slice(eq + 1)]);
      else if (FLAGS_WITH_VALUE.has(word)) {
        flags.push([word, words[i + 1]]);
        i += 1;
      } else flags.push([word, undefined]);
      continue;
    }
    positional.push(word);
  }
  const [verb, ...rest] = positional;
  return { verb, positional: rest, flags };
}

/** What the rendered manifests offer to the docs' commands. */
export interface Manifests {
  /** Every document of every kustomization (repository and doc-written), rendered. */
  readonly docs: readonly Doc[];
  /** Kustomization directories, relative to the repository root, that `-k` may name. */
  readonly kustomizations: ReadonlySet<string>;
  /** Whether a repository path exists (for `-f`). */
  readonly exists: (relative: string) => boolean;
}

interface SecretUse {
  /** Keys some reader needs (a mounted file another setting points at, a secretKeyRef). */
  readonly required: Set<string>;
  /** Any key is read (envFrom). */
  anyKey: boolean;
}

/** How the manifests read each Secret, by name. */
export function secretUses(docs: readonly Doc[]): Map<string, SecretUse> {
  const uses = new Map<string, SecretUse>();
  const use = (name: string): SecretUse => {
    let found = uses.get(name);
    if (found === undefined) {
      found = { required: new Set(), anyKey: false };
      uses.set(name, found);
    }
    return found;
  };
  for (const doc of docs) {
    const spec = doc.spec?.template?.spec as Doc | undefined;
    if (spec === undefined) continue;
    const containers = [...((spec.containers ?? []) as Doc[]), ...((spec.initContainers ?? []) as Doc[])];
    for (const ref of (spec.imagePullSecrets ?? []) as Doc[]) use(String(ref.name)).required.add('.dockerconfigjson');
    for (const volume of (spec.volumes ?? []) as Doc[]) {
      if (volume.secret === undefined) continue;
      const secret = use(String(volume.secret.secretName));
      for (const item of (volume.secret.items ?? []) as Doc[]) secret.required.add(String(item.key));
      if (volume.secret.items !== undefined) continue;
      // Without items each key is a file: the ones an env value points at must exist.
      for (const container of containers) {
        for (const mount of ((container.volumeMounts ?? []) as Doc[]).filter((m) => m.name === volume.name)) {
          for (const env of (container.env ?? []) as Doc[]) {
            const value = env.value as string | undefined;
            if (value?.startsWith(`${String(mount.mountPath)}/`) === true) secret.required.add(value.slice(String(mount.mountPath).length + 1));
          }
        }
      }
    }
    for (const container of containers) {
      for (const ref of (container.envFrom ?? []) as Doc[]) {
        if (ref.secretRef !== undefined) use(String(ref.secretRef.name)).anyKey = true;
      }
      for (const env of (container.env ?? []) as Doc[]) {
        const ref = env.valueFrom?.secretKeyRef as Doc | undefined;
        if (ref !== undefined) use(String(ref.name)).required.add(String(ref.key));
      }
    }
  }
  return uses;
}

/** API groups of Kubernetes itself (no CRD); the core group has no name and apps, policy… no dot. */
const BUILT_IN_GROUPS = new Set(['networking.k8s.io', 'rbac.authorization.k8s.io', 'storage.k8s.io', 'scheduling.k8s.io', 'node.k8s.io', 'discovery.k8s.io']);

/** CRD names (`<plural>.<group>`) of the custom kinds the manifests render. */
function crdNames(docs: readonly Doc[]): Set<string> {
  const names = new Set<string>();
  for (const doc of docs) {
    const [group, version] = String(doc.apiVersion).split('/');
    if (version === undefined || group === undefined || !group.includes('.') || BUILT_IN_GROUPS.has(group)) continue;
    const kind = String(doc.kind).toLowerCase();
    names.add(`${kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`}.${group}`);
  }
  return names;
}

/** The problems with one named resource (`kind` resolved, `name` possibly undefined), as messages. */
function resourceProblems(kind: string, name: string | undefined, manifests: Manifests): string[] {
  const { docs } = manifests;
  const named = (k: string): string[] => docs.filter((d) => d.kind === k).map((d) => String(d.metadata?.name));
  const workloads = docs.filter((d) => d.kind === 'StatefulSet' || d.kind === 'Deployment');
  const checkName = (names: readonly string[], what: string): string[] =>
    name === undefined || isPlaceholder(name) || names.includes(name)
      ? []
      : [`${what} ${name} is not in the manifests (they have: ${[...new Set(names)].join(', ') || 'none'})`];

  if (CLUSTER_KINDS.has(kind)) return [];
  switch (kind) {
    case 'Pod': {
      if (workloads.length === 0) return ['no workload in the manifests makes pods'];
      if (name === undefined || isPlaceholder(name)) return [];
      const ok = docs.some((d) => d.kind === 'StatefulSet' && new RegExp(`^${String(d.metadata.name)}-\\d+$`).test(name));
      return ok ? [] : [`pod ${name} is no pod of the StatefulSets (${named('StatefulSet').join(', ')}): pods are named <statefulset>-<ordinal>`];
    }
    case 'Endpoints':
      return checkName(named('Service'), 'Endpoints (of a Service)');
    case 'PersistentVolumeClaim': {
      const fromTemplates = docs
        .filter((d) => d.kind === 'StatefulSet')
        .flatMap((d) => ((d.spec.volumeClaimTemplates ?? []) as Doc[]).map((t) => `${String(t.metadata.name)}-${String(d.metadata.name)}-`));
      if (name !== undefined && fromTemplates.some((prefix) => new RegExp(`^${prefix}\\d+$`).test(name))) return [];
      return checkName([...named('PersistentVolumeClaim'), ...fromTemplates.map((p) => `${p}<ordinal>`)], 'PersistentVolumeClaim');
    }
    case 'Secret':
      return checkName([...secretUses(docs).keys()], 'Secret');
    case 'CustomResourceDefinition':
      return checkName([...crdNames(docs)], 'CRD');
    default: {
      const names = named(kind);
      if (names.length === 0) return [`the manifests have no ${kind}`];
      return checkName(names, kind);
    }
  }
}

/** The keys `create secret generic` gives: `--from-literal=K=V`, `--from-file=K=PATH` or the file's name. */
function givenKeys(flags: Parsed['flags']): { keys: Set<string>; unknown: boolean } {
  const keys = new Set<string>();
  let unknown = false;
  for (const [flag, value] of flags) {
    if (value === undefined) continue;
    if (flag === '--from-literal') keys.add(value.split('=')[0] ?? '');
    else if (flag === '--from-file') keys.add(value.includes('=') ? (value.split('=')[0] ?? '') : path.basename(value));
    else if (flag === '--from-env-file') unknown = true;
  }
  return { keys, unknown };
}

const VERBS_TYPE_NAME = new Set(['get', 'describe', 'delete', 'edit', 'patch', 'label', 'annotate', 'wait', 'scale', 'top', 'autoscale']);
const VERBS_POD = new Set(['exec', 'logs', 'attach', 'port-forward', 'debug']);
const VERBS_NO_RESOURCE = new Set(['config', 'version', 'cluster-info', 'api-resources', 'api-versions', 'auth', 'explain', 'plugin', 'completion']);
const VERBS_FILES = new Set(['apply', 'create', 'delete', 'diff', 'replace', 'get', 'describe', 'wait']);

/** Every problem with the resources one command names, as "file:line: `command`: what" messages. */
export function commandProblems(command: DocCommand, manifests: Manifests): string[] {
  const problems: string[] = [];
  const say = (what: string): void => {
    problems.push(`${command.file}:${command.line}: \`${command.words.join(' ')}\`: ${what}`);
  };
  const { verb, positional, flags } = parseArgs(command.words);
  const check = (type: string, name: string | undefined): void => {
    const kind = kindOf(type);
    if (kind === undefined) {
      say(`unknown resource type "${type}"`);
      return;
    }
    for (const problem of resourceProblems(kind, name, manifests)) say(problem);
  };
  const checkTypeName = (args: readonly string[]): void => {
    if (args.length === 0) return;
    if ((args[0] as string).includes('/')) {
      for (const arg of args) {
        const [type, name] = arg.split('/', 2) as [string, string];
        check(type, name);
      }
      return;
    }
    const [types, ...names] = args as [string, ...string[]];
    for (const type of types.split(',')) {
      if (names.length === 0) check(type, undefined);
      for (const name of names) check(type, name);
    }
  };

  for (const [flag, value] of flags) {
    if (value === undefined) continue;
    if (flag === '-k' || flag === '--kustomize') {
      const dir = path.normalize(value).replace(/\/$/, '');
      if (!manifests.kustomizations.has(dir)) say(`-k ${value}: no kustomization there (known: ${[...manifests.kustomizations].sort().join(', ')})`);
    }
    if ((flag === '-f' || flag === '--filename') && !/^https?:/.test(value) && value !== '-' && !manifests.exists(value)) say(`-f ${value}: no such file`);
  }

  // `kubectl apply` named in prose, a verb without arguments, names nothing.
  if (verb === undefined || (positional.length === 0 && flags.length === 0)) return problems;
  if (VERBS_NO_RESOURCE.has(verb)) return problems;
  const fromFiles = flags.some(([flag]) => ['-f', '--filename', '-k', '--kustomize'].includes(flag));
  if (verb === 'kustomize') {
    const dir = positional[0];
    if (dir !== undefined && !manifests.kustomizations.has(path.normalize(dir).replace(/\/$/, ''))) say(`kustomize ${dir}: no kustomization there`);
    return problems;
  }
  if (fromFiles && VERBS_FILES.has(verb)) return problems;
  if (verb === 'create') {
    const [what, ...rest] = positional;
    if (what === 'secret') {
      const name = rest[1];
      check('secret', name);
      const use = name === undefined ? undefined : secretUses(manifests.docs).get(name);
      if (use !== undefined) {
        const given = givenKeys(flags);
        const missing = given.unknown ? [] : [...use.required].filter((key) => !given.keys.has(key));
        if (missing.length > 0) say(`Secret ${String(name)} lacks the key(s) the manifests read: ${missing.join(', ')}`);
      }
    } else if (what !== undefined) check(what, rest[0]);
    return problems;
  }
  if (verb === 'rollout') {
    checkTypeName(positional.slice(1));
    return problems;
  }
  if (VERBS_POD.has(verb)) {
    const target = positional[0];
    if (target === undefined) return problems;
    if (target.includes('/')) checkTypeName([target]);
    else check('pod', target);
    return problems;
  }
  if (VERBS_TYPE_NAME.has(verb)) {
    checkTypeName(positional);
    // `get secret NAME -o jsonpath='{.data.KEY}'` reads a key: one the manifests read.
    const output = flags.find(([flag]) => flag === '-o' || flag === '--output')?.[1];
    const key = output === undefined ? undefined : /\{\.data\.([^}]+)\}/.exec(output)?.[1];
    const [type, name] = (positional[0] ?? '').includes('/') ? (positional[0] as string).split('/', 2) : [positional[0], positional[1]];
    if (key !== undefined && type !== undefined && kindOf(type) === 'Secret' && name !== undefined) {
      const use = secretUses(manifests.docs).get(name);
      const readable = key.replace(/\\\./g, '.');
      if (use !== undefined && !use.anyKey && !use.required.has(readable))
        say(`Secret ${name} has no key ${readable} the manifests read (${[...use.required].join(', ')})`);
    }
    return problems;
  }
  say(`the verb "${verb}" is not known to this check (test/deploy/docs-kubectl.ts): teach it what the verb names`);
  return problems;
}
