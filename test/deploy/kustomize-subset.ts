// Renders our kustomizations without kubectl: only the kustomize features k8s/ uses (resources:
// files and directories, labels with includeTemplates, patches: JSON 6902 files (ops add, replace,
// test) with a target).
// Anything else throws, so a new feature in k8s/ cannot silently render wrong. When kubectl is
// installed, manifests.test.ts checks this renderer gives the same documents as `kubectl kustomize`.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';

export type Doc = Record<string, any>;

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'labels', 'patches']);
/** Where kustomize's `labels` with includeTemplates also writes, per kind (its built-in field specs). */
const TEMPLATE_LABEL_PATHS: Record<string, string[][]> = {
  StatefulSet: [
    ['spec', 'template', 'metadata', 'labels'],
    ['spec', 'volumeClaimTemplates', '*', 'metadata', 'labels'],
  ],
  Deployment: [['spec', 'template', 'metadata', 'labels']],
};

function setLabels(node: any, keys: string[], pairs: Record<string, string>): void {
  if (node === undefined || node === null) return;
  const [head, ...rest] = keys;
  if (head === undefined) return;
  if (head === '*') {
    for (const item of node as unknown[]) setLabels(item, rest, pairs);
    return;
  }
  if (rest.length === 0) {
    node[head] = { ...(node[head] as Record<string, string> | undefined), ...pairs };
    return;
  }
  setLabels(node[head], rest, pairs);
}

function pointer(doc: Doc, jsonPath: string): { parent: any; key: string } {
  const parts = jsonPath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const key = parts.pop();
  if (key === undefined) throw new Error(`Bad JSON pointer ${jsonPath}`);
  let parent: any = doc;
  for (const part of parts) {
    parent = parent?.[part];
    if (parent === undefined) throw new Error(`JSON pointer ${jsonPath}: no ${part}`);
  }
  return { parent, key };
}

function applyJson6902(doc: Doc, ops: Array<{ op: string; path: string; value?: unknown }>): void {
  for (const { op, path: p, value } of ops) {
    const { parent, key } = pointer(doc, p);
    if (op === 'test') {
      // kustomize fails the whole render when a test op does not hold; so does this.
      if (!isDeepStrictEqual(parent[key], value)) throw new Error(`test ${p}: ${JSON.stringify(parent[key])} is not ${JSON.stringify(value)}`);
    } else if (op === 'replace') {
      if (!(key in parent)) throw new Error(`replace ${p}: nothing there`);
      parent[key] = value;
    } else if (op === 'add') {
      if (Array.isArray(parent) && key === '-') parent.push(value);
      else if (Array.isArray(parent)) parent.splice(Number(key), 0, value);
      else parent[key] = value;
    } else {
      throw new Error(`kustomize-subset: JSON patch op "${op}" is not supported`);
    }
  }
}

function readDocs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

/** The documents `kubectl kustomize dir` would print (order aside). */
export function renderKustomization(dir: string): Doc[] {
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Doc;
  for (const key of Object.keys(k)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`kustomize-subset: "${key}" in ${dir}/kustomization.yaml is not supported`);
  }
  const docs: Doc[] = [];
  for (const resource of (k.resources ?? []) as string[]) {
    const target = path.resolve(dir, resource);
    docs.push(...(statSync(target).isDirectory() ? renderKustomization(target) : readDocs(target)));
  }
  for (const patch of (k.patches ?? []) as Doc[]) {
    const ops = parse(readFileSync(path.join(dir, patch.path as string), 'utf8')) as Array<{ op: string; path: string }>;
    const matches = docs.filter((d) => d.kind === patch.target?.kind && d.metadata?.name === patch.target?.name);
    if (matches.length !== 1) throw new Error(`patch ${patch.path as string}: ${matches.length} targets`);
    applyJson6902(matches[0] as Doc, ops);
  }
  for (const label of (k.labels ?? []) as Doc[]) {
    if (label.includeSelectors === true) throw new Error('kustomize-subset: labels.includeSelectors is not supported');
    const pairs = label.pairs as Record<string, string>;
    for (const doc of docs) {
      setLabels(doc, ['metadata', 'labels'], pairs);
      if (label.includeTemplates === true) for (const p of TEMPLATE_LABEL_PATHS[doc.kind as string] ?? []) setLabels(doc, p, pairs);
    }
  }
  return docs;
}
