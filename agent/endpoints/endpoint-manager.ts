// Pods run through the agent, as endpoints: a pod (agent/pods) with a numeric endpoint id, an
// identity from the allocator, its addresses in the ipcache, the datapath's programs on its
// cgroup, a place in the policy Repository and SelectorCache, and its command running detached
// inside it. The list is persisted in endpoints.json, so a restarted agent re-adopts every pod
// that still exists (same id, identity and addresses) without touching its processes.
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Datapath, EndpointAttachment } from '../../bpf/index.js';
import type { Endpoint, LabelSet, Repository, SelectorCache } from '../../policy/index.js';
import { createPod, deletePod, setupNode, type NodeNetwork } from '../pods/index.js';
import type { ApiRequest, ApiRoute } from '../api/index.js';
import { EndpointError } from './errors.js';
import { deleteAddresses, publishAddresses, releaseIdentity, statusesOf, unpublishAddresses, upsertAddresses } from './registration.js';
import {
  loadEndpointsState,
  moveAsideEndpointsState,
  saveEndpointsState,
  type EndpointsState,
  type StoredEndpoint,
} from './endpoints-state-file.js';
import { isSameProcessRunning, podExists, processStartTime, resolveExecutable, spawnInPod } from './pod-process.js';
import { checkPodRunRequest, DEFAULT_NAMESPACE, type PodRunRequest } from './request.js';

/** The largest endpoint id: the datapath's policy map holds 65536 endpoints. */
const MAX_ENDPOINT_ID = 65535;

export interface EndpointInfo {
  /** `namespace/name`, the Repository's endpoint id. */
  id: string;
  endpointId: number;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  identity: number;
  ipv4: string;
  ipv6: string;
  netns: string;
  cgroupPath: string;
  pid?: number;
  command: string[];
  /** Whether the pod's command is still running (it is started once and never restarted). */
  state: 'running' | 'exited';
  createdAt: string;
  logFile: string;
}

/** `meshd endpoint list`'s row: the pod plus how policy applies to it now. */
export interface EndpointStatus extends EndpointInfo {
  policyEnforcement: { ingress: boolean; egress: boolean };
  auditMode: boolean;
}

export interface EndpointLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Where endpoints take their identities from: the node's IdentityAllocator (synchronous), or in
 * cluster mode the cluster-wide allocator (agent/cluster, asynchronous: an etcd transaction).
 */
export interface EndpointIdentitySource {
  allocate(labels: LabelSet): { id: number; isNew: boolean } | Promise<{ id: number; isNew: boolean }>;
  release(labels: LabelSet): { id: number; refCount: number } | undefined | Promise<{ id: number; refCount: number } | undefined>;
}

/** Cluster mode: the shared ipcache the endpoints' addresses are published to for the other nodes. */
export interface EndpointPublisher {
  publish(entry: { ip: string; identity: number; pod: string }): Promise<void>;
  unpublish(ip: string): Promise<void>;
  /**
   * Whether the cluster's identity feed keeps `id` in the SelectorCache: then the manager does not
   * remove it when this node's last endpoint of it goes (other nodes' pods may still hold it).
   */
  ownsIdentity(id: number): boolean;
}

export interface EndpointManagerOptions {
  stateDir: string;
  /** From setupNode(prefix): pods get the agent's prefix and cgroup tree. */
  node: NodeNetwork;
  datapath: Datapath;
  allocator: EndpointIdentitySource;
  selectorCache: SelectorCache;
  repository: Repository;
  logger: EndpointLogger;
  /** Cluster mode (`--etcd`): publish every endpoint's addresses; absent on a single node. */
  publisher?: EndpointPublisher;
  /** Called after endpoints were added or removed (the reconciler installs their policies). */
  onChange(ids: string[]): Promise<void>;
  /** Whether the endpoint runs in audit mode (agent flag, or an audit policy selects it); default never. */
  auditModeOf?(endpoint: string): boolean;
}

interface Live {
  stored: StoredEndpoint;
  identityLabels: LabelSet;
}

