// A small schema-checking toolkit: typed reads of a plain JS document that record every problem
// (with its field path and file:line:col) instead of stopping at the first.

import type { PolicyErrorCode, PolicyProblem, SourcePosition } from '../errors.js';
import type { FieldPath, ParsedDocument } from './yaml-source.js';
import { editDistance } from './edit-distance.js';

export type Path = FieldPath;

export interface FieldSpec {
  /** Fields the object may have (canonical spelling). */
  known: readonly string[];
  /** Fields upstream removed: using one is an error with this hint. */
  removed?: Readonly<Record<string, string>>;
  /** Fields of the schema that are not allowed in this place: using one is reported with the reason. */
  forbidden?: Readonly<Record<string, { message: string; hint?: string }>>;
}

/** A field read from an object: its value and its path as written in the file. */
export interface Field {
  value: unknown;
  path: Path;
}

export class Checker {
  readonly problems: PolicyProblem[] = [];

  constructor(
    private readonly doc: ParsedDocument,
    /**
     * Go's encoding/json matches field names case-insensitively, and Cilium's runtime JSON
     * fixtures rely on it (`"HTTP": [...]`); Kubernetes objects are matched exactly.
     */
    private readonly caseInsensitiveFields = false,
  ) {}

  positionOf(path: Path, at: 'key' | 'value' = 'value'): SourcePosition {
    return this.doc.positionOf(path, at);
  }

  report(code: PolicyErrorCode, path: Path, message: string, hint?: string, at: 'key' | 'value' = 'value'): void {
    const problem: PolicyProblem = { code, message, path: formatPath(path), position: this.positionOf(path, at) };
    if (hint !== undefined) problem.hint = hint;
    this.problems.push(problem);
  }

  /** Reads an object's fields; unknown and removed fields are reported. Returns undefined if not an object. */
  object(value: unknown, path: Path, spec: FieldSpec, what: string): Map<string, Field> | undefined {
    if (!isPlainObject(value)) {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', path, `${what} must be an object, not ${describe(value)}`);
      return undefined;
    }
    const fields = new Map<string, Field>();
    const byLower = this.caseInsensitiveFields ? new Map(spec.known.map((k) => [k.toLowerCase(), k])) : undefined;
    for (const [written, v] of Object.entries(value)) {
      const fieldPath = [...path, written];
      // Own-property lookups only: a key such as `constructor` must not find Object.prototype's.
      const removedHint = spec.removed && Object.hasOwn(spec.removed, written) ? spec.removed[written] : undefined;
      if (removedHint !== undefined) {
        // An empty list of a removed field is what the CRD still accepts (maxItems: 0).
        if (!(Array.isArray(v) && v.length === 0) && v !== null) {
          this.report('MESHD_ERR_POLICY_REMOVED_FIELD', fieldPath, `field "${written}" was removed from Cilium's policy language`, removedHint, 'key');
        }
        continue;
      }
      const forbidden = spec.forbidden && Object.hasOwn(spec.forbidden, written) ? spec.forbidden[written] : undefined;
      if (forbidden !== undefined) {
        this.report('MESHD_ERR_POLICY_UNSUPPORTED', fieldPath, forbidden.message, forbidden.hint, 'key');
        continue;
      }
      const canonical = spec.known.includes(written) ? written : byLower?.get(written.toLowerCase());
      if (canonical === undefined) {
        const suggestion = closest(written, spec.known);
        this.report(
          'MESHD_ERR_POLICY_UNKNOWN_FIELD',
          fieldPath,
          `unknown field "${written}" in ${what}`,
          suggestion ? `did you mean "${suggestion}"? Known fields: ${spec.known.join(', ')}` : `known fields: ${spec.known.join(', ')}`,
          'key',
        );
        continue;
      }
      if (fields.has(canonical)) {
        this.report('MESHD_ERR_POLICY_CONFLICT', fieldPath, `field "${canonical}" is given twice (as "${written}")`, undefined, 'key');
        continue;
      }
      // `field: null` is how YAML spells "not set"; Kubernetes treats it the same way.
      if (v === null) continue;
      fields.set(canonical, { value: v, path: fieldPath });
    }
    return fields;
  }

  string(f: Field | undefined, what: string): string | undefined {
    if (!f) return undefined;
    if (typeof f.value !== 'string') {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `${what} must be a string, not ${describe(f.value)}`);
      return undefined;
    }
    return f.value;
  }

  boolean(f: Field | undefined, what: string): boolean | undefined {
    if (!f) return undefined;
    if (typeof f.value !== 'boolean') {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `${what} must be true or false, not ${describe(f.value)}`);
      return undefined;
    }
    return f.value;
  }

  /** An integer in [min, max]; numeric strings are accepted where Cilium's schema uses strings for numbers. */
  integer(f: Field | undefined, what: string, min: number, max: number, acceptString = false): number | undefined {
    if (!f) return undefined;
    let n: number | undefined;
    if (typeof f.value === 'number') n = f.value;
    else if (acceptString && typeof f.value === 'string' && /^[0-9]+$/.test(f.value)) n = Number(f.value);
    if (n === undefined || !Number.isInteger(n)) {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `${what} must be an integer, not ${describe(f.value)}`);
      return undefined;
    }
    if (n < min || n > max) {
      this.report('MESHD_ERR_POLICY_INVALID_VALUE', f.path, `${what} must be between ${min} and ${max}, not ${n}`);
      return undefined;
    }
    return n;
  }

  /** A list; each element is checked by `each`, whose undefined results are dropped. */
  list<T>(f: Field | undefined, what: string, each: (item: Field, index: number) => T | undefined, maxItems?: number): T[] | undefined {
    if (!f) return undefined;
    if (!Array.isArray(f.value)) {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `${what} must be a list, not ${describe(f.value)}`);
      return undefined;
    }
    if (maxItems !== undefined && f.value.length > maxItems) {
      this.report('MESHD_ERR_POLICY_INVALID_VALUE', f.path, `${what} has ${f.value.length} items; at most ${maxItems} are allowed`);
    }
    const out: T[] = [];
    f.value.forEach((item: unknown, i: number) => {
      const r = each({ value: item, path: [...f.path, i] }, i);
      if (r !== undefined) out.push(r);
    });
    return out;
  }

  /** A map of string → string (labels, matchLabels). */
  stringMap(f: Field | undefined, what: string): Record<string, string> | undefined {
    if (!f) return undefined;
    if (!isPlainObject(f.value)) {
      this.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `${what} must be a map of strings, not ${describe(f.value)}`);
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(f.value)) {
      if (k === '__proto__') {
        this.report('MESHD_ERR_POLICY_INVALID_VALUE', [...f.path, k], `"__proto__" is not a valid ${what} key`, undefined, 'key');
        continue;
      }
      // YAML turns `key: ` into null and `key: 1` into a number; Kubernetes wants strings but
      // Cilium's own fixtures write `"reserved:host": ""`, so null reads as the empty string.
      if (v === null) out[k] = '';
      else if (typeof v === 'string') out[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') {
        this.report('MESHD_ERR_POLICY_WRONG_TYPE', [...f.path, k], `${what} value for "${k}" must be a string, not ${describe(v)}`, `quote it: "${String(v)}"`);
      } else this.report('MESHD_ERR_POLICY_WRONG_TYPE', [...f.path, k], `${what} value for "${k}" must be a string, not ${describe(v)}`);
    }
    return out;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

/** The known field closest to a misspelling (edit distance ≤ 2, or a case-only difference). */
function closest(written: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    if (k.toLowerCase() === written.toLowerCase()) return k;
    const d = editDistance(written, k, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best;
}

