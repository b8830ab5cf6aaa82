// Loads policy files and directories. A file is all-or-nothing: if any document in it has a
// problem, nothing from that file is returned as loaded (so an apply never half-applies a file).

import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { PolicyProblem, SourcePosition } from '../errors.js';
import type { CidrGroup, Policy, PolicyOrigin, PolicyRule, SkippedDocument } from '../model.js';
import { parseCidr } from '../cidr/index.js';
import { Checker, describe, isPlainObject, type Field } from './checker.js';
import { checkCiliumRule } from './cilium-rule.js';
import { checkL7Merge } from './l7-merge-check.js';
import { checkNetworkPolicySpec } from './network-policy.js';
import { scopeRule, type ScopeWarning } from './namespace-scope.js';
import { parseSource, type ParsedDocument } from './yaml-source.js';
import { policyDisplayName, policyKey } from '../policy-ref.js';

export interface PolicyWarning {
  message: string;
  position: SourcePosition;
}

export interface LoadResult {
  /** Every file read, in load order. */
  files: string[];
  /** Policies of files that loaded without any problem. */
  policies: Policy[];
  cidrGroups: CidrGroup[];
  skipped: SkippedDocument[];
  problems: PolicyProblem[];
  warnings: PolicyWarning[];
}

export interface FileLoadResult {
  policies: Policy[];
  cidrGroups: CidrGroup[];
  skipped: SkippedDocument[];
  problems: PolicyProblem[];
  warnings: PolicyWarning[];
}

const POLICY_EXTENSIONS = ['.yaml', '.yml', '.json'];
/** Larger files are not policies someone wrote; refuse instead of parsing megabytes of YAML. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const DEFAULT_NAMESPACE = 'default';

/** Loads files and directories (recursively: *.yaml, *.yml, *.json), in sorted order. */
export async function loadPolicySources(paths: string[]): Promise<LoadResult> {
  const result: LoadResult = { files: [], policies: [], cidrGroups: [], skipped: [], problems: [], warnings: [] };
  const files: string[] = [];
  for (const p of paths) {
    try {
      files.push(...(await expand(p, true)));
    } catch (e) {
      result.problems.push(readProblem(p, e));
    }
  }
  const seen = new Map<string, Policy>();
  for (const file of files) {
    result.files.push(file);
    let text: string;
    try {
      const st = await stat(file);
      if (st.size > MAX_FILE_BYTES) throw new Error(`file is ${st.size} bytes; policy files are limited to ${MAX_FILE_BYTES}`);
      text = await readFile(file, 'utf8');
    } catch (e) {
      result.problems.push(readProblem(file, e));
      continue;
    }
    const r = loadPolicyText(file, text);
    // Names must be unique across the whole set, as they are in one Kubernetes cluster.
    const inThisFile = new Map<string, Policy>();
    for (const policy of r.policies) {
      if (policy.origin.kind === 'CiliumRuleList') continue;
      const key = policyKey(policy.origin);
      const earlier = seen.get(key) ?? inThisFile.get(key);
      inThisFile.set(key, policy);
      if (earlier) {
        r.problems.push({
          code: 'MESHD_ERR_POLICY_DUPLICATE_NAME',
          message: `${policy.origin.kind} ${policyDisplayName(policy.origin)} is already defined at ${earlier.origin.position.file}:${earlier.origin.position.line}`,
          path: 'metadata.name',
          position: policy.origin.position,
          hint: 'rename one of them; a later definition would silently replace the earlier one in a cluster',
        });
      }
    }
    result.problems.push(...r.problems);
    result.warnings.push(...r.warnings);
    result.skipped.push(...r.skipped);
    if (r.problems.length === 0) {
      for (const p of r.policies) seen.set(policyKey(p.origin), p);
      result.policies.push(...r.policies);
      result.cidrGroups.push(...r.cidrGroups);
    }
  }
  return result;
}

