// The agent's handle on the kernel datapath: loads (or reuses) the pinned maps and programs,
// attaches endpoints, fills the ipcache and policy maps, answers original-destination
// lookups for the proxy and streams verdict events.
//
// Everything that must outlive the agent is pinned under the pin root: the maps (by libbpf,
// LIBBPF_PIN_BY_NAME) and one link per cgroup and program (links/<cgroup id>/<program>). A
// restarted agent loads the objects again (libbpf reuses the pinned maps) and swaps its new
// programs into the pinned links with bpf_link_update, so enforcement never stops.
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfLink, BpfMap, BpfSystemError, DEFAULT_PIN_ROOT, type BpfLogger, type BpfProgram } from '../addon/index.js';
import { cgroupIdOf, ensureBpffs, loadObject, type LoadedObject } from './load.js';
import { AF_INET, AF_INET6, BPF_F_NO_PREALLOC, CONFIG_FLAGS, ENDPOINT_FLAGS, MAP_NAMES, OBJECTS, SK_MSG_PROGRAM, SOCKOPS_PROGRAM, TC_INGRESS_PROGRAM } from './constants.js';
import {
  decodeEndpointAddrValue,
  decodeEndpointInfo,
  decodeEndpointKey,
  encodeConfig,
  encodeEndpointAddrKey,
  encodeEndpointAddrValue,
  encodeEndpointInfo,
  encodeEndpointKey,
  type EndpointInfoValue,
  decodePolicyKey,
  decodePolicyValue,
  encodePolicyKey,
  encodePolicyValue,
  encodeU32Key,
  STRUCT_LAYOUTS,
} from './codecs.js';
import { parseAddress, type BinaryAddress } from './addresses.js';
import { DatapathError } from './errors.js';
import { EventHub, type EventStream } from './events.js';
import { IpcacheTable } from './ipcache-table.js';
import { lookupOriginalDestination, type ProxyConnectionTuple } from './original-destination.js';
import type { PolicyMapContent, PolicyMapEntry } from './policy-entries.js';
import { readUdpPeers, type UdpPeerEntry } from './udp-peers.js';

/** From dist/bpf/datapath/ to the repository root, where bpf/progs/Makefile writes build/bpf. */
const DEFAULT_OBJECT_DIR = fileURLToPath(new URL('../../../build/bpf/', import.meta.url));

export interface DatapathOptions {
  /** bpffs directory for the maps and links; default /sys/fs/bpf/meshd. */
  pinRoot?: string;
  /** Where the *.bpf.o files are; default <repo>/build/bpf. */
  objectDir?: string;
  logger?: BpfLogger;
  /** cgroup v2 directory of the node proxy: gets getsockopt(SO_ORIGINAL_DST) (and sockops
   *  when socketAcceleration is on). */
  proxyCgroup: string;
  /** Parent cgroup of the pods (informational; programs are attached per endpoint). */
  podsCgroup?: string;
  /** The address every pod reaches the node proxy at: the L7 redirect target. */
  nodeProxyAddress: { ipv4: string; ipv6: string };
  /** sockops + sk_msg short-circuit for app↔proxy sockets; default off (research/bpf.md §4.2). */
  socketAcceleration?: boolean;
  /** Report allowed new connections: 0 none (default), 1 all, N one in N. */
  sampleAllowed?: number;
}

export interface EndpointAttachment {
  /** Numeric endpoint id (the policy map key). */
  id: number;
  /** The pod's cgroup v2 directory. */
  cgroupPath: string;
  identity: number;
  /** Default-deny per direction until a policy is installed (then the policy's own flags rule). */
  ingressEnforced: boolean;
  egressEnforced: boolean;
  /** The pod's addresses: the source of UDP tuples from not-yet-bound sockets, and the keys
   *  by which a local client's connect finds this endpoint's ingress policy (ingress L7 for
   *  local clients, docs/adr/0003). */
  ipv4?: string;
  ipv6?: string;
  /** Audit mode: what policy would deny passes and is reported with verdict 'audit' (default
   *  off). Kept in the pinned endpoints map, so a restarted agent finds it. */
  auditMode?: boolean;
}

export interface SocketAddress {
  address: string;
  port: number;
}

export interface OriginalDestination extends SocketAddress {
  family: 4 | 6;
  protocol: 'tcp' | 'udp';
  endpointId: number;
  /** Identity of the client endpoint (the redirected socket's), and of the original
   *  destination; for an ingress redirect of a local client too (the proxy port tells the
   *  direction). */
  localIdentity: number;
  peerIdentity: number;
}

/** How Datapath.updatePolicy wrote a policy. */
export interface PolicyUpdateResult {
  /** 'in-place': entries written one by one into the installed trie (no RCU grace period);
   *  'swap': a complete new trie swapped in (one grace period, ~16 ms); 'unchanged': nothing to do. */
  mode: 'in-place' | 'swap' | 'unchanged';
  /** Why a swap was needed (absent for in-place and unchanged). */
  swapReason?: 'no-trie' | 'any-peer-or-default-changed' | 'too-many-changes' | 'capacity';
  added: number;
  changed: number;
  deleted: number;
}