export class EndpointManager {
  readonly #o: EndpointManagerOptions;
  readonly #endpoints = new Map<string, Live>();
  readonly #byIp = new Map<string, Live>();
  #nextEndpointId: number;
  /** Mutations one at a time: ids, pod names and the state file stay consistent. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(o: EndpointManagerOptions, nextEndpointId: number) {
    this.#o = o;
    this.#nextEndpointId = nextEndpointId;
  }

  /** Restores endpoints.json: pods that still exist are re-adopted, vanished ones cleaned up. */
  static async open(o: EndpointManagerOptions): Promise<EndpointManager> {
    await setupNode({ prefix: o.node.prefix, podCidr4: o.node.podCidr4, podCidr6: o.node.podCidr6 });
    mkdirSync(join(o.stateDir, 'pods'), { recursive: true });
    let state: EndpointsState | undefined;
    try {
      state = await loadEndpointsState(o.stateDir);
    } catch (err) {
      const aside = await moveAsideEndpointsState(o.stateDir).catch(() => undefined);
      o.logger.warn({ code: (err as EndpointError).code, err: (err as Error).message, movedTo: aside }, 'endpoints state is corrupt; starting without endpoints');
    }
    const manager = new EndpointManager(o, state?.nextEndpointId ?? 1);
    const restored: string[] = [];
    for (const stored of state?.endpoints ?? []) {
      const id = `${stored.namespace}/${stored.name}`;
      if (podExists(stored)) {
        try {
          await manager.#register(stored);
          restored.push(id);
          continue;
        } catch (err) {
          o.logger.warn({ endpoint: id, code: (err as EndpointError).code, err: (err as Error).message }, 'could not re-adopt pod; removing it');
        }
      }
      await manager.#cleanVanished(stored);
    }
    await manager.#save();
    if (restored.length > 0) o.logger.info({ endpoints: restored }, 're-adopted pods');
    return manager;
  }