async function expand(path: string, explicit: boolean): Promise<string[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return explicit || POLICY_EXTENSIONS.some((e) => path.endsWith(e)) ? [path] : [];
  const out: string[] = [];
  for (const name of (await readdir(path)).sort()) {
    if (name.startsWith('.')) continue;
    out.push(...(await expand(join(path, name), false)));
  }
  return out;
}

function readProblem(file: string, e: unknown): PolicyProblem {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file or directory' : err.message;
  return { code: 'MESHD_ERR_POLICY_FILE_READ', message: `cannot read ${file}: ${why}`, path: '', position: { file, line: 1, col: 1 } };
}

// Go templates (`{{.TestNamespace}}`) are how upstream test manifests are parameterized.
const TEMPLATE_PLACEHOLDER = /\{\{[^\n]*?\}\}/;

/** Loads one file's text. Exposed for tests and fuzzing (no I/O). */
export function loadPolicyText(file: string, text: string): FileLoadResult {
  const out: FileLoadResult = { policies: [], cidrGroups: [], skipped: [], problems: [], warnings: [] };
  const template = TEMPLATE_PLACEHOLDER.exec(text);
  if (template) {
    const before = text.slice(0, template.index);
    const line = before.split('\n').length;
    const col = template.index - before.lastIndexOf('\n');
    out.problems.push({
      code: 'MESHD_ERR_POLICY_TEMPLATE',
      message: `template placeholder ${JSON.stringify(template[0].slice(0, 60))}: this file is a template, not a policy`,
      path: '',
      position: { file, line, col },
      hint: 'render the template first (helm template, or your generator) and validate its output',
    });
    return out;
  }
  const parsed = parseSource(file, text);
  for (const p of parsed.syntaxProblems) {
    out.problems.push({ code: 'MESHD_ERR_POLICY_SYNTAX', message: p.message, path: '', position: p.position });
  }
  for (const doc of parsed.documents) loadDocument(file, doc, out);
  for (const policy of out.policies) out.problems.push(...checkL7Merge(policy));
  // All or nothing per file: a file with a problem contributes no policy.
  if (out.problems.length > 0) {
    out.policies = [];
    out.cidrGroups = [];
  }
  return out;
}

function loadDocument(file: string, doc: ParsedDocument, out: FileLoadResult): void {
  const value = doc.value;
  if (Array.isArray(value) ? value.some(looksLikeRule) : isPlainObject(value) && !('kind' in value) && looksLikeRule(value)) {
    loadRuleList(file, doc, out);
    return;
  }
  if (Array.isArray(value)) {
    out.skipped.push({ kind: 'list', name: undefined, position: doc.position, note: 'a list whose items are not Cilium rules (no endpointSelector or nodeSelector)' });
    return;
  }
  const c = new Checker(doc);
  loadObject(c, { value, path: [] }, file, out);
  out.problems.push(...c.problems);
}

/** A bare JSON array of rules (Cilium's runtime format), or a single bare rule. */
function loadRuleList(file: string, doc: ParsedDocument, out: FileLoadResult): void {
  const c = new Checker(doc, true);
  const origin: PolicyOrigin = { kind: 'CiliumRuleList', namespace: undefined, name: basename(file), position: doc.position };
  const items: Field[] = Array.isArray(doc.value) ? doc.value.map((v, i) => ({ value: v, path: [i] })) : [{ value: doc.value, path: [] }];
  const rules: PolicyRule[] = [];
  items.forEach((item, i) => {
    const rule = checkCiliumRule(c, item, { origin, ruleIndex: i, allowNodeSelector: true });
    if (rule) rules.push(rule);
  });
  if (items.length === 0) c.report('MESHD_ERR_POLICY_EMPTY_RULE', [], 'the rule list is empty');
  out.problems.push(...c.problems);
  if (c.problems.length === 0) out.policies.push({ origin, rules });
}

