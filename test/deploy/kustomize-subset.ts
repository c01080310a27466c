// Renders our kustomizations without kubectl: only the kustomize features k8s/ and the overlay
// docs/deployment.md has an operator write use (resources: files and directories; components;
// labels with includeTemplates; patches: JSON 6902 (ops add, replace, test; a file or inline) with a
// target, and inline `$patch: delete` patches; images: newName and newTag).
// Anything else throws, so a new feature in k8s/ cannot silently render wrong. When kubectl is
// installed, manifests.test.ts checks this renderer gives the same documents as `kubectl kustomize`.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';

export type Doc = Record<string, any>;

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'components', 'labels', 'patches', 'images']);
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

/** An inline strategic-merge patch that deletes one document: the only strategic-merge patch supported. */
function applyDeletePatch(docs: Doc[], patch: Doc, dir: string): void {
  if (patch.$patch !== 'delete' || Object.keys(patch).some((key) => !['$patch', 'apiVersion', 'kind', 'metadata'].includes(key))) {
    throw new Error(`kustomize-subset: in ${dir}, an inline strategic-merge patch must be only "$patch: delete" of one document`);
  }
  const index = docs.findIndex((d) => d.apiVersion === patch.apiVersion && d.kind === patch.kind && d.metadata?.name === patch.metadata?.name);
  // kustomize fails the render when a patch finds no target; so does this.
  if (index < 0) throw new Error(`delete patch in ${dir}: no ${String(patch.kind)}/${String(patch.metadata?.name)}`);
  docs.splice(index, 1);
}

/** JSON 6902 patches (a file, or inline) on their target, and inline `$patch: delete` patches. */
function applyPatches(docs: Doc[], patches: Doc[], dir: string): void {
  for (const patch of patches) {
    const body = (typeof patch.patch === 'string' ? parse(patch.patch) : parse(readFileSync(path.join(dir, patch.path as string), 'utf8'))) as unknown;
    if (!Array.isArray(body)) {
      if (typeof patch.patch !== 'string') throw new Error(`kustomize-subset: patch file ${patch.path as string} is not a JSON 6902 patch`);
      applyDeletePatch(docs, body as Doc, dir);
      continue;
    }
    const where = typeof patch.patch === 'string' ? `an inline patch in ${dir}` : `patch ${patch.path as string}`;
    const matches = docs.filter((d) => d.kind === patch.target?.kind && d.metadata?.name === patch.target?.name);
    if (matches.length !== 1) throw new Error(`${where}: ${matches.length} targets`);
    applyJson6902(matches[0] as Doc, body as Array<{ op: string; path: string }>);
  }
}

/** kustomize's images transformer, on the containers of pod templates: `name` matches the image without its tag. */
function applyImages(docs: Doc[], images: Doc[]): void {
  for (const image of images) {
    if (Object.keys(image).some((key) => !['name', 'newName', 'newTag'].includes(key))) {
      throw new Error(`kustomize-subset: images entry ${JSON.stringify(image)}: only name, newName and newTag are supported`);
    }
    for (const doc of docs) {
      const spec = doc.spec?.template?.spec as Doc | undefined;
      for (const container of [...((spec?.containers ?? []) as Doc[]), ...((spec?.initContainers ?? []) as Doc[])]) {
        const m = /^(.*?)(?::([^:/@]+))?(@.*)?$/.exec(String(container.image));
        if (m === null || m[1] !== image.name) continue;
        if (m[3] !== undefined) throw new Error(`kustomize-subset: image ${String(container.image)} has a digest`);
        const tag = image.newTag === undefined ? m[2] : String(image.newTag);
        container.image = `${String(image.newName ?? m[1])}${tag === undefined ? '' : `:${tag}`}`;
      }
    }
  }
}

function readKustomization(dir: string, kind: 'Kustomization' | 'Component'): Doc {
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Doc;
  for (const key of Object.keys(k)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`kustomize-subset: "${key}" in ${dir}/kustomization.yaml is not supported`);
  }
  if ((k.kind ?? 'Kustomization') !== kind) throw new Error(`${dir}/kustomization.yaml: kind ${String(k.kind)}, expected ${kind}`);
  return k;
}

function renderResources(dir: string, k: Doc): Doc[] {
  const docs: Doc[] = [];
  for (const resource of (k.resources ?? []) as string[]) {
    const target = path.resolve(dir, resource);
    docs.push(...(statSync(target).isDirectory() ? renderKustomization(target) : readDocs(target)));
  }
  return docs;
}

/** The documents `kubectl kustomize dir` would print (order aside). */
export function renderKustomization(dir: string): Doc[] {
  const k = readKustomization(dir, 'Kustomization');
  const docs = renderResources(dir, k);
  // A component adds its resources, then applies its patches to everything gathered so far.
  for (const component of (k.components ?? []) as string[]) {
    const componentDir = path.resolve(dir, component);
    const c = readKustomization(componentDir, 'Component');
    for (const key of ['labels', 'images', 'components']) {
      if (c[key] !== undefined) throw new Error(`kustomize-subset: "${key}" in the component ${componentDir} is not supported`);
    }
    docs.push(...renderResources(componentDir, c));
    applyPatches(docs, (c.patches ?? []) as Doc[], componentDir);
  }
  applyPatches(docs, (k.patches ?? []) as Doc[], dir);
  applyImages(docs, (k.images ?? []) as Doc[]);
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
