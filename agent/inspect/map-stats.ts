// How full the datapath's pinned maps are, for `meshd status`. Read from the pins (bpf_obj_get)
// rather than through the Datapath, which keeps its map handles to itself; counting keys is one
// syscall per entry, so it is done only for maps that have a fill to speak of.
import { join } from 'node:path';
import { BpfMap, MAP_NAMES } from '../../bpf/index.js';

export interface MapStat {
  name: string;
  id?: number;
  type?: string;
  maxEntries?: number;
  /** null: not counted (arrays, ring buffers, socket storage), or not readable (`error`). */
  entries: number | null;
  error?: string;
}

/** Map types where "entries / max entries" means how full the map is. */
const COUNTABLE: ReadonlySet<string> = new Set(['hash', 'lru_hash', 'lpm_trie', 'hash_of_maps', 'sockhash', 'percpu_hash', 'lru_percpu_hash']);

export function pinnedMapStats(pinRoot: string): MapStat[] {
  return Object.values(MAP_NAMES).map((name): MapStat => {
    let map: BpfMap | undefined;
    try {
      map = BpfMap.openPinned(join(pinRoot, name));
      return { name, id: map.id, type: map.type, maxEntries: map.maxEntries, entries: COUNTABLE.has(map.type) ? map.keys().length : null };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      return { name, entries: null, error: typeof e.code === 'string' ? e.code : String(e.message ?? err) };
    } finally {
      map?.close();
    }
  });
}
