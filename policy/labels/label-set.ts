// An immutable, sorted set of labels with at most one value per (source, key). Identities are
// label sets, so equality and the canonical key must not depend on insertion order.
import type { LabelSource } from '../model.js';
import { compareLabels, formatLabel, parseLabel } from './label.js';
import type { Label } from './label.js';

export class LabelSet implements Iterable<Label> {
  static readonly EMPTY = new LabelSet([]);

  readonly #labels: readonly Label[];
  readonly #byKey = new Map<string, Label[]>();
  #key: string | undefined;

  private constructor(sorted: Label[]) {
    this.#labels = Object.freeze(sorted);
    for (const label of sorted) {
      const same = this.#byKey.get(label.key);
      if (same) same.push(label);
      else this.#byKey.set(label.key, [label]);
    }
  }

  /** A later label replaces an earlier one with the same source and key, as in an object literal. */
  static from(labels: Iterable<Label>): LabelSet {
    const unique = new Map<string, Label>();
    for (const { source, key, value } of labels) unique.set(`${source}\0${key}`, Object.freeze({ source, key, value }));
    return unique.size === 0 ? LabelSet.EMPTY : new LabelSet([...unique.values()].sort(compareLabels));
  }

  /** `LabelSet.parse(['k8s:app=web', 'reserved:host'])`, each as parseLabel reads it. */
  static parse(texts: Iterable<string>): LabelSet {
    return LabelSet.from(Array.from(texts, parseLabel));
  }

  get size(): number {
    return this.#labels.length;
  }

  get(source: LabelSource, key: string): Label | undefined {
    return this.#byKey.get(key)?.find((label) => label.source === source);
  }

  /** Every label with this key, whatever its source: what an `any:` selector key sees. */
  getAnySource(key: string): readonly Label[] {
    return this.#byKey.get(key) ?? NONE;
  }

  has(source: LabelSource, key: string): boolean {
    return this.get(source, key) !== undefined;
  }

  /** This set plus `labels`; on a (source, key) clash the added label wins. */
  with(labels: Iterable<Label>): LabelSet {
    return LabelSet.from([...this.#labels, ...labels]);
  }

  equals(other: LabelSet): boolean {
    return this === other || labelSetKey(this) === labelSetKey(other);
  }

  toArray(): readonly Label[] {
    return this.#labels;
  }

  toStrings(): string[] {
    return this.#labels.map(formatLabel);
  }

  [Symbol.iterator](): Iterator<Label> {
    return this.#labels[Symbol.iterator]();
  }

  /** See labelSetKey; computed once per set. */
  get canonicalKey(): string {
    this.#key ??= this.#labels.map((l) => `${escape(l.source, /[%;=:]/g)}:${escape(l.key, /[%;=]/g)}=${escape(l.value, /[%;]/g)};`).join('');
    return this.#key;
  }
}

const NONE: readonly Label[] = Object.freeze([]);

/**
 * The identity allocation key: `source:key=value;` per label in sorted order, Cilium's
 * kvstore format (Label.FormatForKVStore), so `k8s:app=web;reserved:host=;`. Characters that
 * would make two sets print alike (`;`, `=` in keys, `:` in sources, `%`) are %-escaped; real
 * Kubernetes labels never contain them, so ordinary keys read exactly like Cilium's.
 */
export function labelSetKey(set: LabelSet): string {
  return set.canonicalKey;
}

function escape(text: string, special: RegExp): string {
  return text.replace(special, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