function loadObject(c: Checker, f: Field, file: string, out: FileLoadResult): void {
  if (!isPlainObject(f.value)) {
    c.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `a policy document must be an object, not ${describe(f.value)}`);
    return;
  }
  const kind = f.value['kind'];
  const apiVersion = f.value['apiVersion'];
  if (typeof kind !== 'string') {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, 'the document has no "kind"', 'policy documents are CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy');
    return;
  }
  const position = c.positionOf([...f.path, 'kind']);
  const name = readName(f.value);
  switch (kind) {
    case 'List': {
      const o = c.object(f.value, f.path, { known: ['apiVersion', 'kind', 'items', 'metadata'] }, 'a List');
      c.list(o?.get('items'), 'items', (item) => {
        loadObject(c, item, file, out);
        return true;
      });
      return;
    }
    case 'CiliumNetworkPolicy':
    case 'CiliumClusterwideNetworkPolicy':
      if (!checkApiVersion(c, f, apiVersion, ['cilium.io/v2'])) return;
      loadCiliumPolicy(c, f, kind, position, out);
      return;
    case 'NetworkPolicy':
      if (apiVersion === 'networking.k8s.io/v1') {
        loadNetworkPolicy(c, f, position, out);
        return;
      }
      break; // another API group's NetworkPolicy (e.g. Calico's): not ours
    case 'CiliumCIDRGroup':
      loadCidrGroup(c, f, position, out);
      return;
  }
  out.skipped.push({
    kind,
    name,
    position,
    note: kind === 'ClusterNetworkPolicy' ? 'ClusterNetworkPolicy (policy.networking.k8s.io) is not enforced by meshd yet' : `${kind} is not a policy kind meshd enforces`,
  });
}

function checkApiVersion(c: Checker, f: Field, apiVersion: unknown, accepted: string[]): boolean {
  if (typeof apiVersion === 'string' && accepted.includes(apiVersion)) return true;
  c.report(
    apiVersion === undefined ? 'MESHD_ERR_POLICY_MISSING_FIELD' : 'MESHD_ERR_POLICY_INVALID_VALUE',
    apiVersion === undefined ? f.path : [...f.path, 'apiVersion'],
    apiVersion === undefined ? 'the document has no "apiVersion"' : `apiVersion ${describe(apiVersion)} is not supported for this kind`,
    `use apiVersion: ${accepted.join(' or ')}`,
  );
  return false;
}

interface Metadata {
  name: string;
  namespace: string | undefined;
  labels: Record<string, string>;
}

const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status'];
// Kubernetes object names are DNS subdomains (RFC 1123), at most 253 characters.
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function checkMetadata(c: Checker, top: Map<string, Field>, f: Field): Metadata | undefined {
  const mf = top.get('metadata');
  if (!mf) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, 'the document has no "metadata"', 'add `metadata: {name: my-policy}`');
    return undefined;
  }
  if (!isPlainObject(mf.value)) {
    c.report('MESHD_ERR_POLICY_WRONG_TYPE', mf.path, `metadata must be an object, not ${describe(mf.value)}`);
    return undefined;
  }
  // ObjectMeta has many server-set fields (uid, resourceVersion, managedFields, ...): accept them.
  const nameField: Field | undefined = 'name' in mf.value ? { value: mf.value['name'], path: [...mf.path, 'name'] } : undefined;
  const nsField: Field | undefined = 'namespace' in mf.value && mf.value['namespace'] !== null ? { value: mf.value['namespace'], path: [...mf.path, 'namespace'] } : undefined;
  const name = c.string(nameField, 'metadata.name');
  const namespace = c.string(nsField, 'metadata.namespace');
  if (!nameField) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', mf.path, 'metadata needs "name"');
    return undefined;
  }
  if (name === undefined) return undefined;
  if (name.length > 253 || !OBJECT_NAME.test(name)) {
    c.report('MESHD_ERR_POLICY_INVALID_VALUE', nameField.path, `invalid name ${JSON.stringify(name)}`, 'names are lower-case letters, digits, "-" and ".", at most 253 characters');
    return undefined;
  }
  if (namespace !== undefined && (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))) {
    c.report('MESHD_ERR_POLICY_INVALID_VALUE', nsField!.path, `invalid namespace ${JSON.stringify(namespace)}`);
    return undefined;
  }
  const labelsField: Field | undefined = 'labels' in mf.value && mf.value['labels'] !== null ? { value: mf.value['labels'], path: [...mf.path, 'labels'] } : undefined;
  return { name, namespace, labels: c.stringMap(labelsField, 'metadata.labels') ?? {} };
}

