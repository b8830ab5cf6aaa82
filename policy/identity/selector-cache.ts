// Which identities each policy selector selects, kept current as identities come and go, so
// that layers below (kernel policy maps, NPDS) only apply what changed. Cilium's counterpart
// is pkg/policy/selectorcache.go.
//
// Every selector with a positive requirement (In or Exists) is indexed under one of them, its
// anchor: an identity can only match selectors anchored on a key or key=value it carries, so
// adding an identity tests a handful of selectors, and registering a selector tests only the
// identities carrying its anchor, not the whole universe.
import type { LabelSelector } from '../model.js';
import { matchesSelector, selectorKey } from '../labels/index.js';
import type { LabelSet } from '../labels/index.js';

export interface CachedSelector {
  readonly key: string;
  readonly selector: LabelSelector;
  /** Live view of the selected identity ids; stops changing once the selector is unregistered. */
  selections(): ReadonlySet<number>;
  matches(id: number): boolean;
}

/** Called once per selector whose selections an update changed; not called on register. */
export type SelectionChangeListener = (selectorKey: string, added: readonly number[], removed: readonly number[]) => void;

interface Change {
  added: number[];
  removed: number[];
}

type Anchor = { key: string; values?: readonly string[] } | undefined;

interface Entry extends CachedSelector {
  readonly selected: Set<number>;
  readonly anchor: Anchor;
  users: number;
}

export class SelectorCache {
  readonly #identities = new Map<number, LabelSet>();
  readonly #idsByKey = new Index<number>();
  readonly #idsByKeyValue = new Index<number>();
  readonly #entries = new Map<string, Entry>();
  readonly #entriesByKey = new Index<Entry>();
  readonly #entriesByKeyValue = new Index<Entry>();
  readonly #unanchored = new Set<Entry>();
  readonly #listeners = new Set<SelectionChangeListener>();

  get identityCount(): number {
    return this.#identities.size;
  }

  labelsOf(id: number): LabelSet | undefined {
    return this.#identities.get(id);
  }

  addIdentity(id: number, labels: LabelSet): void {
    this.update([[id, labels]]);
  }

  removeIdentity(id: number): void {
    this.update([], [id]);
  }

