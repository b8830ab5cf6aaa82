import { nativeAddon, type NativeMap } from './native.js';

/** libbpf's names for map types; a type libbpf 1.1 does not know is its number as a string. */
export type BpfMapType =
  | 'hash'
  | 'array'
  | 'lru_hash'
  | 'lpm_trie'
  | 'hash_of_maps'
  | 'array_of_maps'
  | 'sockhash'
  | 'ringbuf'
  | 'sk_storage'
  | 'percpu_array'
  | (string & {});

export type BpfUpdateFlag = 'any' | 'noexist' | 'exist';

// BPF_ANY, BPF_NOEXIST, BPF_EXIST from linux/bpf.h.
const UPDATE_FLAGS: Record<BpfUpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };
// BPF_F_NO_PREALLOC: the kernel refuses an LPM trie without it.
const BPF_F_NO_PREALLOC = 1;

export interface BpfMapCreateOptions {
  type: BpfMapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* map flags; for 'lpm_trie' the default is BPF_F_NO_PREALLOC, which the kernel requires. */
  flags?: number;
  /** Up to 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** For 'hash_of_maps' / 'array_of_maps': a map of the shape every inner map will have. */
  innerMapFd?: number;
}

/**
 * One open BPF map. Keys and values are Buffers of exactly `keySize` / `valueSize` bytes (for
 * per-CPU maps a value is `round_up(valueSize, 8) × possible CPUs` bytes, one slot per CPU);
 * a wrong size throws EINVAL before anything reaches the kernel. Every method is one synchronous
 * call into C++; batch methods are one call for the whole batch.
 */
export class BpfMap {
  readonly name: string;
  readonly type: BpfMapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly id: number;
  readonly #native: NativeMap;

  /** Not for direct use: maps come from BpfObject.map(), BpfMap.openPinned() and BpfMap.create(). */
  constructor(native: NativeMap) {
    const info = native.info();
    this.#native = native;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.id = info.id;
  }

  /** bpf_obj_get of a pinned map; the type, sizes and id come from the kernel. */
  static openPinned(path: string): BpfMap {
    return new BpfMap(nativeAddon().NativeMap.openPinned(path));
  }

  /** bpf_map_get_fd_by_id: e.g. the inner map whose id a map of maps returns from lookup(). */
  static openById(id: number): BpfMap {
    return new BpfMap(nativeAddon().NativeMap.openById(id));
  }

  /** bpf_map_create: a map that belongs to no object, e.g. an inner map for setInner(). */
  static create(o: BpfMapCreateOptions): BpfMap {
    const flags = o.flags ?? (o.type === 'lpm_trie' ? BPF_F_NO_PREALLOC : 0);
    return new BpfMap(nativeAddon().NativeMap.create({ ...o, flags }));
  }

  /** The map's fd while open, -1 after close(). */
  get fd(): number {
    return this.#native.fd;
  }

  /** The value, or undefined when the key is not in the map. */
  lookup(key: Buffer): Buffer | undefined {
    return this.#native.lookup(key);
  }

  update(key: Buffer, value: Buffer, flag: BpfUpdateFlag = 'any'): void {
    this.#native.update(key, value, UPDATE_FLAGS[flag]);
  }

  /** false when the key was not in the map. */
  delete(key: Buffer): boolean {
    return this.#native.delete(key);
  }

  /**
   * BPF_MAP_UPDATE_BATCH (flag 'any') where the kernel has it for this map type, else the same
   * loop in C++. Not atomic: on failure the message says how many entries were written.
   */
  updateBatch(keys: Buffer[], values: Buffer[]): void {
    this.#native.updateBatch(keys, values);
  }

  /** Deletes every key present and returns how many were; absent keys are skipped. */
  deleteBatch(keys: Buffer[]): number {
    return this.#native.deleteBatch(keys);
  }

  /** Every key (bpf_map_get_next_key in C++), at most maxEntries of them. */
  keys(): Buffer[] {
    return this.#native.keys();
  }

  /** Every entry: BPF_MAP_LOOKUP_BATCH where supported, else keys() and one lookup each. */
  entries(): Array<[Buffer, Buffer]> {
    return this.#native.entries();
  }

  /** For maps of maps: stores `inner` (the kernel keeps the map itself, not the fd) under `key`. */
  setInner(key: Buffer, inner: BpfMap): void {
    this.#native.setInner(key, inner.fd);
  }

  /** bpf_obj_pin: the map lives on at `path` in bpffs until unpinned, whoever closes it. */
  pin(path: string): void {
    this.#native.pin(path);
  }

  /** Removes the pin at `path` (the map lives on while anything else holds it). */
  unpin(path: string): void {
    this.#native.unpin(path);
  }

  /** Closes the fd; harmless when already closed. */
  close(): void {
    this.#native.close();
  }
}