function loadCiliumPolicy(c: Checker, f: Field, kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy', position: SourcePosition, out: FileLoadResult): void {
  const before = c.problems.length;
  const top = c.object(f.value, f.path, { known: TOP_FIELDS }, `a ${kind}`);
  if (!top) return;
  const meta = checkMetadata(c, top, f);
  const isClusterwide = kind === 'CiliumClusterwideNetworkPolicy';
  const namespace = isClusterwide ? undefined : (meta?.namespace ?? DEFAULT_NAMESPACE);
  const origin: PolicyOrigin = { kind, namespace, name: meta?.name ?? '', position };
  const ruleFields: Field[] = [];
  const spec = top.get('spec');
  if (spec) ruleFields.push(spec);
  c.list(top.get('specs'), 'specs', (item) => {
    ruleFields.push(item);
    return true;
  });
  if (!spec && !top.has('specs')) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, `a ${kind} needs "spec" or "specs"`);
  }
  const warnings: ScopeWarning[] = [];
  const rules: PolicyRule[] = [];
  ruleFields.forEach((rf, i) => {
    const rule = checkCiliumRule(c, rf, { origin, ruleIndex: i, allowNodeSelector: isClusterwide });
    if (rule) rules.push(scopeRule(rule, namespace, warnings));
  });
  for (const w of warnings) out.warnings.push({ message: w.message, position: w.rule.position });
  if (c.problems.length === before && meta) out.policies.push({ origin, rules });
}

function loadNetworkPolicy(c: Checker, f: Field, position: SourcePosition, out: FileLoadResult): void {
  const before = c.problems.length;
  const top = c.object(f.value, f.path, { known: TOP_FIELDS.filter((k) => k !== 'specs') }, 'a NetworkPolicy');
  if (!top) return;
  const meta = checkMetadata(c, top, f);
  const namespace = meta?.namespace ?? DEFAULT_NAMESPACE;
  const origin: PolicyOrigin = { kind: 'NetworkPolicy', namespace, name: meta?.name ?? '', position };
  const spec = top.get('spec');
  if (!spec) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, 'a NetworkPolicy needs "spec"');
    return;
  }
  const rule = checkNetworkPolicySpec(c, spec, origin, namespace);
  if (rule && meta && c.problems.length === before) out.policies.push({ origin, rules: [rule] });
}

function loadCidrGroup(c: Checker, f: Field, position: SourcePosition, out: FileLoadResult): void {
  const top = c.object(f.value, f.path, { known: TOP_FIELDS }, 'a CiliumCIDRGroup');
  if (!top) return;
  const meta = checkMetadata(c, top, f);
  const spec = top.get('spec');
  const s = spec && c.object(spec.value, spec.path, { known: ['externalCIDRs'] }, 'a CiliumCIDRGroup spec');
  const cidrs = c.list(s?.get('externalCIDRs'), 'externalCIDRs', (it) => {
    const r = typeof it.value === 'string' ? parseCidr(it.value) : undefined;
    if (!r || !r.ok) {
      c.report('MESHD_ERR_POLICY_INVALID_CIDR', it.path, `invalid CIDR ${describe(it.value)}${r && !r.ok ? `: ${r.error}` : ''}`);
      return undefined;
    }
    return r.prefix.canonical;
  });
  if (meta && cidrs) out.cidrGroups.push({ name: meta.name, labels: meta.labels, cidrs, position });
}

function looksLikeRule(v: unknown): boolean {
  return isPlainObject(v) && Object.keys(v).some((k) => /^(endpointselector|nodeselector)$/i.test(k));
}

function readName(v: Record<string, unknown>): string | undefined {
  const m = v['metadata'];
  return isPlainObject(m) && typeof m['name'] === 'string' ? m['name'] : undefined;
}

