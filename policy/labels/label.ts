// Cilium labels: `source:key=value`. Spellings follow pkg/labels in cilium/cilium.
import type { LabelSource } from '../model.js';

export interface Label {
  readonly source: LabelSource;
  readonly key: string;
  /** Empty for value-less labels such as `reserved:host` or `cidr:10.0.0.0/8`. */
  readonly value: string;
}

/** Sources Cilium knows. `any` only appears in selectors, where it matches every source. */
export const LABEL_SOURCES = [
  'k8s',
  'reserved',
  'any',
  'cidr',
  'fqdn',
  'cidrgroup',
  'unspec',
  'container',
  'cilium-generated',
  'kvstore',
] as const;

const KNOWN_SOURCES: ReadonlySet<string> = new Set(LABEL_SOURCES);

/**
 * `k8s:app=foo` → {k8s, app, foo}; `reserved:host` → {reserved, host, ''}; `app=foo` → source
 * `unspec` (as Cilium's ParseLabel). The text before the first `:` is a source only when it is
 * a known one, so keys that contain a colon (`example.com:role`) survive intact.
 */
export function parseLabel(text: string): Label {
  const { source, rest } = splitSource(text, 'unspec');
  const eq = rest.indexOf('=');
  return eq < 0 ? { source, key: rest, value: '' } : { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

/** A matchLabels / matchExpressions key: `app` → {any, app}, `k8s:app` → {k8s, app}. */
export function parseSelectorKey(text: string): { source: LabelSource; key: string } {
  const { source, rest } = splitSource(text, 'any');
  return { source, key: rest };
}

/** `source:key=value`, or `source:key` without a value, as Cilium prints labels. */
export function formatLabel(label: Label): string {
  return label.value === '' ? `${label.source}:${label.key}` : `${label.source}:${label.key}=${label.value}`;
}

export function compareLabels(a: Label, b: Label): number {
  return compareStrings(a.source, b.source) || compareStrings(a.key, b.key) || compareStrings(a.value, b.value);
}

// Code-unit order, not locale order: canonical keys must not depend on the host's ICU data.
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function splitSource(text: string, fallback: LabelSource): { source: LabelSource; rest: string } {
  const colon = text.indexOf(':');
  if (colon > 0 && KNOWN_SOURCES.has(text.slice(0, colon))) return { source: text.slice(0, colon), rest: text.slice(colon + 1) };
  return { source: fallback, rest: text };
}
