// The docs' kubectl commands name what k8s/ has: every `kubectl …` of README.md and docs/*.md (code
// blocks and inline code) is parsed, and each resource it names (TYPE/NAME, TYPE NAME, a pod, a
// Secret and its keys, -f PATH, -k DIR) must be a kind, and a name, of the rendered manifests. The
// overlay docs/deployment.md has an operator write (`cat > k8s/overlays/mine/kustomization.yaml`,
// then the `cat >>` additions) is rendered and checked like k8s/'s own, and the image tag the docs
// build is the one the manifests run: package.json's version.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { crossCheckProblems, workload } from './cross-checks.js';
import { commandProblems, docWrites, kubectlCommands, shellWords, type DocCommand, type DocWrite, type Manifests } from './docs-kubectl.js';
import { disallowedTypes, schemaErrors, unknownFieldErrors } from './k8s-schema.js';
import type { Doc } from './kustomize-subset.js';
import { kubectlAvailable, render, renderOverlay, type Renderer } from './render.js';

const RENDERER: Renderer = kubectlAvailable() ? 'kubectl' : 'builtin';
const VERSION = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** What the docs' shell variables stand for when the test plays their commands. */
const SAMPLE_VARIABLES = { REGISTRY: 'registry.example.com/team' };

const DOCS = [
  'README.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const texts = new Map(DOCS.map((doc) => [doc, readFileSync(path.join(PROJECT_ROOT, doc), 'utf8')]));
const commands: DocCommand[] = DOCS.flatMap((doc) => kubectlCommands(texts.get(doc) ?? '', doc));
const writes: DocWrite[] = DOCS.flatMap((doc) => docWrites(texts.get(doc) ?? '', doc, SAMPLE_VARIABLES));

/** The kustomizations of k8s/ (components are not applied on their own), relative to the root. */
function repoKustomizations(dir = 'k8s'): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(PROJECT_ROOT, dir))) {
    const child = path.join(dir, entry);
    if (!statSync(path.join(PROJECT_ROOT, child)).isDirectory()) continue;
    const file = path.join(PROJECT_ROOT, child, 'kustomization.yaml');
    if (existsSync(file) && (parse(readFileSync(file, 'utf8')) as Doc).kind !== 'Component') found.push(child);
    found.push(...repoKustomizations(child));
  }
  return found;
}

/**
 * Each kustomization the docs write, as a reader would have it after the `cat >` and after each
 * `cat >>` that follows (every addition is optional in the docs, and each builds on the ones before).
 */
function writtenKustomizations(): Array<{ dir: string; variant: string; content: string }> {
  const out: Array<{ dir: string; variant: string; content: string }> = [];
  let current: { dir: string; content: string; steps: string[] } | undefined;
  for (const write of writes.filter((w) => path.basename(w.path) === 'kustomization.yaml')) {
    const dir = path.dirname(path.normalize(write.path));
    if (!write.append) current = { dir, content: write.content, steps: [`${write.file}:${write.line}`] };
    else {
      assert.equal(current?.dir, dir, `${write.file}:${write.line}: appends to ${write.path} before any \`cat >\` writes it`);
      current = { dir, content: `${current.content}${write.content}`, steps: [...current.steps, `${write.file}:${write.line}`] };
    }
    out.push({ dir, variant: current.steps.join(' + '), content: current.content });
  }
  return out;
}

const written = writtenKustomizations();
const rendered = new Map<string, Doc[]>(repoKustomizations().map((dir) => [dir, render(path.join(PROJECT_ROOT, dir), RENDERER)]));
const renderedWritten = written.map((w) => {
  assert.match(w.dir, /^k8s\/overlays\/[^/]+$/, `${w.variant}: the docs write a kustomization outside k8s/overlays/<name>/`);
  return { ...w, docs: renderOverlay(PROJECT_ROOT, path.basename(w.dir), w.content, RENDERER) };
});

const manifests: Manifests = {
  docs: [...rendered.values(), ...renderedWritten.map((w) => w.docs)].flat(),
  kustomizations: new Set([...rendered.keys(), ...written.map((w) => w.dir)]),
  exists: (relative) => existsSync(path.join(PROJECT_ROOT, relative)),
};

