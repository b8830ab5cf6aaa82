// Numeric identities for label sets: reserved ones by table, the rest from a monotonic counter
// per scope. An id is never given to other labels, even after release: the kernel's ipcache
// and policy maps may still hold it, and reusing it would let stale entries alias a new peer.
import type { LabelSet } from '../labels/index.js';
import { IdentityError } from './errors.js';
import type { IdentityWarning } from './errors.js';
import { IDENTITY_RANGES, identityScopeForLabels } from './identity-scope.js';
import type { IdentityScope } from './identity-scope.js';
import { loadIdentityState, saveIdentityState } from './identity-state-file.js';
import type { IdentityState } from './identity-state-file.js';
import { reservedIdentityById, reservedIdentityByLabels } from './reserved-identities.js';

export interface Identity {
  readonly id: number;
  readonly labels: LabelSet;
}

interface Entry extends Identity {
  refCount: number;
}

export class IdentityAllocator {
  readonly #byId = new Map<number, Entry>();
  readonly #byLabels = new Map<string, Entry>();
  readonly #nextId: Record<IdentityScope, number> = { global: IDENTITY_RANGES.global.min, local: IDENTITY_RANGES.local.min };
  #stateDir: string | undefined;
  #saving: Promise<void> = Promise.resolve();
  #isSaveQueued = false;
  #saveError: unknown;

  /**
   * With a state directory, identities are restored from and saved to `identities.json` in it.
   * A corrupt file is moved aside and reported in `warnings`; it never stops the agent.
   * Restored identities are known but unreferenced until allocated again.
   */
  static async open(stateDir?: string): Promise<{ allocator: IdentityAllocator; warnings: IdentityWarning[] }> {
    const allocator = new IdentityAllocator();
    if (stateDir === undefined) return { allocator, warnings: [] };
    const { state, warnings } = await loadIdentityState(stateDir);
    if (state) allocator.#restore(state);
    allocator.#stateDir = stateDir;
    return { allocator, warnings };
  }

  /**
   * Takes a reference on the identity of `labels`, minting one if the labels are new. `isNew`
   * is true when this call took the first reference: the moment to add the identity to a
   * SelectorCache (and `release` returning refCount 0 the moment to remove it). Reserved
   * label sets map to their reserved id and are not counted.
   */
  allocate(labels: LabelSet): { id: number; isNew: boolean } {
    const reserved = reservedIdentityByLabels(labels);
    if (reserved) return { id: reserved.id, isNew: false };
    const known = this.#byLabels.get(labels.canonicalKey);
    if (known) return { id: known.id, isNew: ++known.refCount === 1 };
    if (labels.size === 0) throw new IdentityError('MESHD_ERR_IDENTITY_NO_LABELS', 'cannot allocate an identity for an empty label set');
    const scope = identityScopeForLabels(labels);
    const id = this.#nextId[scope];
    if (id > IDENTITY_RANGES[scope].max) {
      throw new IdentityError('MESHD_ERR_IDENTITY_EXHAUSTED', `no ${scope} identity left for ${labels.toStrings().join(',')}`, {
        hint: 'unused identities are freed by collectGarbage(); ids are never reused within a state directory',
      });
    }
    this.#nextId[scope] = id + 1;
    this.#add({ id, labels, refCount: 1 });
    this.#scheduleSave();
    return { id, isNew: true };
  }

  /** Drops one reference; undefined when the labels hold none (unknown, reserved or already unused). */
  release(labels: LabelSet): { id: number; refCount: number } | undefined {
    const entry = this.#byLabels.get(labels.canonicalKey);
    if (!entry || entry.refCount === 0) return undefined;
    entry.refCount--;
    return { id: entry.id, refCount: entry.refCount };
  }

  /** Any identity this allocator knows, referenced or not, so stale datapath ids still decode. */
  lookupById(id: number): Identity | undefined {
    return reservedIdentityById(id) ?? this.#byId.get(id);
  }

  lookupByLabels(labels: LabelSet): Identity | undefined {
    return reservedIdentityByLabels(labels) ?? this.#byLabels.get(labels.canonicalKey);
  }

  refCount(id: number): number {
    return this.#byId.get(id)?.refCount ?? 0;
  }

  /**
   * Forgets identities nobody references, returning their ids. Their ids stay burnt; the same
   * labels allocated later get a new id. Run it once endpoints have been re-allocated after
   * a restart, or it collects every restored identity.
   */
  collectGarbage(): number[] {
    const collected: number[] = [];
    for (const entry of this.#byId.values()) {
      if (entry.refCount > 0) continue;
      this.#byId.delete(entry.id);
      this.#byLabels.delete(entry.labels.canonicalKey);
      collected.push(entry.id);
    }
    if (collected.length > 0) this.#scheduleSave();
    return collected;
  }

  /** Resolves once every change so far is on disk; rejects if a write failed. Call before exit. */
  async flush(): Promise<void> {
    await this.#saving;
    const err = this.#saveError;
    this.#saveError = undefined;
    if (err !== undefined) {
      throw new IdentityError('MESHD_ERR_IDENTITY_STATE_WRITE', `cannot save identities in ${this.#stateDir}: ${String(err)}`, { cause: err });
    }
  }

  #add(entry: Entry): void {
    this.#byId.set(entry.id, entry);
    this.#byLabels.set(entry.labels.canonicalKey, entry);
  }

  #restore(state: IdentityState): void {
    for (const scope of ['global', 'local'] as const) this.#nextId[scope] = Math.max(this.#nextId[scope], state.nextId[scope]);
    for (const { id, labels } of state.identities) this.#add({ id, labels, refCount: 0 });
  }

  // Writes are chained and coalesced: a burst of allocations in one tick costs one write.
  #scheduleSave(): void {
    const stateDir = this.#stateDir;
    if (stateDir === undefined || this.#isSaveQueued) return;
    this.#isSaveQueued = true;
    this.#saving = this.#saving.then(async () => {
      this.#isSaveQueued = false;
      try {
        await saveIdentityState(stateDir, this.#snapshot());
      } catch (err) {
        this.#saveError = err;
      }
    });
  }

  #snapshot(): IdentityState {
    return { nextId: { ...this.#nextId }, identities: [...this.#byId.values()].map(({ id, labels }) => ({ id, labels })) };
  }
}
