// Every policy file of the shared corpus (real Cilium examples, tutorials and test manifests) loads
// or is rejected with precise, positioned problems; which files are rejected, and with which codes,
// is pinned in expected-rejections.ts. Each file is loaded on its own: the files are independent
// upstream examples, and loading them together would only report the expected duplicate names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySources, loadPolicyText, formatPosition } from '../../policy/index.js';
import type { FileLoadResult, LoadResult, PolicyProblem } from '../../policy/index.js';
import { corpusDir, isTemplate, listCorpusFiles, type CorpusFile } from './corpus-files.js';
import { EXPECTED_REJECTIONS } from './expected-rejections.js';
import { renderCorpusTemplate, renderedKey, templateVariants } from './template-data.js';

/** One load of one input: a corpus file as written, or one rendering of a template. */
interface Outcome {
  /** Key of the expectation table. */
  key: string;
  /** The name the loader was given (positions must carry it). */
  file: string;
  text: string;
  kind: 'file' | 'template' | 'rendered';
  result: FileLoadResult | LoadResult | undefined;
  /** Set when loading threw, or rendering failed. */
  crash?: string;
}

const POLICY_KINDS = new Set(['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy']);

let cached: Promise<{ files: CorpusFile[]; outcomes: Outcome[] }> | undefined;

/** Loads the whole corpus once; the tests below check different properties of the same outcomes. */
function loadCorpus(): Promise<{ files: CorpusFile[]; outcomes: Outcome[] }> {
  cached ??= (async () => {
    const files = listCorpusFiles(corpusDir());
    const outcomes: Outcome[] = [];
    for (const f of files) {
      const template = isTemplate(f.text);
      const outcome: Outcome = { key: f.rel, file: f.abs, text: f.text, kind: template ? 'template' : 'file', result: undefined };
      try {
        outcome.result = await loadPolicySources([f.abs]);
      } catch (e) {
        outcome.crash = `loadPolicySources threw: ${(e as Error).stack ?? String(e)}`;
      }
      outcomes.push(outcome);
      if (!template) continue;
      for (const variant of templateVariants(f.rel)) {
        const key = renderedKey(f.rel, variant);
        const rendered: Outcome = { key, file: key, text: '', kind: 'rendered', result: undefined };
        try {
          rendered.text = renderCorpusTemplate(f.rel, f.text, variant.data);
        } catch (e) {
          rendered.crash = `rendering failed (extend test/corpus/go-template.ts or template-data.ts): ${(e as Error).message}`;
          outcomes.push(rendered);
          continue;
        }
        try {
          rendered.result = loadPolicyText(key, rendered.text);
        } catch (e) {
          rendered.crash = `loadPolicyText threw: ${(e as Error).stack ?? String(e)}`;
        }
        outcomes.push(rendered);
      }
    }
    return { files, outcomes };
  })();
  return cached;
}

/** Fails with one line per finding (assert.deepEqual would print every finding twice). */
function assertNone(findings: readonly string[], header: string): void {
  if (findings.length > 0) assert.fail(`${header} (${findings.length}):\n${findings.join('\n')}`);
}

function codesOf(problems: readonly PolicyProblem[]): string[] {
  return [...new Set(problems.map((p) => p.code))].sort();
}

function describeProblem(p: PolicyProblem | undefined): string {
  return p ? `${formatPosition(p.position)} ${p.code} ${p.message}` : '(no problem)';
}

/** Why a problem is not precise enough, or undefined when it is. */
function positionDefect(p: PolicyProblem, file: string, text: string): string | undefined {
  if (typeof p.code !== 'string' || !p.code.startsWith('MESHD_ERR_POLICY_')) return `code ${JSON.stringify(p.code)} is not a MESHD_ERR_POLICY_ code`;
  if (typeof p.message !== 'string' || p.message.trim() === '') return 'empty message';
  if (typeof p.path !== 'string') return 'path is not a string';
  const pos = p.position as Partial<PolicyProblem['position']> | undefined;
  if (!pos) return 'no position';
  if (pos.file !== file) return `position names ${JSON.stringify(pos.file)}, not the file ${JSON.stringify(file)}`;
  if (!Number.isInteger(pos.line) || pos.line! < 1) return `line ${String(pos.line)} is not >= 1`;
  if (!Number.isInteger(pos.col) || pos.col! < 1) return `col ${String(pos.col)} is not >= 1`;
  const lines = text.split('\n');
  if (pos.line! > lines.length) return `line ${pos.line} is past the end of the file (${lines.length} lines)`;
  if (pos.col! > (lines[pos.line! - 1]?.length ?? 0) + 1) return `col ${pos.col} is past the end of line ${pos.line}`;
  return undefined;
}

