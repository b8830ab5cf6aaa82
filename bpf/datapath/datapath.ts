// The agent's handle on the kernel datapath: loads (or reuses) the pinned maps and programs,
// attaches endpoints, fills the ipcache and policy maps, answers original-destination
// lookups for the proxy and streams verdict events.
//
// Everything that must outlive the agent is pinned under the pin root: the maps (by libbpf,
// LIBBPF_PIN_BY_NAME) and one link per cgroup and program (links/<cgroup id>/<program>). A
// restarted agent loads the objects again (libbpf reuses the pinned maps) and swaps its new
// programs into the pinned links with bpf_link_update, so enforcement never stops.
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfLink, BpfMap, DEFAULT_PIN_ROOT, type BpfLogger, type BpfProgram } from '../addon/index.js';
import { cgroupIdOf, ensureBpffs, loadObject, type LoadedObject } from './load.js';
import { AF_INET, AF_INET6, BPF_F_NO_PREALLOC, CONFIG_FLAGS, ENDPOINT_FLAGS, MAP_NAMES, OBJECTS, SK_MSG_PROGRAM, SOCKOPS_PROGRAM } from './constants.js';
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
import type { PolicyMapContent } from './policy-entries.js';
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

export class Datapath {
  readonly pinRoot: string;
  readonly ipcache: IpcacheTable;
  readonly #options: DatapathOptions;
  readonly #objects: LoadedObject[];
  readonly #programs = new Map<string, BpfProgram>();
  readonly #maps: Record<keyof typeof MAP_NAMES, BpfMap>;
  readonly #events: EventHub;
  /** endpoint id → cgroup id, rebuilt from the endpoints map on open. */
  readonly #endpoints = new Map<number, bigint>();
  readonly #logger: BpfLogger | undefined;
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
   *  when the last program using it finishes. */
  replacePolicy(endpointId: number, content: PolicyMapContent): void {
    this.#assertOpen();
    const mapUpdateError = (err: unknown) =>
      new DatapathError('MESHD_ERR_DATAPATH_MAP_UPDATE', `policy of endpoint ${endpointId}: ${(err as Error).message}`, { cause: err });
    let inner: BpfMap;
    try {
      inner = BpfMap.create({
        type: 'lpm_trie',
        keySize: STRUCT_LAYOUTS.policy_key.size,
        valueSize: STRUCT_LAYOUTS.policy_value.size,
        maxEntries: Math.max(1, content.entries.length),
        flags: BPF_F_NO_PREALLOC,
        name: `meshd_pol_${endpointId}`.slice(0, 15),
      });
    } catch (err) {
      throw mapUpdateError(err);
    }
    try {
      if (content.entries.length > 0) {
        inner.updateBatch(
          content.entries.map((e) => encodePolicyKey(e.key)),
          content.entries.map((e) => encodePolicyValue(e.value)),
        );
      }
      this.#maps.policy.setInner(encodeU32Key(endpointId), inner);
    } catch (err) {
      throw mapUpdateError(err);
    } finally {
      inner.close();
    }
    // Keep the endpoint's fallback flags in step (they rule only while no trie is installed).
    const cgroupId = this.#endpoints.get(endpointId);
    const key = cgroupId === undefined ? undefined : encodeEndpointKey(cgroupId);
    const raw = key && this.#maps.endpoints.lookup(key);
    if (key && raw) {
      const info = decodeEndpointInfo(raw);
      info.flags =
        (info.flags & ENDPOINT_FLAGS.audit) | (content.ingressEnforced ? ENDPOINT_FLAGS.ingressEnforced : 0) | (content.egressEnforced ? ENDPOINT_FLAGS.egressEnforced : 0);
      this.#update(this.#maps.endpoints, key, encodeEndpointInfo(info));
    }
  }

  /** Removes the endpoint's policy trie: its endpoint flags decide again. */
  removePolicy(endpointId: number): boolean {
    this.#assertOpen();
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

  /** After a restart: every pinned link runs the old (still loaded) program; swap in ours. */
  #reattachPinnedLinks(): void {
    const linksDir = join(this.pinRoot, 'links');
    if (!existsSync(linksDir)) return;
    for (const cg of readdirSync(linksDir)) {
      for (const name of readdirSync(join(linksDir, cg))) {
        const path = join(linksDir, cg, name);
        const program = this.#programs.get(name);
        const link = BpfLink.openPinned(path);
        try {
          if (program) link.updateProgram(program);
          else {
            // A program this version no longer has: its link would keep old code running.
            this.#logger?.warn(`datapath: removing link ${path} of unknown program ${name}`);
            link.detach();
            rmSync(path, { force: true });
          }
        } finally {
          link.close();
        }
      }
    }
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