/** An in-place update is entry by entry; above this many writes the swap is used instead, so a
 *  large change appears at once (and costs no more than the ~16 ms grace period anyway). */
const MAX_IN_PLACE_CHANGES = 1024;
/** Inner tries are created with room to grow in place: BPF_F_NO_PREALLOC allocates per entry,
 *  so max_entries is only a cap. */
const MIN_TRIE_CAPACITY = 64;
const { ENOLINK } = osConstants.errno;

/** The trie last written for an endpoint, as user space knows it: valid while the outer map
 *  still names that inner map id (anyone else's swap, or a restart, makes us read it again). */
interface InstalledTrie {
  mapId: number;
  maxEntries: number;
  /** hex(encoded key) → encoded value */
  entries: Map<string, Buffer>;
}

export class Datapath {
  readonly pinRoot: string;
  /** Endpoint ids Datapath.open found with a severed link (their cgroup was removed while no
   *  agent ran) and removed from the maps; the caller cleans the rest (ipcache, pod leftovers). */
  readonly staleEndpoints: number[] = [];
  readonly ipcache: IpcacheTable;
  readonly #options: DatapathOptions;
  readonly #objects: LoadedObject[];
  readonly #programs = new Map<string, BpfProgram>();
  readonly #maps: Record<keyof typeof MAP_NAMES, BpfMap>;
  readonly #events: EventHub;
  /** endpoint id → cgroup id, rebuilt from the endpoints map on open. */
  readonly #endpoints = new Map<number, bigint>();
  readonly #logger: BpfLogger | undefined;
  /** endpoint id → its installed trie (see InstalledTrie). */
  readonly #tries = new Map<number, InstalledTrie>();
  #closed = false;

  private constructor(options: DatapathOptions, pinRoot: string, objects: LoadedObject[], maps: Record<keyof typeof MAP_NAMES, BpfMap>) {
    this.#options = options;
    this.pinRoot = pinRoot;
    this.#objects = objects;
    this.#maps = maps;
    this.#logger = options.logger;
    for (const o of objects) for (const [name, p] of o.programs) this.#programs.set(name, p);
    this.ipcache = new IpcacheTable(maps.ipcache);
    this.#events = new EventHub(maps.events);
  }

  /** Loads the objects (reusing pinned maps), writes the config, attaches the proxy-side
   *  programs and swaps the new programs into every pinned link of a previous run. */
  static open(options: DatapathOptions): Datapath {
    const pinRoot = options.pinRoot ?? DEFAULT_PIN_ROOT;
    ensureBpffs(pinRoot);
    mkdirSync(pinRoot, { recursive: true });
    const objectDir = options.objectDir ?? DEFAULT_OBJECT_DIR;

    const objects: LoadedObject[] = [];
    try {
      for (const spec of Object.values(OBJECTS)) objects.push(loadObject(join(objectDir, spec.file), pinRoot, options.logger));
      const first = objects[0]!.object;
      const maps = Object.fromEntries(Object.entries(MAP_NAMES).map(([k, name]) => [k, first.map(name)])) as Record<keyof typeof MAP_NAMES, BpfMap>;
      const dp = new Datapath(options, pinRoot, objects, maps);
      dp.#writeConfig();
      dp.#loadEndpointIndex();
      dp.#reattachPinnedLinks();
      dp.#reattachDeviceLinks();
      dp.#attachProxy();
      return dp;
    } catch (err) {
      for (const o of objects) o.object.close();
      throw err;
    }
  }

