// Loading a set of policy sources as one unit: every document of every source must load, and
// names must be unique across the set, or the set is refused as a whole. Each loaded policy
// keeps the text of the document it came from (what the store saves) and its audit annotation
// (the policy loader keeps no annotations, so they are read from the parsed documents here).
import { parseAllDocuments } from 'yaml';
import {
  loadPolicyText,
  policyDisplayName,
  policyKey,
  type Policy,
  type PolicyProblem,
  type PolicyWarning,
  type SkippedDocument,
} from '../../policy/index.js';

export interface PolicySource {
  /** Shown in problems (file:line:col) and kept with the policy. */
  file: string;
  text: string;
}

export interface LoadedEntry {
  key: string;
  policy: Policy;
  file: string;
  /** The document's own text (a `kind: List` document holds every item). */
  documentText: string;
  auditMode: boolean;
}

export interface SetLoadResult {
  entries: LoadedEntry[];
  problems: PolicyProblem[];
  warnings: PolicyWarning[];
  skipped: SkippedDocument[];
}

export const AUDIT_ANNOTATION = 'meshd.io/audit-mode';
/** Larger sources are not policies someone wrote (the loader's own limit for files). */
const MAX_SOURCE_BYTES = 8 * 1024 * 1024;
const NAMESPACED_KINDS = new Set(['CiliumNetworkPolicy', 'NetworkPolicy']);

export function loadSourceSet(sources: readonly PolicySource[]): SetLoadResult {
  const out: SetLoadResult = { entries: [], problems: [], warnings: [], skipped: [] };
  const seen = new Map<string, LoadedEntry>();
  for (const source of sources) {
    if (Buffer.byteLength(source.text) > MAX_SOURCE_BYTES) {
      out.problems.push({ code: 'MESHD_ERR_POLICY_FILE_READ', message: `${source.file} is larger than ${MAX_SOURCE_BYTES} bytes; policy files are limited to that`, path: '', position: { file: source.file, line: 1, col: 1 } });
      continue;
    }
    const r = loadPolicyText(source.file, source.text);
    out.problems.push(...r.problems);
    out.warnings.push(...r.warnings);
    out.skipped.push(...r.skipped);
    if (r.problems.length > 0) continue;
    const documents = documentsOf(source.text);
    for (const policy of r.policies) {
      const key = policyKey(policy.origin);
      const earlier = seen.get(key);
      if (earlier) {
        out.problems.push({
          code: 'MESHD_ERR_POLICY_DUPLICATE_NAME',
          message: `${policy.origin.kind} ${policyDisplayName(policy.origin)} is already defined at ${earlier.policy.origin.position.file}:${earlier.policy.origin.position.line}`,
          path: 'metadata.name',
          position: policy.origin.position,
          hint: 'rename one of them; in one apply every policy needs its own kind/namespace/name',
        });
        continue;
      }
      const doc = documentAt(documents, source.text, policy.origin.position.line, policy.origin.position.col);
      const entry: LoadedEntry = {
        key,
        policy,
        file: source.file,
        documentText: doc?.text ?? source.text,
        auditMode: doc ? isAuditAnnotated(doc.value, policy) : false,
      };
      seen.set(key, entry);
      out.entries.push(entry);
    }
  }
  if (out.problems.length > 0) out.entries = [];
  return out;
}

interface SourceDocument {
  start: number;
  end: number;
  text: string;
  value: unknown;
}

function documentsOf(text: string): SourceDocument[] {
  return parseAllDocuments(text).map((d) => {
    const [start, , end] = d.range;
    return { start, end, text: text.slice(start, end), value: d.toJS({ maxAliasCount: 10_000 }) as unknown };
  });
}

function documentAt(documents: SourceDocument[], text: string, line: number, col: number): SourceDocument | undefined {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  offset += col - 1;
  return documents.find((d) => offset >= d.start && offset < Math.max(d.end, d.start + 1)) ?? documents[0];
}

/** The annotation of the policy's own object: the document, or its item in a `kind: List`. */
function isAuditAnnotated(value: unknown, policy: Policy): boolean {
  const objects = isObject(value) && value['kind'] === 'List' && Array.isArray(value['items']) ? value['items'] : [value];
  for (const o of objects) {
    if (!isObject(o) || o['kind'] !== policy.origin.kind || !isObject(o['metadata'])) continue;
    const meta = o['metadata'];
    const namespace = NAMESPACED_KINDS.has(policy.origin.kind) ? (typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default') : undefined;
    if (meta['name'] !== policy.origin.name || namespace !== policy.origin.namespace) continue;
    const annotations = meta['annotations'];
    return isObject(annotations) && String(annotations[AUDIT_ANNOTATION]).toLowerCase() === 'true';
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
