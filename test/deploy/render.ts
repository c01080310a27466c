// Renders a kustomization with `kubectl kustomize` when kubectl is installed, else with the
// built-in subset (kustomize-subset.ts); the caller reports which one ran.
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { renderKustomization, type Doc } from './kustomize-subset.js';

export type Renderer = 'kubectl' | 'builtin';

export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20000 });
    return true;
  } catch {
    return false;
  }
}

export function kubectlKustomize(dir: string): Doc[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60000 });
  return parseAllDocuments(out).map((d) => d.toJS() as Doc);
}

export function render(dir: string, renderer: Renderer): Doc[] {
  return renderer === 'kubectl' ? kubectlKustomize(dir) : renderKustomization(dir);
}