test('the shared corpus is found beside the repository', () => {
  const dir = corpusDir(); // throws with instructions when missing: never a silent skip
  const files = listCorpusFiles(dir);
  assert.ok(files.length >= 300, `expected the full corpus (377 files), found ${files.length} under ${dir}`);
});

test('loading any corpus file never throws, and every template renders', async () => {
  const { outcomes } = await loadCorpus();
  const crashes = outcomes.filter((o) => o.crash !== undefined).map((o) => `${o.key}: ${o.crash}`);
  assertNone(crashes, 'the loader threw or a template did not render');
});

test('every problem has a MESHD_ERR_POLICY_ code, a message and a position inside its file', async () => {
  const { outcomes } = await loadCorpus();
  const defects: string[] = [];
  for (const o of outcomes) {
    for (const p of o.result?.problems ?? []) {
      const defect = positionDefect(p, o.file, o.text);
      if (defect) defects.push(`${o.key}: ${defect} — ${describeProblem(p)}`);
    }
    for (const w of o.result?.warnings ?? []) {
      if (w.position.file !== o.file || w.position.line < 1 || w.position.col < 1) defects.push(`${o.key}: warning without a valid position: ${w.message}`);
    }
  }
  assertNone(defects, 'problems without a precise code, message or position');
});

test('a rejected file contributes no policies and no CIDR groups', async () => {
  const { outcomes } = await loadCorpus();
  const leaks: string[] = [];
  for (const o of outcomes) {
    const r = o.result;
    if (!r || r.problems.length === 0) continue;
    // The whole file is dropped, CIDR groups included.
    if (r.policies.length > 0) leaks.push(`${o.key}: rejected, yet ${r.policies.length} policies returned`);
    if (r.cidrGroups.length > 0) leaks.push(`${o.key}: rejected, yet ${r.cidrGroups.length} CIDR groups returned`);
  }
  assertNone(leaks, 'rejected files that still returned policies');
});

test('a template is rejected as a template at its first placeholder before rendering', async () => {
  const { outcomes } = await loadCorpus();
  const templates = outcomes.filter((x) => x.kind === 'template');
  // The corpus ships cilium-cli and ClusterLoader2 templates; none found means isTemplate broke.
  assert.ok(templates.length > 0, 'expected Go templates in the corpus, found none');
  const wrong: string[] = [];
  for (const o of templates) {
    const problems = o.result?.problems ?? [];
    const at = o.text.indexOf('{{');
    const before = o.text.slice(0, at);
    const line = before.split('\n').length;
    const col = at - before.lastIndexOf('\n');
    const first = problems[0];
    if (codesOf(problems).join() !== 'MESHD_ERR_POLICY_TEMPLATE') wrong.push(`${o.key}: expected MESHD_ERR_POLICY_TEMPLATE, got ${codesOf(problems).join(', ') || 'no problem'}`);
    else if (first!.position.line !== line || first!.position.col !== col) wrong.push(`${o.key}: placeholder is at ${line}:${col}, problem says ${describeProblem(first)}`);
  }
  assertNone(wrong, 'templates not rejected as templates at their first placeholder');
});