  /**
   * Applies removals, then additions, and notifies each affected selector once with the net
   * change. Re-adding an id with other labels replaces them.
   */
  update(added: Iterable<readonly [number, LabelSet]>, removed: Iterable<number> = []): void {
    const changes = new Map<Entry, Change>();
    const record = (entry: Entry, id: number, isAdded: boolean): void => {
      let change = changes.get(entry);
      if (!change) changes.set(entry, (change = { added: [], removed: [] }));
      (isAdded ? change.added : change.removed).push(id);
    };
    for (const id of removed) this.#remove(id, record);
    for (const [id, labels] of added) {
      const old = this.#identities.get(id);
      if (old?.canonicalKey === labels.canonicalKey) continue;
      if (old) this.#remove(id, record);
      this.#identities.set(id, labels);
      for (const label of labels) {
        this.#idsByKey.add(label.key, id);
        this.#idsByKeyValue.add(keyValue(label.key, label.value), id);
      }
      this.#forEachCandidate(labels, (entry) => {
        // `has` first: an entry anchored on two values can be reached twice.
        if (!entry.selected.has(id) && matchesSelector(entry.selector, labels)) {
          entry.selected.add(id);
          record(entry, id, true);
        }
      });
    }
    for (const [entry, change] of changes) {
      const { added: plus, removed: minus } = change.added.length > 0 && change.removed.length > 0 ? netChange(change) : change;
      if (plus.length === 0 && minus.length === 0) continue;
      for (const listener of this.#listeners) listener(entry.key, plus, minus);
    }
  }

  /** Registering an equal selector again returns the same entry and counts one more user. */
  register(selector: LabelSelector): CachedSelector {
    const key = selectorKey(selector);
    const existing = this.#entries.get(key);
    if (existing) {
      existing.users++;
      return existing;
    }
    const anchor = this.#chooseAnchor(selector);
    const selected = new Set<number>();
    for (const ids of this.#candidateIdSets(anchor)) {
      for (const id of ids) {
        const labels = this.#identities.get(id);
        if (labels && matchesSelector(selector, labels)) selected.add(id);
      }
    }
    const entry: Entry = {
      key,
      selector,
      selected,
      anchor,
      users: 1,
      selections: () => selected,
      matches: (id) => selected.has(id),
    };
    this.#entries.set(key, entry);
    if (!anchor) this.#unanchored.add(entry);
    else if (!anchor.values) this.#entriesByKey.add(anchor.key, entry);
    else for (const value of anchor.values) this.#entriesByKeyValue.add(keyValue(anchor.key, value), entry);
    return entry;
  }

  /** Drops one user; the last one removes the selector from the cache. */
  unregister(selector: LabelSelector | CachedSelector): void {
    const key = 'key' in selector ? selector.key : selectorKey(selector);
    const entry = this.#entries.get(key);
    if (!entry || --entry.users > 0) return;
    this.#entries.delete(key);
    const { anchor } = entry;
    if (!anchor) this.#unanchored.delete(entry);
    else if (!anchor.values) this.#entriesByKey.delete(anchor.key, entry);
    else for (const value of anchor.values) this.#entriesByKeyValue.delete(keyValue(anchor.key, value), entry);
  }

  get(selector: LabelSelector): CachedSelector | undefined {
    return this.#entries.get(selectorKey(selector));
  }

  /** Returns a function that removes the listener. */
  onChange(listener: SelectionChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #remove(id: number, record: (entry: Entry, id: number, isAdded: boolean) => void): void {
    const labels = this.#identities.get(id);
    if (!labels) return;
    // A selector selecting the identity is anchored on one of its labels, so candidates suffice.
    this.#forEachCandidate(labels, (entry) => {
      if (entry.selected.delete(id)) record(entry, id, false);
    });
    this.#identities.delete(id);
    for (const label of labels) {
      this.#idsByKey.delete(label.key, id);
      this.#idsByKeyValue.delete(keyValue(label.key, label.value), id);
    }
  }

  #forEachCandidate(labels: LabelSet, visit: (entry: Entry) => void): void {
    for (const entry of this.#unanchored) visit(entry);
    for (const label of labels) {
      for (const entry of this.#entriesByKey.get(label.key)) visit(entry);
      for (const entry of this.#entriesByKeyValue.get(keyValue(label.key, label.value))) visit(entry);
    }
  }

  #candidateIdSets(anchor: Anchor): Iterable<number>[] {
    if (!anchor) return [this.#identities.keys()];
    if (!anchor.values) return [this.#idsByKey.get(anchor.key)];
    return anchor.values.map((value) => this.#idsByKeyValue.get(keyValue(anchor.key, value)));
  }

  // The anchor ignores the source (an `any` requirement matches every source), so candidates
  // are a superset and matchesSelector has the last word. The rarest anchor today is chosen.
  #chooseAnchor(selector: LabelSelector): Anchor {
    let best: Anchor;
    let bestCount = Infinity;
    for (const { key, operator, values } of selector.requirements) {
      let anchor: Anchor;
      let count: number;
      if (operator === 'In') {
        const distinct = [...new Set(values)];
        anchor = { key, values: distinct };
        count = distinct.reduce((n, v) => n + this.#idsByKeyValue.get(keyValue(key, v)).size, 0);
      } else if (operator === 'Exists') {
        anchor = { key };
        count = this.#idsByKey.get(key).size;
      } else {
        continue;
      }
      if (count < bestCount) [best, bestCount] = [anchor, count];
    }
    return best;
  }
}

/** A multimap whose buckets disappear when emptied, so churn does not leak keys. */
class Index<T> {
  readonly #buckets = new Map<string, Set<T>>();
  static readonly #EMPTY: ReadonlySet<never> = new Set();

  get(key: string): ReadonlySet<T> {
    return this.#buckets.get(key) ?? Index.#EMPTY;
  }

  add(key: string, item: T): void {
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.add(item);
    else this.#buckets.set(key, new Set([item]));
  }

  delete(key: string, item: T): void {
    const bucket = this.#buckets.get(key);
    if (bucket?.delete(item) && bucket.size === 0) this.#buckets.delete(key);
  }
}

// Selection flips between in and out, so per id the difference of the counts is -1, 0 or 1.
function netChange(change: Change): Change {
  const balance = new Map<number, number>();
  for (const id of change.added) balance.set(id, (balance.get(id) ?? 0) + 1);
  for (const id of change.removed) balance.set(id, (balance.get(id) ?? 0) - 1);
  const net: Change = { added: [], removed: [] };
  for (const [id, n] of balance) if (n !== 0) (n > 0 ? net.added : net.removed).push(id);
  return net;
}

function keyValue(key: string, value: string): string {
  return `${key}\0${value}`;
}
