// A read-only view of a datapath another process (the agent) loaded: the pinned ipcache and
// original-destination maps, nothing else. For the node proxy (`meshd proxy --transparent`): it
// resolves source identities and original destinations of redirected connections without loading
// an object, attaching a program or writing a map, so it can never disturb the agent's datapath.
//
// The maps are opened with bpf_obj_get (BpfMap.openPinned); the view offers no write method, so
// read-only is a property of its API. (A kernel-enforced read-only fd, BPF_F_RDONLY, would need the
// addon's openPinned to take open flags.)
import { join } from 'node:path';
import { BpfMap, DEFAULT_PIN_ROOT } from '../addon/index.js';
import { STRUCT_LAYOUTS } from './codecs.js';
import { MAP_NAMES } from './constants.js';
import type { OriginalDestination } from './datapath.js';
import { DatapathError } from './errors.js';
import { IpcacheTable } from './ipcache-table.js';
import { lookupOriginalDestination, type ProxyConnectionTuple } from './original-destination.js';

export interface PinnedDatapathViewOptions {
  /** bpffs directory the agent pinned the datapath under; default /sys/fs/bpf/meshd. */
  pinRoot?: string;
}

/** The lookups of the ipcache a reader may make. */
export interface IpcacheReader {
  /** The identity the datapath gives an address (longest prefix; world when none matches). */
  identityOf(address: string): number;
  /** Every entry, prefixes in canonical text. */
  entries(): Array<[string, number]>;
}

export class PinnedDatapathView {
  readonly pinRoot: string;
  readonly ipcache: IpcacheReader;
  readonly #ipcacheMap: BpfMap;
  readonly #origDst: BpfMap;
  #closed = false;

  private constructor(pinRoot: string, ipcacheMap: BpfMap, origDst: BpfMap) {
    this.pinRoot = pinRoot;
    this.#ipcacheMap = ipcacheMap;
    this.#origDst = origDst;
    const table = new IpcacheTable(ipcacheMap);
    // Only the reading methods of the table, each refusing use after close().
    this.ipcache = {
      identityOf: (address) => (this.#assertOpen(), table.identityOf(address)),
      entries: () => (this.#assertOpen(), table.entries()),
    };
  }

  /**
   * Opens the pinned ipcache and original-destination maps under `pinRoot`. Throws
   * MESHD_ERR_DATAPATH_NOT_LOADED when a map is not pinned there, cannot be opened (not root), or
   * has another layout than this build expects.
   */
  static open(options: PinnedDatapathViewOptions = {}): PinnedDatapathView {
    const pinRoot = options.pinRoot ?? DEFAULT_PIN_ROOT;
    const ipcache = openPinnedMap(pinRoot, MAP_NAMES.ipcache, STRUCT_LAYOUTS.ipcache_key.size, STRUCT_LAYOUTS.ipcache_value.size);
    let origDst: BpfMap;
    try {
      origDst = openPinnedMap(pinRoot, MAP_NAMES.origDst, STRUCT_LAYOUTS.orig_dst_key.size, STRUCT_LAYOUTS.orig_dst.size);
    } catch (err) {
      ipcache.close();
      throw err;
    }
    return new PinnedDatapathView(pinRoot, ipcache, origDst);
  }

  /** The destination a redirected connection was originally sent to (see Datapath.originalDestination). */
  originalDestination(tuple: ProxyConnectionTuple): OriginalDestination | undefined {
    this.#assertOpen();
    return lookupOriginalDestination(this.#origDst, tuple);
  }

  /** Closes the two map fds; the maps stay pinned and in use by the datapath. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ipcacheMap.close();
    this.#origDst.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new DatapathError('MESHD_ERR_DATAPATH_CLOSED', 'the PinnedDatapathView was closed');
  }
}

function openPinnedMap(pinRoot: string, name: string, keySize: number, valueSize: number): BpfMap {
  const path = join(pinRoot, name);
  let map: BpfMap;
  try {
    map = BpfMap.openPinned(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'it is not pinned there' : code === 'EPERM' || code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new DatapathError('MESHD_ERR_DATAPATH_NOT_LOADED', `cannot open the pinned datapath map ${path}: ${why}`, {
      hint: code === 'EPERM' || code === 'EACCES' ? 'run as root' : 'the agent loads and pins the datapath: start it first, or pass the pin root it uses',
      cause: err,
    });
  }
  if (map.keySize !== keySize || map.valueSize !== valueSize) {
    const found = `key ${map.keySize} / value ${map.valueSize} bytes`;
    map.close();
    throw new DatapathError('MESHD_ERR_DATAPATH_NOT_LOADED', `the pinned map ${path} has another layout (${found}) than this build expects (key ${keySize} / value ${valueSize} bytes)`, {
      hint: 'the datapath was loaded by another meshd version: run the proxy of the same version as the agent',
    });
  }
  return map;
}