test('the rejected files and their codes match expected-rejections.ts', async () => {
  const { files, outcomes } = await loadCorpus();
  const diffs: string[] = [];
  const seen = new Set<string>();
  for (const o of outcomes) {
    if (o.kind === 'template' || !o.result) continue; // raw templates are checked above
    seen.add(o.key);
    const actual = codesOf(o.result.problems);
    const expected = EXPECTED_REJECTIONS[o.key];
    const expectedCodes = expected ? [...new Set(expected.codes)].sort() : [];
    if (actual.join() === expectedCodes.join()) continue;
    const first = describeProblem(o.result.problems[0]);
    if (!expected) diffs.push(`+ new rejection   ${o.key}\n    ${actual.join(', ')}\n    first: ${first}`);
    else if (actual.length === 0) diffs.push(`- no longer rejected   ${o.key}\n    table: ${expectedCodes.join(', ')} (${expected.why})`);
    else diffs.push(`~ changed codes   ${o.key}\n    table: ${expectedCodes.join(', ')}\n    now:   ${actual.join(', ')}\n    first: ${first}`);
  }
  for (const key of Object.keys(EXPECTED_REJECTIONS)) {
    if (!seen.has(key)) diffs.push(`- stale table entry (no such corpus file or rendering)   ${key}`);
  }

  const rejected = outcomes.filter((o) => o.kind !== 'template' && (o.result?.problems.length ?? 0) > 0);
  const suspects = Object.entries(EXPECTED_REJECTIONS).filter(([, e]) => e.suspect !== undefined);
  const skippedByKind = new Map<string, number>();
  for (const o of outcomes) for (const s of o.result?.skipped ?? []) skippedByKind.set(s.kind, (skippedByKind.get(s.kind) ?? 0) + 1);
  const count = (kind: Outcome['kind'], pred: (o: Outcome) => boolean): number => outcomes.filter((o) => o.kind === kind && pred(o)).length;
  const loaded = (o: Outcome): boolean => o.result !== undefined && o.result.problems.length === 0;
  const policies = outcomes.reduce((n, o) => n + (o.kind !== 'template' && o.result ? o.result.policies.length : 0), 0);
  console.log(
    [
      `corpus: ${files.length} files: ${count('file', () => true)} as written, ${count('template', () => true)} templates`,
      `  as written: ${count('file', loaded)} loaded, ${count('file', (o) => !loaded(o))} rejected`,
      `  templates: ${count('template', () => true)} rejected as templates, ${count('rendered', () => true)} renderings: ${count('rendered', loaded)} loaded, ${count('rendered', (o) => !loaded(o))} rejected`,
      `  policies loaded: ${policies}; documents skipped by kind: ${[...skippedByKind].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `  rejections (${rejected.length}; ${suspects.length} suspected meshd bugs):`,
      ...rejected.map((o) => {
        const e = EXPECTED_REJECTIONS[o.key];
        return `    ${e?.suspect ? 'SUSPECT ' : ''}${o.key}: ${codesOf(o.result!.problems).join(', ')}${e ? ` — ${e.why}` : ' — NOT IN TABLE'}`;
      }),
    ].join('\n'),
  );

  assertNone(diffs, 'the corpus rejections differ from test/corpus/expected-rejections.ts; read each problem, then update the table deliberately');
  // Every file is loaded exactly once as written, and every template once per rendering.
  assert.equal(count('file', () => true) + count('template', () => true), files.length);
  const renderings = files.filter((f) => isTemplate(f.text)).reduce((n, f) => n + templateVariants(f.rel).length, 0);
  assert.equal(count('rendered', () => true), renderings);
});

test('documents of other kinds are skipped with a note, not a problem', async () => {
  const { outcomes } = await loadCorpus();
  const seenKinds = new Set<string>();
  const bad: string[] = [];
  for (const o of outcomes) {
    for (const s of o.result?.skipped ?? []) {
      seenKinds.add(s.kind);
      if (POLICY_KINDS.has(s.kind)) bad.push(`${o.key}: policy kind ${s.kind} was skipped`);
      if (!s.note || !s.note.includes(s.kind)) bad.push(`${o.key}: skipped ${s.kind} without a note naming it (${JSON.stringify(s.note)})`);
      if (s.position.file !== o.file || s.position.line < 1 || s.position.col < 1) bad.push(`${o.key}: skipped ${s.kind} without a position`);
      const clash = o.result!.problems.find((p) => p.position.line === s.position.line);
      if (clash) bad.push(`${o.key}: a problem sits on the skipped ${s.kind} document: ${describeProblem(clash)}`);
    }
  }
  assertNone(bad, 'skipped documents without a proper note');
  // The corpus mixes policies with workloads, and with kinds meshd does not enforce.
  for (const kind of ['Deployment', 'Service', 'CiliumClusterwideEnvoyConfig', 'ClusterNetworkPolicy']) {
    assert.ok(seenKinds.has(kind), `expected ${kind} documents to be skipped somewhere in the corpus; skipped: ${[...seenKinds].join(', ')}`);
  }
});

test('a file holding only the non-policy documents of a corpus file loads with notes and no problems', async () => {
  const { files } = await loadCorpus();
  // connectivity-check bundles interleave Deployments and Services with their policies.
  const mixed = files.filter((f) => /connectivity-check\/connectivity-check.*\.yaml$/.test(f.rel));
  assert.ok(mixed.length > 0, 'expected the connectivity-check bundles in the corpus');
  let checked = 0;
  for (const f of mixed) {
    const docs = f.text.split(/^---[ \t]*$/m);
    const others = docs.filter((d) => /^kind:\s*(Deployment|Service|DaemonSet|StatefulSet)\s*$/m.test(d));
    if (others.length === 0) continue;
    checked++;
    const text = others.join('\n---\n');
    const r = loadPolicyText(f.rel, text);
    assert.deepEqual(r.problems, [], `${f.rel}: non-policy documents produced problems`);
    assert.equal(r.policies.length, 0);
    assert.equal(r.skipped.length, others.length, `${f.rel}: every non-policy document is noted as skipped`);
  }
  assert.ok(checked > 0, `none of the ${mixed.length} connectivity-check bundles has a Deployment or Service document to check`);
});

// Twins whose upstream sources genuinely differ in how rule elements are split (not a loader
// difference); their rule counts still agree.
const TWINS_WRITTEN_DIFFERENTLY: Readonly<Record<string, string>> = {
  'v1.18-dev/examples/policies/l4/from_init.json': 'JSON puts fromEntities and toPorts in one ingress element; the YAML splits them into two',
  'v1.18-dev/examples/policies/l7/http/simple/l7.json': 'JSON splits fromEndpoints and toPorts into two ingress elements; the YAML has one',
};

test('the JSON twins in v1.18-dev load to the same number of rules as their YAML siblings', async () => {
  const { files, outcomes } = await loadCorpus();
  const byKey = new Map(outcomes.map((o) => [o.key, o]));
  const rel = new Set(files.map((f) => f.rel));
  const pairs: [string, string][] = [];
  for (const f of files) {
    if (!f.rel.startsWith('v1.18-dev/') || !f.rel.endsWith('.json')) continue;
    const yaml = `${f.rel.slice(0, -'.json'.length)}.yaml`;
    // The YAML sibling sits beside the twin, or at the same path in the v1.20-dev tree.
    const sibling = [yaml, yaml.replace(/^v1\.18-dev\//, 'v1.20-dev/')].find((p) => rel.has(p));
    if (sibling) pairs.push([f.rel, sibling]);
  }
  assert.ok(pairs.length >= 40, `expected the examples/policies JSON twins, found ${pairs.length} pairs`);
  const rules = (o: Outcome) => (o.result?.policies ?? []).flatMap((p) => p.rules);
  const shape = (o: Outcome): string =>
    rules(o)
      .map((r) => `ingress ${r.ingress.length} ingressDeny ${r.ingressDeny.length} egress ${r.egress.length} egressDeny ${r.egressDeny.length}`)
      .sort()
      .join('; ');
  const mismatches: string[] = [];
  for (const [json, yaml] of pairs) {
    const a = byKey.get(json)!;
    const b = byKey.get(yaml)!;
    const [codesA, codesB] = [codesOf(a.result?.problems ?? []), codesOf(b.result?.problems ?? [])];
    if (codesA.join() !== codesB.join()) mismatches.push(`${json} is ${codesA.join(', ') || 'accepted'} but ${yaml} is ${codesB.join(', ') || 'accepted'}`);
    else if (rules(a).length !== rules(b).length) mismatches.push(`${json}: ${rules(a).length} rules, ${yaml}: ${rules(b).length} rules`);
    else if (shape(a) !== shape(b) && !TWINS_WRITTEN_DIFFERENTLY[json]) mismatches.push(`${json}: [${shape(a)}] vs ${yaml}: [${shape(b)}]`);
    else if (shape(a) === shape(b) && TWINS_WRITTEN_DIFFERENTLY[json]) mismatches.push(`${json}: now shaped like ${yaml}; drop it from TWINS_WRITTEN_DIFFERENTLY`);
  }
  assertNone(mismatches, 'JSON twins that load differently from their YAML siblings');
});
