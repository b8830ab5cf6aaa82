// The ipcache map as a table of prefix → identity.
import type { BpfMap } from '../addon/index.js';
import { decodeIpcacheKey, decodeIpcacheValue, encodeIpcacheKey, encodeIpcacheValue } from './codecs.js';
import { formatAddress, parseAddress, parsePrefix } from './addresses.js';
import { AF_INET, WORLD_IPV4_ID, WORLD_IPV6_ID } from './constants.js';
import { DatapathError } from './errors.js';

export class IpcacheTable {
  readonly #map: BpfMap;

  constructor(map: BpfMap) {
    this.#map = map;
  }

  /** `10.244.0.12/32`, `fd44:244::/64`, or a bare address. */
  upsert(prefix: string, identity: number): void {
    // Parsed outside the wrapper, so a bad prefix is MESHD_ERR_DATAPATH_BAD_ADDRESS, not a map error.
    const key = encodeIpcacheKey(parsePrefix(prefix));
    this.#wrap(() => this.#map.update(key, encodeIpcacheValue(identity)));
  }

  delete(prefix: string): boolean {
    return this.#map.delete(encodeIpcacheKey(parsePrefix(prefix)));
  }

  /** The identity the datapath gives an address (longest prefix; world when none matches). */
  identityOf(address: string): number {
    const a = parseAddress(address);
    const raw = this.#map.lookup(encodeIpcacheKey({ ...a, length: a.family === AF_INET ? 32 : 128 }));
    return raw ? decodeIpcacheValue(raw) : a.family === AF_INET ? WORLD_IPV4_ID : WORLD_IPV6_ID;
  }

  /** Every entry, prefixes in canonical text. */
  entries(): Array<[string, number]> {
    return this.#map.entries().map(([k, v]) => {
      const p = decodeIpcacheKey(k);
      return [`${formatAddress(p.family, p.bytes)}/${p.length}`, decodeIpcacheValue(v)];
    });
  }

  /** Makes the map hold exactly `entries`: new and changed ones are written first (one batch),
   *  then stale ones deleted, so no address that keeps its prefix ever misses in between. */
  replaceAll(entries: Iterable<readonly [string, number]>): { upserted: number; deleted: number } {
    const wanted = new Map<string, { key: Buffer; value: Buffer }>();
    for (const [prefix, identity] of entries) {
      const key = encodeIpcacheKey(parsePrefix(prefix));
      wanted.set(key.toString('hex'), { key, value: encodeIpcacheValue(identity) });
    }
    const current = new Map(this.#map.entries().map(([k, v]) => [k.toString('hex'), v]));
    const writes = [...wanted].filter(([hex, e]) => !current.get(hex)?.equals(e.value)).map(([, e]) => e);
    const stale = [...current.keys()].filter((hex) => !wanted.has(hex)).map((hex) => Buffer.from(hex, 'hex'));
    this.#wrap(() => {
      if (writes.length > 0) this.#map.updateBatch(writes.map((e) => e.key), writes.map((e) => e.value));
      if (stale.length > 0) this.#map.deleteBatch(stale);
    });
    return { upserted: writes.length, deleted: stale.length };
  }

  #wrap(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      throw new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `ipcache: ${(err as Error).message}`, { cause: err });
    }
  }
}