  /** Map name → kernel map id (a restarted agent must see the same ids: the maps were reused). */
  mapIds(): Record<string, number> {
    return Object.fromEntries(Object.values(this.#maps).map((m) => [m.name, m.id]));
  }

  /** Allowed new connections reported: 0 none, 1 all, N one in N. */
  setSampleAllowed(n: number): void {
    this.#options.sampleAllowed = n;
    this.#writeConfig();
  }

  /** Puts the endpoint in the endpoints map, then attaches every endpoint program to its
   *  cgroup (reusing pinned links: attaching twice is harmless). */
  attachEndpoint(ep: EndpointAttachment): void {
    this.#assertOpen();
    const cgroupId = cgroupIdOf(ep.cgroupPath);
    const old = this.#endpoints.get(ep.id);
    if (old !== undefined && old !== cgroupId) this.detachEndpoint(ep.id);
    const v4 = ep.ipv4 ? parseAddress(ep.ipv4) : undefined;
    const v6 = ep.ipv6 ? parseAddress(ep.ipv6) : undefined;
    const flags =
      (ep.ingressEnforced ? ENDPOINT_FLAGS.ingressEnforced : 0) | (ep.egressEnforced ? ENDPOINT_FLAGS.egressEnforced : 0) | (ep.auditMode ? ENDPOINT_FLAGS.audit : 0);
    const key = encodeEndpointKey(cgroupId);
    const previous = this.#maps.endpoints.lookup(key);
    const info: EndpointInfoValue = {
      endpointId: ep.id,
      identity: ep.identity,
      flags,
      ipv4: v4?.family === AF_INET ? v4.bytes.subarray(0, 4) : Buffer.alloc(4),
      ipv6: v6 && v6.family !== AF_INET ? v6.bytes : Buffer.alloc(16),
    };
    this.#update(this.#maps.endpoints, key, encodeEndpointInfo(info));
    this.#endpoints.set(ep.id, cgroupId);
    // Addresses after the endpoint entry they point to; a re-attach with other addresses
    // drops the old ones.
    const before = previous ? decodeEndpointInfo(previous) : undefined;
    const current = addressesOf(info);
    for (const a of before ? addressesOf(before) : []) {
      if (!current.some((c) => c.bytes.equals(a.bytes) && c.family === a.family)) this.#deleteAddress(a, before!.endpointId);
    }
    for (const a of current) this.#update(this.#maps.endpointAddrs, encodeEndpointAddrKey(a), encodeEndpointAddrValue({ cgroupId, endpointId: ep.id }));
    for (const spec of Object.values(OBJECTS)) {
      for (const name of spec.endpointPrograms) this.#ensureLink(ep.cgroupPath, cgroupId, name);
    }
  }

  /** Detaches the endpoint's programs and removes its map entries. */
  detachEndpoint(id: number): void {
    this.#assertOpen();
    const cgroupId = this.#endpoints.get(id);
    if (cgroupId === undefined) throw new DatapathError('MESHD_ERR_DATAPATH_UNKNOWN_ENDPOINT', `no endpoint ${id} is attached`);
    this.#detachLinksOf(cgroupId);
    const raw = this.#maps.endpoints.lookup(encodeEndpointKey(cgroupId));
    if (raw) for (const a of addressesOf(decodeEndpointInfo(raw))) this.#deleteAddress(a, id);
    this.#maps.endpoints.delete(encodeEndpointKey(cgroupId));
    this.#maps.policy.delete(encodeU32Key(id));
    this.#tries.delete(id);
    this.#endpoints.delete(id);
  }

  attachedEndpoints(): Array<{ id: number; cgroupId: bigint }> {
    return [...this.#endpoints].map(([id, cgroupId]) => ({ id, cgroupId }));
  }

  /** Audit mode on or off for an attached endpoint: the next connection, datagram or packet
   *  sees it (one map update, nothing reattached). Stored in the pinned endpoints map, so it
   *  survives a restart. */
  setAuditMode(endpointId: number, on: boolean): void {
    this.#assertOpen();
    const { key, info } = this.#endpointInfo(endpointId);
    info.flags = on ? info.flags | ENDPOINT_FLAGS.audit : info.flags & ~ENDPOINT_FLAGS.audit;
    this.#update(this.#maps.endpoints, key, encodeEndpointInfo(info));
  }

  isAuditMode(endpointId: number): boolean {
    this.#assertOpen();
    return (this.#endpointInfo(endpointId).info.flags & ENDPOINT_FLAGS.audit) !== 0;
  }

  /** The unconnected-UDP peers each socket sent to, and when last (meshd_udp_peers_v1). */
  udpPeers(): UdpPeerEntry[] {
    this.#assertOpen();
    return readUdpPeers(this.#maps.udpPeers);
  }

  /** Builds a complete new policy trie for the endpoint and swaps it in with one outer-map
   *  update: no lookup ever sees a half-written policy. The old trie is freed by the kernel
   *  when the last program using it finishes. Costs one RCU grace period (~16 ms): the kernel
   *  waits until no program can still hold the old trie. */
  replacePolicy(endpointId: number, content: PolicyMapContent): void {
    this.replacePolicies([{ endpointId, content }]);
  }

  /** replacePolicy for many endpoints: every new trie is built first, then all are swapped in
   *  with ONE batch update of the outer map (BPF_MAP_UPDATE_BATCH), which pays the grace
   *  period once for the whole batch instead of once per endpoint. Each endpoint switches
   *  atomically; the endpoints do not all switch at the same instant (the batch writes them in
   *  order). An endpoint given twice gets its last content. */
  replacePolicies(items: ReadonlyArray<{ endpointId: number; content: PolicyMapContent }>): void {
    this.#assertOpen();
    const last = new Map<number, PolicyMapContent>();
    for (const { endpointId, content } of items) last.set(endpointId, content);
    if (last.size === 0) return;
    const built: Array<{ endpointId: number; content: PolicyMapContent; inner: BpfMap; trie: InstalledTrie }> = [];
    try {
      for (const [endpointId, content] of last) {
        const { inner, trie } = this.#buildTrie(endpointId, content);
        built.push({ endpointId, content, inner, trie });
      }
      const keys = built.map((b) => encodeU32Key(b.endpointId));
      // From user space a map of maps takes the inner map's fd as its value.
      const values = built.map((b) => {
        const v = Buffer.alloc(4);
        v.writeUInt32LE(b.inner.fd);
        return v;
      });
      try {
        if (built.length === 1) this.#maps.policy.setInner(keys[0]!, built[0]!.inner);
        else this.#maps.policy.updateBatch(keys, values);
      } catch (err) {
        // Part of a batch may be in: forget what we knew, the next update reads the kernel.
        for (const b of built) this.#tries.delete(b.endpointId);
        const ids = built.map((b) => b.endpointId).join(', ');
        throw new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `policy of endpoint${built.length > 1 ? 's' : ''} ${ids}: ${(err as Error).message}`, { cause: err });
      }
    } finally {
      for (const b of built) b.inner.close();
    }
    for (const b of built) {
      this.#tries.set(b.endpointId, b.trie);
      this.#syncEnforcementFlags(b.endpointId, b.content);
    }
  }

  /**
   * Brings the endpoint's installed trie to `content` by writing only the difference into it,
   * in place: an LPM trie update from user space waits for no grace period, so a learned DNS
   * answer costs microseconds instead of the swap's ~16 ms.
   *
   * Consistency. In-place writes are entry by entry, so a lookup may run between two of them.
   * A lookup is two longest-prefix probes (the peer's identity, then 0 = any peer) and the
   * direction's sentinel (default-deny). The writes are ordered so that each PROBE always
   * answers as the old trie or as the new trie would: new keys first, longest prefix first (a
   * new key never becomes a longest match before the longer new keys under it exist); then
   * changed values; then stale keys, shortest prefix first (the old longest match goes last).
   * The probes and the sentinel are separate lookups, though, and an old answer of one mixed
   * with a new answer of another could allow what neither policy allows (old: deny peer X and
   * allow any; new: deny any — the new "X: nothing" with the old "any: allow" lets X in). So
   * the in-place path is taken only when the difference touches no any-peer key and no
   * sentinel: then the any-peer probe and the sentinel answer the same before, during and
   * after, and every flow is decided by the old or by the new policy at every instant (a flow
   * has one peer identity, so changes of other peers' keys do not mix into it). Anything else
   * swaps a new trie in, as do more than MAX_IN_PLACE_CHANGES writes, no trie installed yet,
   * or a trie without room for the new keys.
   */
  updatePolicy(endpointId: number, content: PolicyMapContent): PolicyUpdateResult {
    return this.updatePolicies([{ endpointId, content }])[0]!;
  }

  /** updatePolicy for many endpoints: each one in place where that is safe (above), and all
   *  the others swapped together with one replacePolicies batch (one grace period). Results
   *  in the order given. */
  updatePolicies(items: ReadonlyArray<{ endpointId: number; content: PolicyMapContent }>): PolicyUpdateResult[] {
    this.#assertOpen();
    const results = items.map(({ endpointId, content }) => this.#updateInPlace(endpointId, content));
    const swaps = items.filter((_, i) => results[i]!.mode === 'swap');
    if (swaps.length > 0) this.replacePolicies(swaps);
    return results;
  }

  /** The in-place half of updatePolicy; a result with mode 'swap' means "not done: swap it". */
  #updateInPlace(endpointId: number, content: PolicyMapContent): PolicyUpdateResult {
    const current = this.#installedTrie(endpointId);
    const swap = (swapReason: NonNullable<PolicyUpdateResult['swapReason']>, added = 0, changed = 0, deleted = 0): PolicyUpdateResult => ({
      mode: 'swap',
      swapReason,
      added,
      changed,
      deleted,
    });
    if (!current) return swap('no-trie', content.entries.length);

    const wanted = new Map<string, { key: Buffer; value: Buffer; prefix: number; peer: number }>();
    for (const e of content.entries) {
      const key = encodePolicyKey(e.key);
      wanted.set(key.toString('hex'), { key, value: encodePolicyValue(e.value), prefix: e.key.portPrefixBits, peer: e.key.peerIdentity });
    }
    const added: Array<{ key: Buffer; value: Buffer; prefix: number }> = [];
    const changed: Array<{ key: Buffer; value: Buffer }> = [];
    const deleted: Array<{ key: Buffer; prefix: number }> = [];
    let touchesAnyPeer = false;
    for (const [hex, w] of wanted) {
      const have = current.entries.get(hex);
      if (have?.equals(w.value)) continue;
      if (w.peer === 0) touchesAnyPeer = true;
      if (have) changed.push(w);
      else added.push(w);
    }
    for (const hex of current.entries.keys()) {
      if (wanted.has(hex)) continue;
      const key = Buffer.from(hex, 'hex');
      const k = decodePolicyKey(key);
      if (k.peerIdentity === 0) touchesAnyPeer = true;
      deleted.push({ key, prefix: k.portPrefixBits });
    }
    const total = added.length + changed.length + deleted.length;
    if (total === 0) {
      this.#syncEnforcementFlags(endpointId, content);
      return { mode: 'unchanged', added: 0, changed: 0, deleted: 0 };
    }
    if (touchesAnyPeer) return swap('any-peer-or-default-changed', added.length, changed.length, deleted.length);
    if (total > MAX_IN_PLACE_CHANGES) return swap('too-many-changes', added.length, changed.length, deleted.length);
    if (current.entries.size + added.length > current.maxEntries) return swap('capacity', added.length, changed.length, deleted.length);

    let inner: BpfMap;
    try {
      inner = BpfMap.openById(current.mapId);
    } catch {
      // The trie went away between the check and now (another writer swapped): start afresh.
      this.#tries.delete(endpointId);
      return swap('no-trie', content.entries.length);
    }
    try {
      added.sort((a, b) => b.prefix - a.prefix);
      deleted.sort((a, b) => a.prefix - b.prefix);
      for (const a of added) inner.update(a.key, a.value);
      for (const c of changed) inner.update(c.key, c.value);
      for (const d of deleted) inner.delete(d.key);
    } catch (err) {
      this.#tries.delete(endpointId);
      throw new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `policy of endpoint ${endpointId} (in place): ${(err as Error).message}`, { cause: err });
    } finally {
      inner.close();
    }
    for (const a of added) current.entries.set(a.key.toString('hex'), a.value);
    for (const c of changed) current.entries.set(c.key.toString('hex'), c.value);
    for (const d of deleted) current.entries.delete(d.key.toString('hex'));
    this.#syncEnforcementFlags(endpointId, content);
    return { mode: 'in-place', added: added.length, changed: changed.length, deleted: deleted.length };
  }

  /** The live entries of the endpoint's policy trie (sentinels included), read from the kernel;
   *  undefined when the endpoint has no trie (its flags decide). */
  readPolicy(endpointId: number): PolicyMapEntry[] | undefined {
    this.#assertOpen();
    const raw = this.#maps.policy.lookup(encodeU32Key(endpointId));
    if (!raw) return undefined;
    let inner: BpfMap;
    try {
      inner = BpfMap.openById(raw.readUInt32LE(0));
    } catch {
      return undefined; // swapped out and freed between the two calls
    }
    try {
      return inner.entries().map(([k, v]) => ({ key: decodePolicyKey(k), value: decodePolicyValue(v) }));
    } finally {
      inner.close();
    }
  }

  /** Removes the endpoint's policy trie: its endpoint flags decide again. */
  removePolicy(endpointId: number): boolean {
    this.#assertOpen();
    this.#tries.delete(endpointId);
    return this.#maps.policy.delete(encodeU32Key(endpointId));
  }

  /** For the proxy: the destination an accepted connection was originally sent to.
   *  `remote` is the client (the pod), `local` the proxy's own address of that connection. */
  originalDestination(tuple: ProxyConnectionTuple): OriginalDestination | undefined {
    this.#assertOpen();
    return lookupOriginalDestination(this.#maps.origDst, tuple);
  }

  /** Verdict events, as long as the iterator is open. */
  events(options: { maxQueued?: number } = {}): EventStream {
    this.#assertOpen();
    return this.#events.subscribe(options.maxQueued);
  }

  /**
   * BPF TPROXY on a device that carries traffic from other nodes (docs/adr/0003, "Ingress L7 for
   * clients from other nodes"): a tcx ingress link of meshd_tc_ingress on `ifname`, a device of
   * the CALLER's network namespace, pinned at <pin root>/devices/<ifname>/meshd_tc_ingress so it
   * survives the agent (a restart swaps the new program in). Attaching twice is harmless. The
   * node also needs the policy-routing rule of setupTproxyRouting().
   */
  attachIngressDevice(ifname: string): void {
    this.#assertOpen();
    const program = this.#program(TC_INGRESS_PROGRAM);
    const path = this.#deviceLinkPath(ifname);
    if (existsSync(path)) {
      const link = BpfLink.openPinned(path);
      try {
        if (link.info().progId !== program.id) link.updateProgram(program);
        return;
      } catch (err) {
        // Severed (the device went away and came back under the same name): attach anew.
        if (!(err instanceof BpfSystemError && Math.abs(err.errno) === ENOLINK)) throw err;
        rmSync(path, { force: true });
      } finally {
        link.close();
      }
    }
    let link: BpfLink;
    try {
      link = program.attachTcx(ifname, 'ingress');
    } catch (err) {
      throw new DatapathError('MESHD_ERR_DATAPATH_ATTACH', `${TC_INGRESS_PROGRAM} on device ${ifname} (tcx ingress): ${(err as Error).message}`, {
        hint: 'the device must exist in the agent\'s network namespace; tcx needs kernel 6.6+',
        cause: err,
      });
    }
    try {
      mkdirSync(dirname(path), { recursive: true });
      link.pin(path);
    } catch (err) {
      link.detach();
      throw new DatapathError('MESHD_ERR_DATAPATH_ATTACH', `pinning ${TC_INGRESS_PROGRAM} of device ${ifname} at ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      link.close();
    }
  }

  /** Detaches the device's tcx link and removes its pin; false when none was attached. */
  detachIngressDevice(ifname: string): boolean {
    this.#assertOpen();
    const dir = join(this.pinRoot, 'devices', ifname);
    if (!existsSync(dir)) return false;
    this.#detachLinkDir(dir);
    return true;
  }

  /** Devices with a pinned tcx ingress link (attachIngressDevice), by name. */
  ingressDevices(): string[] {
    const dir = join(this.pinRoot, 'devices');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  /** Closes fds and readers. Pins and links stay: enforcement continues without the agent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.close();
    for (const m of Object.values(this.#maps)) m.close();
    for (const o of this.#objects) o.object.close();
  }

  /** Removes everything: every link under the pin root (detached first), the sk_msg
   *  attachment, the pinned maps, the pin root itself; then closes. */
  unload(): void {
    this.#assertOpen();
    const linksDir = join(this.pinRoot, 'links');
    if (existsSync(linksDir)) {
      for (const cg of readdirSync(linksDir)) this.#detachLinksOf(BigInt(cg));
      rmSync(linksDir, { recursive: true, force: true });
    }
    const devicesDir = join(this.pinRoot, 'devices');
    if (existsSync(devicesDir)) {
      for (const ifname of readdirSync(devicesDir)) this.#detachLinkDir(join(devicesDir, ifname));
      rmSync(devicesDir, { recursive: true, force: true });
    }
    try {
      this.#programs.get(SK_MSG_PROGRAM)?.detachSockMap(this.#maps.sockhash);
    } catch {
      // Not attached (socket acceleration off): nothing to undo.
    }
    this.close();
    for (const name of Object.values(MAP_NAMES)) rmSync(join(this.pinRoot, name), { force: true });
    try {
      rmdirSync(this.pinRoot);
    } catch (err) {
      this.#logger?.warn(`datapath: pin root ${this.pinRoot} not removed: ${(err as Error).message}`);
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new DatapathError('MESHD_ERR_DATAPATH_CLOSED', 'the datapath was closed');
  }

  #update(map: BpfMap, key: Buffer, value: Buffer): void {
    try {
      map.update(key, value);
    } catch (err) {
      throw new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `${map.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** A new inner trie holding `content`, with room to grow in place. */
  #buildTrie(endpointId: number, content: PolicyMapContent): { inner: BpfMap; trie: InstalledTrie } {
    const mapUpdateError = (err: unknown) =>
      new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `policy of endpoint ${endpointId}: ${(err as Error).message}`, { cause: err });
    let inner: BpfMap;
    try {
      inner = BpfMap.create({
        type: 'lpm_trie',
        keySize: STRUCT_LAYOUTS.policy_key.size,
        valueSize: STRUCT_LAYOUTS.policy_value.size,
        maxEntries: Math.max(MIN_TRIE_CAPACITY, 2 * content.entries.length),
        flags: BPF_F_NO_PREALLOC,
        name: `meshd_pol_${endpointId}`.slice(0, 15),
      });
    } catch (err) {
      throw mapUpdateError(err);
    }
    const entries = new Map<string, Buffer>();
    try {
      const keys = content.entries.map((e) => encodePolicyKey(e.key));
      const values = content.entries.map((e) => encodePolicyValue(e.value));
      if (keys.length > 0) inner.updateBatch(keys, values);
      keys.forEach((k, i) => entries.set(k.toString('hex'), values[i]!));
    } catch (err) {
      inner.close();
      throw mapUpdateError(err);
    }
    return { inner, trie: { mapId: inner.id, maxEntries: inner.maxEntries, entries } };
  }

  /** What the endpoint's installed trie holds: from memory while the outer map still names the
   *  trie we wrote, else read from the kernel (after a restart, or another writer's swap). */
  #installedTrie(endpointId: number): InstalledTrie | undefined {
    const raw = this.#maps.policy.lookup(encodeU32Key(endpointId));
    if (!raw) {
      this.#tries.delete(endpointId);
      return undefined;
    }
    const mapId = raw.readUInt32LE(0);
    const known = this.#tries.get(endpointId);
    if (known?.mapId === mapId) return known;
    let inner: BpfMap;
    try {
      inner = BpfMap.openById(mapId);
    } catch {
      return undefined;
    }
    try {
      const trie: InstalledTrie = { mapId, maxEntries: inner.maxEntries, entries: new Map(inner.entries().map(([k, v]) => [k.toString('hex'), v])) };
      this.#tries.set(endpointId, trie);
      return trie;
    } finally {
      inner.close();
    }
  }

  /** The endpoint's fallback flags follow the policy (they rule only while no trie is
   *  installed); written only when they differ. */
  #syncEnforcementFlags(endpointId: number, content: PolicyMapContent): void {
    const cgroupId = this.#endpoints.get(endpointId);
    const key = cgroupId === undefined ? undefined : encodeEndpointKey(cgroupId);
    const raw = key && this.#maps.endpoints.lookup(key);
    if (!key || !raw) return;
    const info = decodeEndpointInfo(raw);
    const flags =
      (info.flags & ENDPOINT_FLAGS.audit) | (content.ingressEnforced ? ENDPOINT_FLAGS.ingressEnforced : 0) | (content.egressEnforced ? ENDPOINT_FLAGS.egressEnforced : 0);
    if (flags === info.flags) return;
    info.flags = flags;
    this.#update(this.#maps.endpoints, key, encodeEndpointInfo(info));
  }

  #writeConfig(): void {
    const o = this.#options;
    const v4 = parseAddress(o.nodeProxyAddress.ipv4);
    const v6 = parseAddress(o.nodeProxyAddress.ipv6);
    if (v4.family !== AF_INET || v6.family === AF_INET) {
      throw new DatapathError('MESHD_ERR_DATAPATH_BAD_ADDRESS', `nodeProxyAddress needs an IPv4 and an IPv6 address, got ${o.nodeProxyAddress.ipv4} and ${o.nodeProxyAddress.ipv6}`);
    }
    this.#update(this.#maps.config, encodeU32Key(0), encodeConfig({
      sampleAllowed: o.sampleAllowed ?? 0,
      flags: o.socketAcceleration ? CONFIG_FLAGS.socketAcceleration : 0,
      proxyIpv4: v4.bytes.subarray(0, 4),
      proxyIpv6: v6.bytes,
    }));
  }