describe('kubectl commands in the docs', () => {
  it(`finds them in README.md and docs/*.md (renderer: ${RENDERER})`, (t) => {
    t.diagnostic(`${commands.length} commands; kustomizations: ${[...manifests.kustomizations].join(', ')}`);
    assert.ok(commands.length >= 10, `only ${commands.length} kubectl commands found: is the parser broken?`);
    assert.ok(
      commands.some((c) => c.file === 'docs/console.md' && c.words[1] === 'port-forward'),
      'the console page port-forwards',
    );
  });

  it('every resource they name is a kind, and a name, of the rendered manifests', () => {
    assert.deepEqual(
      commands.flatMap((c) => commandProblems(c, manifests)),
      [],
    );
  });

  it('the overlay docs/deployment.md has an operator write renders, runs the image the docs build and passes the checks', async () => {
    assert.ok(renderedWritten.length >= 2, 'docs/deployment.md writes an overlay and adds to it');
    for (const { variant, docs } of renderedWritten) {
      assert.deepEqual(disallowedTypes(docs), [], variant);
      assert.deepEqual(await schemaErrors(docs), [], variant);
      assert.deepEqual(unknownFieldErrors(docs, PROJECT_ROOT), [], variant);
      assert.deepEqual(crossCheckProblems(docs), [], variant);
      assert.equal(workload(docs).container.image, `${SAMPLE_VARIABLES.REGISTRY}/opencode-process-manager:${VERSION}`, variant);
    }
    const withoutOperator = renderedWritten.filter((w) => w.content.includes('components/without-prometheus-operator'));
    assert.ok(withoutOperator.length > 0, 'docs/deployment.md shows the overlay without prometheus-operator');
    for (const { variant, docs } of withoutOperator) {
      assert.deepEqual(
        docs.filter((d) => String(d.apiVersion).startsWith('monitoring.coreos.com/')).map((d) => d.kind),
        [],
        variant,
      );
    }
    const required = renderedWritten.filter((w) => w.content.includes('OCPM_ISOLATION'));
    assert.ok(required.length > 0, 'docs/deployment.md shows how to require isolation');
    for (const { variant, docs } of required) {
      assert.equal(docs.find((d) => d.kind === 'ConfigMap')?.data.OCPM_ISOLATION, 'required', variant);
    }
  });

  it(`the image the docs build, push and run carries the one tag the manifests run: ${VERSION} (package.json)`, () => {
    assert.equal(workload(rendered.get('k8s/base') ?? []).container.image, `opencode-process-manager:${VERSION}`, 'k8s/base/statefulset.yaml');
    const problems: string[] = [];
    for (const [doc, text] of texts) {
      text.split('\n').forEach((line, i) => {
        // An image reference: [registry/]opencode-process-manager:tag, not a Service's host:port.
        for (const m of line.matchAll(/(?<!\/\/)(?<![\w.-])(?:[\w.${}-]+(?::\d+)?\/)*opencode-process-manager:([\w][\w.-]*)/g)) {
          if (m[1] !== VERSION && !/^\d+$/.test(String(m[1]))) problems.push(`${doc}:${i + 1}: ${m[0]} is not tagged ${VERSION}`);
        }
        for (const m of line.matchAll(/\s-t\s+["']?(\S*opencode-process-manager\b[^\s"']*)/g)) {
          if (!String(m[1]).endsWith(`opencode-process-manager:${VERSION}`)) problems.push(`${doc}:${i + 1}: builds ${m[1]}, not tagged ${VERSION}`);
        }
        for (const m of line.matchAll(/newTag:\s*["']?([^"'\s]+)/g)) {
          if (m[1] !== VERSION) problems.push(`${doc}:${i + 1}: newTag ${m[1]} is not ${VERSION}`);
        }
      });
    }
    assert.deepEqual(problems, []);
  });

  describe('the check catches what it is for', () => {
    const problemsOf = (line: string, file = 'docs/example.md'): string[] =>
      kubectlCommands(`text\n\n\`\`\`sh\n${line}\n\`\`\`\n`, file).flatMap((c) => commandProblems(c, manifests));

    it('a Deployment where the manifests have a StatefulSet (the console page once said so)', () => {
      const inline = kubectlCommands('With Kubernetes, `kubectl port-forward deploy/opencode-process-manager 3000` and open it.', 'docs/console.md');
      assert.equal(inline.length, 1);
      assert.match(commandProblems(inline[0] as DocCommand, manifests).join('\n'), /docs\/console\.md:1: .*the manifests have no Deployment/);
      assert.deepEqual(problemsOf('kubectl port-forward statefulset/opencode-process-manager 3000'), []);
    });

    it('a wrong name, a pod no StatefulSet makes, an unknown type', () => {
      assert.match(problemsOf('kubectl rollout status sts/opencode-process-manger').join('\n'), /StatefulSet opencode-process-manger is not in the manifests/);
      assert.match(problemsOf('kubectl logs web-0').join('\n'), /pod web-0 is no pod of the StatefulSets/);
      assert.match(problemsOf('kubectl get widgets').join('\n'), /unknown resource type "widgets"/);
      assert.deepEqual(problemsOf('kubectl exec opencode-process-manager-0 -- ocpm status'), []);
      assert.deepEqual(problemsOf('kubectl exec <pod> -- ocpm sessions'), []);
    });

    it('a Secret of another name or without the key the pod reads, a key nobody reads', () => {
      assert.match(problemsOf('kubectl create secret generic ocpm-token --from-literal=api-token=x').join('\n'), /Secret ocpm-token is not in the manifests/);
      assert.match(
        problemsOf('kubectl create secret generic opencode-process-manager-api-token --from-literal=token="$(openssl rand -hex 32)"').join('\n'),
        /lacks the key\(s\) the manifests read: api-token/,
      );
      assert.match(
        problemsOf("TOKEN=$(kubectl get secret opencode-process-manager-api-token -o jsonpath='{.data.token}' | base64 -d)").join('\n'),
        /has no key token/,
      );
      assert.deepEqual(problemsOf('kubectl create secret generic opencode-process-manager-providers --from-literal=ANY_KEY=x'), []);
    });

    it('a -k or -f path that is not there, a CRD the manifests do not use, an unknown verb', () => {
      assert.match(problemsOf('kubectl apply -k k8s/overlays/nope').join('\n'), /-k k8s\/overlays\/nope: no kustomization there/);
      assert.match(problemsOf('kubectl apply -f k8s/base/deployment.yaml').join('\n'), /no such file/);
      assert.match(problemsOf('kubectl get crd certificates.cert-manager.io').join('\n'), /CRD certificates\.cert-manager\.io is not in the manifests/);
      assert.deepEqual(problemsOf('kubectl get crd servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com'), []);
      assert.match(problemsOf('kubectl frobnicate pods').join('\n'), /the verb "frobnicate" is not known/);
    });

    it('reads commands as a shell would: continuation lines, pipes, substitutions, quotes, comments', () => {
      assert.deepEqual(shellWords(`kubectl get secret x -o jsonpath='{.data.api-token}' | base64 -d`), [
        'kubectl',
        'get',
        'secret',
        'x',
        '-o',
        'jsonpath={.data.api-token}',
      ]);
      assert.deepEqual(shellWords('kubectl create secret generic s --from-literal=k="$(openssl rand -hex 32)" # a comment'), [
        'kubectl',
        'create',
        'secret',
        'generic',
        's',
        '--from-literal=k=$(openssl rand -hex 32)',
      ]);
      const found = kubectlCommands(
        '```sh\nA=$(kubectl get pods) && kubectl apply \\\n  -k k8s/base   # note\ncat > f <<EOF\nkubectl in a heredoc\nEOF\n```\n',
        'x.md',
      );
      assert.deepEqual(
        found.map((c) => c.words.join(' ')),
        ['kubectl get pods', 'kubectl apply -k k8s/base'],
      );
    });
  });
});
