// Type-checks a Grafana dashboard JSON against @grafana/schema's `Dashboard` with the TypeScript
// compiler: the JSON becomes a fresh object literal in a virtual file (`<json> satisfies Dashboard`),
// so wrong types, missing required fields and unknown keys are all errors. Nothing is written to disk.
import path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from './fixtures.js';

// The generated types use TypeScript enums (ThresholdsMode, FieldColorModeId, ...), which a string
// literal from JSON cannot satisfy; `Json<T>` turns each enum into the union of its values and keeps
// everything else (optional keys, unions, index signatures) as it is.
const PRELUDE = `import type { Dashboard } from '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen';
type Json<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
export const dashboard = `;

/** Compiler messages for `json` checked as a Dashboard; empty when it conforms. */
export function dashboardSchemaErrors(json: string): string[] {
  // Inside the project, so module resolution finds node_modules/@grafana/schema.
  const file = path.join(PROJECT_ROOT, 'grafana', '__dashboard-check.ts');
  const source = `${PRELUDE}${json.trim()} satisfies Json<Dashboard>;\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (name) => name === file || ts.sys.fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) =>
    name === file ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, onError, shouldCreate);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    // Line numbers of the JSON itself (the prelude is 4 lines long, and the JSON starts on the 4th).
    return `dashboard.json line ${line - 2}: ${text}`;
  });
}
