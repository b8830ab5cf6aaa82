// Kubernetes LabelSelector → meshd LabelSelector, with Cilium's label-source prefixes
// (`k8s:app`, `reserved:host`, bare `app` = any source).

import type { LabelSelector, SelectorOperator, SelectorRequirement } from '../model.js';
import { parseSelectorKey } from '../labels/index.js';
import type { Checker, Field } from './checker.js';

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

// Kubernetes label values: at most 63 characters, alphanumerics with `-_.` inside.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// Keys: an optional DNS-subdomain prefix and a name; Cilium adds a `source:` in front. We check
// what would make a key unusable (empty, whitespace, too long) rather than re-implement the
// apiserver's exact grammar, which Cilium's own fixtures (e.g. `id.httpd1`) do not always follow.
const LABEL_KEY = /^[^\s]{1,317}$/;

export function checkSelector(c: Checker, f: Field, what: string): LabelSelector | undefined {
  const fields = c.object(f.value, f.path, { known: ['matchLabels', 'matchExpressions'] }, what);
  if (!fields) return undefined;
  const requirements: SelectorRequirement[] = [];
  let ok = true;

  const matchLabels = fields.get('matchLabels');
  const labels = c.stringMap(matchLabels, `${what}.matchLabels`);
  if (matchLabels && !labels) ok = false;
  for (const [k, v] of Object.entries(labels ?? {})) {
    const path = [...(matchLabels?.path ?? f.path), k];
    if (!checkKey(c, k, path) || !checkValue(c, v, path)) {
      ok = false;
      continue;
    }
    requirements.push({ ...parseSelectorKey(k), operator: 'In', values: [v] });
  }

  const exprs = c.list(fields.get('matchExpressions'), `${what}.matchExpressions`, (item) => {
    const e = c.object(item.value, item.path, { known: ['key', 'operator', 'values'] }, 'a match expression');
    if (!e) return undefined;
    const key = c.string(e.get('key'), 'key');
    const operator = c.string(e.get('operator'), 'operator');
    if (key === undefined || operator === undefined) {
      if (!e.has('key')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', item.path, 'a match expression needs "key"');
      if (!e.has('operator')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', item.path, 'a match expression needs "operator"');
      return undefined;
    }
    if (!checkKey(c, key, e.get('key')?.path ?? item.path)) return undefined;
    if (!(OPERATORS as readonly string[]).includes(operator)) {
      c.report('MESHD_ERR_POLICY_INVALID_SELECTOR', e.get('operator')?.path ?? item.path, `unknown operator "${operator}"`, `use one of ${OPERATORS.join(', ')}`);
      return undefined;
    }
    const op = operator as SelectorOperator;
    const values = c.list(e.get('values'), 'values', (v) => {
      if (typeof v.value !== 'string') {
        c.report('MESHD_ERR_POLICY_WRONG_TYPE', v.path, 'selector values must be strings', `quote it: "${String(v.value)}"`);
        return undefined;
      }
      return checkValue(c, v.value, v.path) ? v.value : undefined;
    }) ?? [];
    const needsValues = op === 'In' || op === 'NotIn';
    if (needsValues && values.length === 0) {
      c.report('MESHD_ERR_POLICY_INVALID_SELECTOR', item.path, `operator ${op} needs at least one value`);
      return undefined;
    }
    if (!needsValues && values.length > 0) {
      c.report('MESHD_ERR_POLICY_INVALID_SELECTOR', e.get('values')?.path ?? item.path, `operator ${op} takes no values`);
      return undefined;
    }
    return { ...parseSelectorKey(key), operator: op, values: [...new Set(values)].sort() };
  });
  if (fields.get('matchExpressions') && !exprs) ok = false;
  if (exprs) {
    const given = Array.isArray(fields.get('matchExpressions')?.value) ? (fields.get('matchExpressions')?.value as unknown[]).length : 0;
    if (exprs.length !== given) ok = false;
    requirements.push(...exprs);
  }
  return ok ? { requirements } : undefined;
}

function checkKey(c: Checker, key: string, path: Field['path']): boolean {
  if (!LABEL_KEY.test(key)) {
    c.report('MESHD_ERR_POLICY_INVALID_SELECTOR', path, `invalid label key ${JSON.stringify(key)}`, 'label keys are non-empty, without spaces, at most 317 characters', 'key');
    return false;
  }
  return true;
}

function checkValue(c: Checker, value: string, path: Field['path']): boolean {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    c.report(
      'MESHD_ERR_POLICY_INVALID_SELECTOR',
      path,
      `invalid label value ${JSON.stringify(value)}`,
      'label values are at most 63 characters: letters, digits and -_. , starting and ending with a letter or digit',
    );
    return false;
  }
  return true;
}