  /** The endpoint index from the pinned endpoints map, and the address map brought in line
   *  with it: a pin root of a build before that map existed gets it filled, and entries of
   *  endpoints that are gone are removed. */
  #loadEndpointIndex(): void {
    const wanted = new Map<string, Buffer>();
    for (const [key, value] of this.#maps.endpoints.entries()) {
      const info = decodeEndpointInfo(value);
      const cgroupId = decodeEndpointKey(key);
      this.#endpoints.set(info.endpointId, cgroupId);
      for (const a of addressesOf(info)) {
        wanted.set(encodeEndpointAddrKey(a).toString('hex'), encodeEndpointAddrValue({ cgroupId, endpointId: info.endpointId }));
      }
    }
    for (const [key, value] of this.#maps.endpointAddrs.entries()) {
      const hex = key.toString('hex');
      const want = wanted.get(hex);
      if (!want) this.#maps.endpointAddrs.delete(key);
      else if (want.equals(value)) wanted.delete(hex);
    }
    for (const [hex, value] of wanted) this.#update(this.#maps.endpointAddrs, Buffer.from(hex, 'hex'), value);
  }

  #endpointInfo(endpointId: number): { key: Buffer; info: EndpointInfoValue } {
    const cgroupId = this.#endpoints.get(endpointId);
    const key = cgroupId === undefined ? undefined : encodeEndpointKey(cgroupId);
    const raw = key && this.#maps.endpoints.lookup(key);
    if (!key || !raw) throw new DatapathError('MESHD_ERR_DATAPATH_UNKNOWN_ENDPOINT', `no endpoint ${endpointId} is attached`);
    return { key, info: decodeEndpointInfo(raw) };
  }

  /** Removes an address entry only while it still names this endpoint (another endpoint may
   *  have been given the address since). */
  #deleteAddress(a: BinaryAddress, endpointId: number): void {
    const key = encodeEndpointAddrKey(a);
    const raw = this.#maps.endpointAddrs.lookup(key);
    if (raw && decodeEndpointAddrValue(raw).endpointId === endpointId) this.#maps.endpointAddrs.delete(key);
  }

  #linkPath(cgroupId: bigint, program: string): string {
    return join(this.pinRoot, 'links', cgroupId.toString(), program);
  }

  /** A pinned link of this cgroup and program gets the current program; else a new link. */
  #ensureLink(cgroupPath: string, cgroupId: bigint, programName: string): void {
    const program = this.#program(programName);
    const path = this.#linkPath(cgroupId, programName);
    if (existsSync(path)) {
      const link = BpfLink.openPinned(path);
      try {
        if (link.info().progId !== program.id) link.updateProgram(program);
      } finally {
        link.close();
      }
      return;
    }
    let link: BpfLink;
    try {
      link = program.attachCgroup(cgroupPath);
    } catch (err) {
      throw new DatapathError('MESHD_ERR_DATAPATH_ATTACH', `${programName} on ${cgroupPath}: ${(err as Error).message}`, { cause: err });
    }
    try {
      mkdirSync(dirname(path), { recursive: true });
      link.pin(path);
    } catch (err) {
      link.detach();
      throw new DatapathError('MESHD_ERR_DATAPATH_ATTACH', `pinning ${programName} of ${cgroupPath} at ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      link.close();
    }
  }

  #detachLinksOf(cgroupId: bigint): void {
    const dir = join(this.pinRoot, 'links', cgroupId.toString());
    if (!existsSync(dir)) return;
    this.#detachLinkDir(dir);
  }

  /** Detaches every link pinned in dir (one cgroup's or one device's) and removes dir; a link
   *  that fails to detach is unpinned with a warning. */
  #detachLinkDir(dir: string): void {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      try {
        this.#removePinnedLink(path);
      } catch (err) {
        this.#logger?.warn(`datapath: detaching ${path}: ${(err as Error).message}`);
        rmSync(path, { force: true });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  /** Detaches the pinned link for every holder and removes its pin. */
  #removePinnedLink(path: string): void {
    const link = BpfLink.openPinned(path);
    try {
      link.detach();
    } finally {
      link.close();
    }
    rmSync(path, { force: true });
  }

  /** After a restart: every pinned link runs the old (still loaded) program; swap in ours.
   *  A link whose cgroup was removed meanwhile is severed (bpf_link_update answers ENOLINK):
   *  that cgroup's endpoint is stale and its kernel state goes (#removeStaleCgroup); the open
   *  never fails for it. */
  #reattachPinnedLinks(): void {
    const linksDir = join(this.pinRoot, 'links');
    if (!existsSync(linksDir)) return;
    const severed = new Set<string>();
    for (const cg of readdirSync(linksDir)) {
      this.#reattachLinksIn(join(linksDir, cg), (name) => this.#programs.get(name), () => severed.add(cg));
    }
    for (const cg of severed) this.#removeStaleCgroup(cg);
  }

  /** Swaps in programOf(name) on every link pinned in dir (one cgroup's or one device's); a link
   *  whose program this version no longer has is removed. A severed link (bpf_link_update answers
   *  ENOLINK) goes to onSevered. */
  #reattachLinksIn(dir: string, programOf: (name: string) => BpfProgram | undefined, onSevered: (path: string) => void): void {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const program = programOf(name);
      const link = BpfLink.openPinned(path);
      try {
        if (program) link.updateProgram(program);
        else {
          // A program this version no longer has: its link would keep old code running.
          this.#logger?.warn(`datapath: removing link ${path} of unknown program ${name}`);
          link.detach();
          rmSync(path, { force: true });
        }
      } catch (err) {
        // libbpf reports errors as negative errno values.
        if (!(err instanceof BpfSystemError && Math.abs(err.errno) === ENOLINK)) throw err;
        onSevered(path);
      } finally {
        link.close();
      }
    }
  }

  #deviceLinkPath(ifname: string): string {
    // A device name never contains '/' (the kernel refuses it), so it is one path component.
    if (ifname === '' || ifname.includes('/') || ifname === '.' || ifname === '..') {
      throw new DatapathError('MESHD_ERR_DATAPATH_ATTACH', `"${ifname}" is not a network device name`);
    }
    return join(this.pinRoot, 'devices', ifname, TC_INGRESS_PROGRAM);
  }

  /** After a restart: device links get the new program; a severed one (its device was
   *  deleted while no agent ran) is unpinned with a warning. */
  #reattachDeviceLinks(): void {
    const devicesDir = join(this.pinRoot, 'devices');
    if (!existsSync(devicesDir)) return;
    const program = this.#program(TC_INGRESS_PROGRAM);
    for (const ifname of readdirSync(devicesDir)) {
      this.#reattachLinksIn(
        join(devicesDir, ifname),
        (name) => (name === TC_INGRESS_PROGRAM ? program : undefined),
        (path) => {
          this.#logger?.warn(`datapath: device ${ifname} is gone: its tcx link was removed`);
          rmSync(path, { force: true });
        },
      );
      if (readdirSync(join(devicesDir, ifname)).length === 0) rmdirSync(join(devicesDir, ifname));
    }
  }

  /** The cgroup is gone: unpin its links; drop its endpoint entry, addresses and policy trie. */
  #removeStaleCgroup(cg: string): void {
    rmSync(join(this.pinRoot, 'links', cg), { recursive: true, force: true });
    if (!/^\d+$/.test(cg)) return;
    const cgroupId = BigInt(cg);
    const key = encodeEndpointKey(cgroupId);
    const raw = this.#maps.endpoints.lookup(key);
    if (!raw) {
      this.#logger?.warn(`datapath: removed the severed links of cgroup ${cg} (the cgroup is gone)`);
      return;
    }
    const info = decodeEndpointInfo(raw);
    for (const a of addressesOf(info)) this.#deleteAddress(a, info.endpointId);
    this.#maps.endpoints.delete(key);
    if (this.#endpoints.get(info.endpointId) === cgroupId) {
      this.#maps.policy.delete(encodeU32Key(info.endpointId));
      this.#tries.delete(info.endpointId);
      this.#endpoints.delete(info.endpointId);
    }
    this.staleEndpoints.push(info.endpointId);
    this.#logger?.warn(
      `datapath: endpoint ${info.endpointId} is stale (its cgroup ${cg} was removed while no agent ran): its links, endpoint entry, addresses and policy trie were removed`,
    );
  }

  #attachProxy(): void {
    const { proxyCgroup, socketAcceleration } = this.#options;
    const cgroupId = cgroupIdOf(proxyCgroup);
    for (const name of OBJECTS.sock.proxyPrograms) this.#ensureLink(proxyCgroup, cgroupId, name);
    if (socketAcceleration) {
      this.#ensureLink(proxyCgroup, cgroupId, SOCKOPS_PROGRAM);
      this.#program(SK_MSG_PROGRAM).attachSockMap(this.#maps.sockhash);
    } else {
      const path = this.#linkPath(cgroupId, SOCKOPS_PROGRAM);
      if (existsSync(path)) this.#removePinnedLink(path);
      try {
        this.#program(SK_MSG_PROGRAM).detachSockMap(this.#maps.sockhash);
      } catch {
        // Was not attached.
      }
    }
  }

  #program(name: string): BpfProgram {
    const p = this.#programs.get(name);
    if (!p) throw new DatapathError('MESHD_ERR_DATAPATH_LOAD', `program ${name} is in none of the loaded objects`);
    return p;
  }
}

/** The addresses an endpoint entry holds (zeros = none). */
function addressesOf(info: EndpointInfoValue): BinaryAddress[] {
  const out: BinaryAddress[] = [];
  if (info.ipv4.readUInt32BE(0) !== 0) {
    const bytes = Buffer.alloc(16);
    info.ipv4.copy(bytes, 0, 0, 4);
    out.push({ family: AF_INET, bytes });
  }
  if (!info.ipv6.equals(Buffer.alloc(16))) out.push({ family: AF_INET6, bytes: Buffer.from(info.ipv6) });
  return out;
}
