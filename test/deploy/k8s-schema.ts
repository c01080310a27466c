// Offline checks of rendered Kubernetes documents: the apiVersion/kind allow-list, the OpenAPI
// schemas (kubernetes-models and the CRD models: types, enums, required fields) and unknown fields, which the schemas
// let through: each document becomes `<literal> satisfies I<Kind>` in a virtual TypeScript file
// and tsc's excess-property check names any field the type does not have.
import path from 'node:path';
import ts from 'typescript';
import type { Doc } from './kustomize-subset.js';

/**
 * The only apiVersion/kind pairs we ship, with the model package that knows each. Envoy Gateway's
 * BackendTrafficPolicy has no model package: ./envoy-gateway.ts is its model, written here.
 */
export const ALLOWED: Record<string, string> = {
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/PersistentVolumeClaim': 'kubernetes-models/v1/PersistentVolumeClaim',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  'gateway.networking.k8s.io/v1/Gateway': '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway',
  'gateway.networking.k8s.io/v1/HTTPRoute': '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute',
  'gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy': './envoy-gateway.js',
  'monitoring.coreos.com/v1/ServiceMonitor': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
  'keda.sh/v1alpha1/ScaledObject': '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject',
};

export const typeKey = (doc: Doc): string => `${String(doc.apiVersion)}/${String(doc.kind)}`;
export const docName = (doc: Doc): string => `${String(doc.kind)}/${String(doc.metadata?.name)}`;

/** Problems with apiVersion/kind, as messages (empty when every document is allowed). */
export function disallowedTypes(docs: Doc[]): string[] {
  return docs.filter((d) => ALLOWED[typeKey(d)] === undefined).map((d) => `${docName(d)}: ${typeKey(d)} is not on the allow-list`);
}

/** Schema violations from kubernetes-models' validate(), one message per failing document. */
export async function schemaErrors(docs: Doc[]): Promise<string[]> {
  const errors: string[] = [];
  for (const doc of docs) {
    const spec = ALLOWED[typeKey(doc)];
    if (spec === undefined) continue;
    const model = (await import(spec)) as Record<string, new (data: Doc) => { validate(): void }>;
    const Model = model[String(doc.kind)];
    if (Model === undefined) throw new Error(`${spec} has no export ${String(doc.kind)}`);
    try {
      new Model(doc).validate();
    } catch (error) {
      errors.push(`${docName(doc)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return errors;
}

/** Fields the model types do not declare (typos, fields of other versions), via tsc. */
export function unknownFieldErrors(docs: Doc[], projectRoot: string): string[] {
  const file = path.join(projectRoot, 'test', 'deploy', '__manifests__.ts');
  const lines: string[] = [];
  const owners: Array<{ from: number; doc: Doc }> = [];
  docs.forEach((doc, i) => {
    const spec = ALLOWED[typeKey(doc)];
    if (spec === undefined) return;
    lines.push(`import type { I${String(doc.kind)} as T${i} } from '${spec}';`);
  });
  docs.forEach((doc, i) => {
    if (ALLOWED[typeKey(doc)] === undefined) return;
    owners.push({ from: lines.length, doc });
    lines.push(...`export const d${i} = ${JSON.stringify(doc, null, 2)} satisfies T${i};`.split('\n'));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const real = { fileExists: host.fileExists.bind(host), readFile: host.readFile.bind(host), getSourceFile: host.getSourceFile.bind(host) };
  host.fileExists = (name) => name === file || real.fileExists(name);
  host.readFile = (name) => (name === file ? source : real.readFile(name));
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === file ? ts.createSourceFile(name, source, languageVersion, true) : real.getSourceFile(name, languageVersion, ...rest);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const owner = [...owners].reverse().find((o) => o.from <= line);
    const text = lines[line]?.trim() ?? '';
    return `${owner === undefined ? 'imports' : docName(owner.doc)}: ${message} (at ${text})`;
  });
}
