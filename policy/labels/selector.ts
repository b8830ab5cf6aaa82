// Label selectors with Kubernetes semantics over Cilium label sets (pkg/policy/api/selector.go).
import type { LabelSelector, LabelSource, SelectorOperator, SelectorRequirement } from '../model.js';
import { compareStrings, parseSelectorKey } from './label.js';
import type { LabelSet } from './label-set.js';

/** Every requirement must hold; none at all matches every label set. */
export function matchesSelector(selector: LabelSelector, labels: LabelSet): boolean {
  for (const requirement of selector.requirements) if (!matchesRequirement(requirement, labels)) return false;
  return true;
}

/**
 * With source `any`, the requirement looks at the key under every source. NotIn and
 * DoesNotExist are the exact negations of In and Exists, so `any:app NotIn (a)` fails when
 * any source carries `app=a`.
 */
export function matchesRequirement(requirement: SelectorRequirement, labels: LabelSet): boolean {
  // Allocation-free: the selector cache runs this for every (selector, identity) candidate pair.
  const { source, operator, values } = requirement;
  let isPresent = false;
  let hasValue = false;
  for (const label of labels.getAnySource(requirement.key)) {
    if (source !== 'any' && label.source !== source) continue;
    isPresent = true;
    if (values.includes(label.value)) {
      hasValue = true;
      break;
    }
  }
  switch (operator) {
    case 'Exists':
      return isPresent;
    case 'DoesNotExist':
      return !isPresent;
    case 'In':
      return hasValue;
    case 'NotIn':
      return !hasValue;
  }
}

/** A canonical string for caching and equality: requirement order and value order do not matter. */
export function selectorKey(selector: LabelSelector): string {
  const parts = new Set(selector.requirements.map((r) => requirementKey(normalizeRequirement(r))));
  return `[${[...parts].sort(compareStrings).join(',')}]`;
}

/** `matchLabels`: each key (`app`, `k8s:app`, `reserved:host`) must have exactly that value. */
export function selectorFromMatchLabels(matchLabels: Readonly<Record<string, string>>): LabelSelector {
  let selector: LabelSelector = { requirements: [] };
  for (const [text, value] of Object.entries(matchLabels)) {
    const { source, key } = parseSelectorKey(text);
    selector = withRequirement(selector, { source, key, operator: 'In', values: [value] });
  }
  return selector;
}

/** A new selector with `requirement` added (values sorted and de-duplicated); duplicates are dropped. */
export function withRequirement(selector: LabelSelector, requirement: SelectorRequirement): LabelSelector {
  const added = normalizeRequirement(requirement);
  const addedKey = requirementKey(added);
  if (selector.requirements.some((r) => requirementKey(normalizeRequirement(r)) === addedKey)) return selector;
  return { requirements: [...selector.requirements, added] };
}

/** Whether some requirement is about a key the predicate accepts, e.g. a namespace label. */
export function selectorConstrainsKey(selector: LabelSelector, predicate: (key: string, source: LabelSource) => boolean): boolean {
  return selector.requirements.some((r) => predicate(r.key, r.source));
}

/** A requirement in normal form (values sorted, de-duplicated, empty for Exists/DoesNotExist). */
export function makeRequirement(source: LabelSource, key: string, operator: SelectorOperator, values: readonly string[] = []): SelectorRequirement {
  return normalizeRequirement({ source, key, operator, values: [...values] });
}

function normalizeRequirement(r: SelectorRequirement): SelectorRequirement {
  const values = r.operator === 'Exists' || r.operator === 'DoesNotExist' ? [] : [...new Set(r.values)].sort(compareStrings);
  return { source: r.source, key: r.key, operator: r.operator, values };
}

function requirementKey(r: SelectorRequirement): string {
  return JSON.stringify([r.source, r.key, r.operator, r.values]);
}
