// Renders a kustomization with `kubectl kustomize` when kubectl is installed, else with the
// built-in subset (kustomize-subset.ts); the caller reports which one ran.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

/**
 * Renders a kustomization that is not in the repository (one the docs have an operator write, or an
 * overlay with a component): k8s/ is copied to a temp dir, `kustomization` is written to
 * k8s/overlays/<name>/kustomization.yaml there, so its relative paths (../../base,
 * ../../components/...) resolve as they would in a checkout.
 */
export function renderOverlay(projectRoot: string, name: string, kustomization: string, renderer: Renderer): Doc[] {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ocpm-test-overlay-'));
  try {
    cpSync(path.join(projectRoot, 'k8s'), path.join(root, 'k8s'), { recursive: true });
    const dir = path.join(root, 'k8s', 'overlays', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'kustomization.yaml'), kustomization);
    return render(dir, renderer);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
