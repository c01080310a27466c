// The documentation's links hold: every relative link in README.md, CONTRIBUTING.md, docs/*.md (and
// bench/README.md) points at a file of the repository, and every #anchor, in the same file or in
// another, matches a heading there (GitHub's slugs). The alerts' `runbook` annotations resolve the
// same way. README.md stays a front page of at most 200 lines.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const README_MAX_LINES = 200;

const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  'bench/README.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/** Files whose `runbook:` annotations must resolve (relative to the repository root). */
const ALERT_FILES = ['grafana/alerts.yml', 'grafana/alerts.test.yml', 'k8s/base/prometheusrule.yaml'];

/** GitHub's heading anchor: the heading's text, lower case, punctuation dropped except - and _, spaces to -. */
function slugify(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]*>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The lines of a markdown text outside fenced code blocks, with their line numbers. */
function proseLines(text: string): Array<{ line: string; number: number }> {
  const out: Array<{ line: string; number: number }> = [];
  let fence: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ line, number: i + 1 });
  });
  return out;
}

/** Every anchor a markdown text offers: its headings' slugs (repeats get -1, -2, … as on GitHub). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = slugify(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Link targets of a markdown text (inline links, images and reference definitions; code left out). */
function linksOf(text: string): Array<{ target: string; line: number }> {
  const links: Array<{ target: string; line: number }> = [];
  for (const { line, number } of proseLines(text)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const match of prose.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: match[1] ?? '', line: number });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose)?.[1];
    if (definition !== undefined) links.push({ target: definition, line: number });
  }
  return links;
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors === undefined) {
    anchors = anchorsOf(readFileSync(file, 'utf8'));
    anchorCache.set(file, anchors);
  }
  return anchors;
}

/**
 * What is wrong with one link target, seen from `fromFile` (whose text is `fromText`), or undefined
 * when it resolves. Links with a scheme (https:, mailto:) are not checked.
 */
function problemOf(target: string, fromFile: string, fromText: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  if (target === '') return 'an empty link';
  const hash = target.indexOf('#');
  const filePart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  let file = fromFile;
  if (filePart !== '') {
    file = path.resolve(path.dirname(fromFile), decodeURIComponent(filePart));
    const relative = path.relative(PROJECT_ROOT, file);
    if (relative.startsWith('..') || path.isAbsolute(relative)) return `${target} leaves the repository`;
    if (!existsSync(file)) return `${target}: no file ${relative}`;
  }
  if (anchor === undefined) return undefined;
  if (filePart !== '' && (statSync(file).isDirectory() || !file.endsWith('.md'))) return `${target}: an anchor into a file that is not markdown`;
  const anchors = file === fromFile ? anchorsOf(fromText) : anchorsOfFile(file);
  return anchors.has(anchor) ? undefined : `${target}: ${path.relative(PROJECT_ROOT, file)} has no heading with the anchor #${anchor}`;
}

/** Every broken link of one markdown file, as "file:line: problem". */
function brokenLinks(file: string, text: string): string[] {
  const name = path.relative(PROJECT_ROOT, file);
  return linksOf(text).flatMap(({ target, line }) => {
    const problem = problemOf(target, file, text);
    return problem === undefined ? [] : [`${name}:${line}: ${problem}`];
  });
}

describe('documentation links', () => {
  it('slugs headings as GitHub does', () => {
    assert.equal(slugify('Kubernetes: one replica (`k8s/base`)'), 'kubernetes-one-replica-k8sbase');
    assert.equal(slugify('What `npm test` checks in `k8s/` and the `Dockerfile`'), 'what-npm-test-checks-in-k8s-and-the-dockerfile');
    assert.equal(slugify('OpencodeManagerDown'), 'opencodemanagerdown');
    assert.equal(slugify('Dependencies and the lockfile'), 'dependencies-and-the-lockfile');
    assert.equal(slugify('`soak.ts`: a soak run with faults'), 'soakts-a-soak-run-with-faults');
    assert.deepEqual([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n### A b_c\n')], ['a', 'a-1', 'a-b_c']);
  });

  it('the checker reports missing files and anchors, and accepts good links', () => {
    const fake = path.join(PROJECT_ROOT, 'docs', 'not-a-real-page.md');
    const text = [
      '# Title',
      '[gone](no-such-page.md) [bad anchor](api.md#no-such-heading) [bad local](#nowhere)',
      '[fine](api.md#errors) [local](#title) [up](../README.md) [web](https://example.com/x#y) `[code](nope.md)`',
      '```',
      '[in a fence](nope.md)',
      '```',
    ].join('\n');
    const problems = brokenLinks(fake, text);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0] ?? '', /no-such-page\.md: no file docs\/no-such-page\.md/);
    assert.match(problems[1] ?? '', /docs\/api\.md has no heading with the anchor #no-such-heading/);
    assert.match(problems[2] ?? '', /#nowhere/);
  });

  for (const doc of DOCS) {
    it(`every relative link and anchor in ${doc} resolves`, () => {
      const file = path.join(PROJECT_ROOT, doc);
      const text = readFileSync(file, 'utf8');
      assert.ok(linksOf(text).length > 0 || doc === 'bench/README.md', `${doc} has no links at all: is the parser broken?`);
      assert.deepEqual(brokenLinks(file, text), [], `broken links in ${doc}`);
    });
  }

  it('every runbook annotation of the alert rules resolves to a heading', () => {
    let count = 0;
    const problems: string[] = [];
    for (const alerts of ALERT_FILES) {
      const lines = readFileSync(path.join(PROJECT_ROOT, alerts), 'utf8').split(/\r?\n/);
      lines.forEach((line, i) => {
        const target = /^\s*runbook:\s*['"]?([^'"\s]+)['"]?\s*$/.exec(line)?.[1];
        if (target === undefined) return;
        count += 1;
        if (!target.includes('#')) problems.push(`${alerts}:${i + 1}: ${target} names no section`);
        // Annotations are read from the repository root, whatever file holds them.
        const problem = problemOf(target, path.join(PROJECT_ROOT, 'runbook-link'), '');
        if (problem !== undefined) problems.push(`${alerts}:${i + 1}: ${problem}`);
      });
    }
    assert.ok(count >= 10, `expected the alert files to carry runbook annotations, found ${count}`);
    assert.deepEqual(problems, [], 'runbook annotations that do not resolve');
  });

  it(`README.md is a front page of at most ${README_MAX_LINES} lines`, () => {
    const text = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move detail into docs/`);
  });
});