  list(): EndpointInfo[] {
    return [...this.#endpoints.values()].map((l) => this.#info(l)).sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): EndpointInfo | undefined {
    const live = this.#endpoints.get(id);
    return live && this.#info(live);
  }

  byIp(ip: string): EndpointInfo | undefined {
    const live = this.#byIp.get(ip.toLowerCase());
    return live && this.#info(live);
  }

  /** The datapath endpoint id of `namespace/name` (for the policy regenerator). */
  endpointIdOf(id: string): number | undefined {
    return this.#endpoints.get(id)?.stored.endpointId;
  }

  /** With policy enforcement and audit mode, for `meshd endpoint list`. */
  statuses(): EndpointStatus[] {
    return statusesOf(this.#o, this.list());
  }

  /** Sets the endpoint's audit flag in the kernel to what auditModeOf says now (after a policy change). */
  refreshAuditMode(id: string): void {
    const live = this.#endpoints.get(id);
    if (live) this.#o.datapath.setAuditMode(live.stored.endpointId, this.#o.auditModeOf?.(id) ?? false);
  }

  async run(request: PodRunRequest): Promise<EndpointInfo> {
    const r = checkPodRunRequest(request);
    const id = `${r.namespace}/${r.name}`;
    const live = await this.#exclusive(async () => {
      this.#assertOpen();
      if (this.#endpoints.has(id)) {
        throw new EndpointError('MESHD_ERR_ENDPOINT_EXISTS', `pod ${id} already runs on this node`, { hint: `remove it first: meshd pod rm ${r.name} --namespace ${r.namespace}` });
      }
      // Pod names in agent/pods are one DNS label: namespace-name, checked against the others.
      const podName = `${r.namespace}-${r.name}`;
      const clash = [...this.#endpoints.values()].find((l) => l.stored.podName === podName);
      if (clash) {
        throw new EndpointError('MESHD_ERR_ENDPOINT_EXISTS', `pod ${id} would share the network namespace name ${this.#o.node.prefix}${podName} with pod ${clash.stored.namespace}/${clash.stored.name}`, { hint: 'pick another name' });
      }
      if (this.#o.node.prefix.length + podName.length > 63) {
        throw new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', `namespace + name of pod ${id} are too long for a network namespace name (${this.#o.node.prefix}${podName})`, { hint: `keep namespace and name under ${62 - this.#o.node.prefix.length} characters together` });
      }
      const executable = resolveExecutable(r.command[0]!, process.env['PATH']);
      if (executable === undefined) {
        throw new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', `command ${JSON.stringify(r.command[0])} was not found${r.command[0]!.includes('/') ? '' : ' in PATH'} or is not executable`, { hint: 'give the full path of the program' });
      }
      const endpointId = this.#allocateEndpointId();
      // The node's ranges (--pod-cidr4/6, agent/pods' defaults otherwise), as setupNode chose them.
      const pod = await createPod({ name: podName }, { prefix: this.#o.node.prefix, podCidr4: this.#o.node.podCidr4, podCidr6: this.#o.node.podCidr6 });
      const stored: StoredEndpoint = {
        name: r.name,
        namespace: r.namespace,
        labels: r.labels,
        endpointId,
        identity: 0,
        ipv4: pod.ipv4,
        ipv6: pod.ipv6,
        podName,
        netns: pod.netns,
        cgroupPath: pod.cgroupPath,
        command: r.command,
        env: r.env,
        pid: undefined,
        pidStartTime: undefined,
        createdAt: new Date().toISOString(),
        logFile: join(this.#o.stateDir, 'pods', `${r.namespace}_${r.name}.log`),
      };
      try {
        const registered = await this.#register(stored);
        await this.#save();
        return registered;
      } catch (err) {
        await this.#unregister(stored);
        await deletePod(podName).catch(() => undefined);
        throw err;
      }
    });
    // Policy first, then the program: its very first connection is already under policy.
    try {
      await this.#o.onChange([id]);
      this.#startCommand(live.stored);
    } catch (err) {
      await this.remove(id).catch(() => undefined);
      throw err;
    }
    await this.#exclusive(() => this.#save());
    this.#o.logger.info({ endpoint: id, endpointId: live.stored.endpointId, identity: live.stored.identity, ipv4: live.stored.ipv4, ipv6: live.stored.ipv6, pid: live.stored.pid }, 'pod started');
    return this.#info(live);
  }

  async remove(id: string): Promise<EndpointInfo> {
    const info = await this.#exclusive(async () => {
      this.#assertOpen();
      const live = this.#endpoints.get(id);
      if (!live) throw new EndpointError('MESHD_ERR_ENDPOINT_NOT_FOUND', `no pod ${id} runs on this node`, { hint: 'meshd pod list shows the pods' });
      const before = this.#info(live);
      await this.#unregister(live.stored);
      await this.#save();
      // The pod's processes, veth, netns and cgroup go last: once it is out of the maps.
      await deletePod(live.stored.podName);
      return before;
    });
    await this.#o.onChange([id]);
    this.#o.logger.info({ endpoint: id, endpointId: info.endpointId }, 'pod removed');
    return { ...info, state: 'exited' };
  }

  /** Stops taking requests once those in progress are done (each saved its change already).
   *  Pods, their processes and their datapath entries stay. */
  /**
   * Cluster mode: the cluster re-minted the identity of `labels` (this node lost its lease and the
   * old id was freed meanwhile). Every endpoint of those labels moves to the new id: ipcache,
   * datapath, selector cache, published entries. Returns the endpoints that changed.
   */
  async reassignIdentity(labels: LabelSet, oldId: number, newId: number): Promise<string[]> {
    return this.#exclusive(async () => {
      const changed: string[] = [];
      for (const [id, live] of this.#endpoints) {
        if (live.identityLabels.canonicalKey !== labels.canonicalKey || live.stored.identity !== oldId) continue;
        live.stored.identity = newId;
        this.#o.selectorCache.addIdentity(newId, live.identityLabels);
        upsertAddresses(this.#o, addressesOf(live.stored), newId);
        this.#o.datapath.attachEndpoint(this.#attachment(live.stored));
        await this.#publish(live.stored);
        changed.push(id);
      }
      if (changed.length > 0) {
        await this.#save();
        this.#o.logger.warn({ endpoints: changed, oldIdentity: oldId, newIdentity: newId }, 'the cluster re-assigned the identity of these pods');
      }
      return changed;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
  }

  routes(): ApiRoute[] {
    return [
      { method: 'POST', path: '/v1/pods', handler: (req: ApiRequest) => this.run(req.body as PodRunRequest) },
      { method: 'GET', path: '/v1/pods', handler: async () => ({ pods: this.list() }) },
      {
        method: 'GET',
        path: '/v1/pods/get',
        handler: async (req: ApiRequest) => {
          const id = podRef(req.query);
          const info = this.get(id);
          if (!info) throw new EndpointError('MESHD_ERR_ENDPOINT_NOT_FOUND', `no pod ${id} runs on this node`, { hint: 'meshd pod list shows the pods' });
          return info;
        },
      },
      { method: 'DELETE', path: '/v1/pods', handler: async (req: ApiRequest) => ({ removed: await this.remove(podRef(req.query)) }) },
      { method: 'GET', path: '/v1/endpoints', handler: async () => ({ endpoints: this.statuses() }) },
    ];
  }

  // ---- internals --------------------------------------------------------------------------

  /** Identity, selector cache, ipcache, datapath, repository: everything but the pod itself. */
  async #register(stored: StoredEndpoint): Promise<Live> {
    const id = `${stored.namespace}/${stored.name}`;
    const endpoint: Endpoint = this.#o.repository.upsertEndpoint({
      name: stored.name,
      namespace: stored.namespace,
      labels: stored.labels,
      ips: [stored.ipv4, stored.ipv6],
      namedPorts: [],
    });
    let allocated = false;
    try {
      const { id: identity } = await this.#o.allocator.allocate(endpoint.identityLabels);
      allocated = true;
      stored.identity = identity;
      this.#o.selectorCache.addIdentity(identity, endpoint.identityLabels);
      upsertAddresses(this.#o, addressesOf(stored), identity);
      this.#o.datapath.attachEndpoint(this.#attachment(stored));
    } catch (err) {
      this.#o.repository.deleteEndpoint(id);
      if (allocated) await this.#releaseIdentity(endpoint.identityLabels);
      throw err;
    }
    // After the local datapath knows the pod: other nodes may then send to it at once.
    await this.#publish(stored);
    const live: Live = { stored, identityLabels: endpoint.identityLabels };
    this.#endpoints.set(id, live);
    this.#byIp.set(stored.ipv4, live);
    this.#byIp.set(stored.ipv6.toLowerCase(), live);
    return live;
  }

  /** Undoes #register (each step tolerates a half-registered endpoint). */
  async #unregister(stored: StoredEndpoint): Promise<void> {
    const id = `${stored.namespace}/${stored.name}`;
    const live = this.#endpoints.get(id);
    // The other nodes first: they stop sending to the pod before its address is gone here.
    await this.#unpublish(stored);
    if (this.#o.datapath.attachedEndpoints().some((e) => e.id === stored.endpointId)) this.#o.datapath.detachEndpoint(stored.endpointId);
    deleteAddresses(this.#o, addressesOf(stored));
    if (live) await this.#releaseIdentity(live.identityLabels);
    this.#o.repository.deleteEndpoint(id);
    this.#endpoints.delete(id);
    this.#byIp.delete(stored.ipv4);
    this.#byIp.delete(stored.ipv6.toLowerCase());
  }

  async #releaseIdentity(labels: LabelSet): Promise<void> {
    await releaseIdentity(this.#o, labels);
  }

  async #publish(stored: StoredEndpoint): Promise<void> {
    await publishAddresses(this.#o, `${stored.namespace}/${stored.name}`, addressesOf(stored), stored.identity);
  }

  async #unpublish(stored: StoredEndpoint): Promise<void> {
    await unpublishAddresses(this.#o, `${stored.namespace}/${stored.name}`, addressesOf(stored));
  }

  /** A pod of endpoints.json whose netns or cgroup is gone: remove whatever is left of it. */
  async #cleanVanished(stored: StoredEndpoint): Promise<void> {
    const id = `${stored.namespace}/${stored.name}`;
    try {
      await this.#unpublish(stored);
      if (this.#o.datapath.attachedEndpoints().some((e) => e.id === stored.endpointId)) this.#o.datapath.detachEndpoint(stored.endpointId);
      deleteAddresses(this.#o, addressesOf(stored));
      await deletePod(stored.podName);
      this.#o.logger.info({ endpoint: id, endpointId: stored.endpointId }, 'pod vanished while the agent was away; cleaned up');
    } catch (err) {
      this.#o.logger.warn({ endpoint: id, code: (err as EndpointError).code, err: (err as Error).message }, 'could not clean up a vanished pod');
    }
  }

  #attachment(stored: StoredEndpoint): EndpointAttachment {
    const policy = this.#o.repository.endpointPolicy(`${stored.namespace}/${stored.name}`);
    return {
      id: stored.endpointId,
      cgroupPath: stored.cgroupPath,
      identity: stored.identity,
      // Until the reconciler installs the policy trie, a direction some policy selects is denied.
      ingressEnforced: policy?.ingress.isDefaultDeny ?? false,
      egressEnforced: policy?.egress.isDefaultDeny ?? false,
      ipv4: stored.ipv4,
      ipv6: stored.ipv6,
      auditMode: this.#o.auditModeOf?.(`${stored.namespace}/${stored.name}`) ?? false,
    };
  }

  /** Counts up from the persisted counter, skipping ids in use: an id is never given to two live pods. */
  #allocateEndpointId(): number {
    const used = new Set([...this.#endpoints.values()].map((l) => l.stored.endpointId));
    for (let i = 0; i < MAX_ENDPOINT_ID; i++) {
      const candidate = ((this.#nextEndpointId - 1 + i) % MAX_ENDPOINT_ID) + 1;
      if (!used.has(candidate)) {
        this.#nextEndpointId = (candidate % MAX_ENDPOINT_ID) + 1;
        return candidate;
      }
    }
    throw new EndpointError('MESHD_ERR_ENDPOINT_IDS_EXHAUSTED', `all ${MAX_ENDPOINT_ID} endpoint ids are in use`, { hint: 'remove pods' });
  }

  /** Detached, in its own session, output appended to the pod's log: it outlives the agent. */
  #startCommand(stored: StoredEndpoint): void {
    const log = openSync(stored.logFile, 'a');
    try {
      const child = spawnInPod(stored, stored.command, {
        detached: true,
        stdio: ['ignore', log, log],
        env: { PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...stored.env },
      });
      if (child.pid === undefined) throw new Error('spawn returned no pid');
      child.on('error', (err) => this.#o.logger.warn({ endpoint: `${stored.namespace}/${stored.name}`, err: err.message }, 'pod command failed'));
      child.on('exit', (code, signal) => this.#o.logger.info({ endpoint: `${stored.namespace}/${stored.name}`, code, signal }, 'pod command exited'));
      child.unref();
      stored.pid = child.pid;
      stored.pidStartTime = processStartTime(child.pid);
    } catch (err) {
      throw new EndpointError('MESHD_ERR_ENDPOINT_START', `pod ${stored.namespace}/${stored.name}: cannot start ${stored.command.join(' ')}: ${(err as Error).message}`, { cause: err });
    } finally {
      closeSync(log);
    }
  }

  #info(live: Live): EndpointInfo {
    const s = live.stored;
    return {
      id: `${s.namespace}/${s.name}`,
      endpointId: s.endpointId,
      name: s.name,
      namespace: s.namespace,
      labels: { ...s.labels },
      identity: s.identity,
      ipv4: s.ipv4,
      ipv6: s.ipv6,
      netns: s.netns,
      cgroupPath: s.cgroupPath,
      ...(s.pid === undefined ? {} : { pid: s.pid }),
      command: [...s.command],
      state: isSameProcessRunning(s.pid, s.pidStartTime) ? 'running' : 'exited',
      createdAt: s.createdAt,
      logFile: s.logFile,
    };
  }

  async #save(): Promise<void> {
    await saveEndpointsState(this.#o.stateDir, {
      nextEndpointId: this.#nextEndpointId,
      endpoints: [...this.#endpoints.values()].map((l) => l.stored),
    });
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertOpen(): void {
    if (this.#closed) throw new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', 'the endpoint manager is closed (the agent is stopping)');
  }
}

/** `?namespace=&name=` (namespace defaults to `default`), or `?id=ns/name`. */
function podRef(query: URLSearchParams): string {
  const id = query.get('id');
  if (id !== null) {
    if (!/^[^/]+\/[^/]+$/.test(id)) throw new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', `pod id ${JSON.stringify(id)} is not NAMESPACE/NAME`);
    return id;
  }
  const name = query.get('name');
  if (name === null || name === '') throw new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', 'the request needs ?name= (and optionally ?namespace=)');
  return `${query.get('namespace') || DEFAULT_NAMESPACE}/${name}`;
}

/** A pod of this manager has one IPv4 and one IPv6 address. */
function addressesOf(stored: StoredEndpoint): string[] {
  return [stored.ipv4, stored.ipv6];
}
