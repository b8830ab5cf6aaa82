// The endpoint registry of the agent's Kubernetes mode (`meshd agent --k8s`): the kubelet makes
// the pods, the API watcher (agent/k8s) reports them, and this registers each as a policy
// endpoint the way EndpointManager registers its own pods: an identity from its labels (pod,
// namespace, service account, namespace labels), the selector cache, the ipcache for its
// addresses, the Repository, and the datapath's programs on the pod's cgroup once that cgroup is
// found in the host's cgroup v2 tree (the kubelet's, found by the pod's uid). In cluster mode
// (`--k8s --etcd`) identities are the cluster's and each pod's addresses are published to etcd,
// exactly as EndpointManager does for its own pods: the same labels get the same id on every node.
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Datapath, EndpointAttachment } from '../../bpf/index.js';
import { MeshdError, type LabelSet, type Repository, type SelectorCache } from '../../policy/index.js';
import type { ApiRoute } from '../api/index.js';
import type { K8sEndpointSink, K8sEndpointSpec } from '../k8s/index.js';
import { cgroup2Mount } from '../pods/index.js';
import type { EndpointIdentitySource, EndpointInfo, EndpointLogger, EndpointPublisher, EndpointStatus } from './endpoint-manager.js';
import { hostPrefix, publishAddresses, releaseIdentity, statusesOf, unpublishAddresses } from './registration.js';

/** The largest endpoint id: the datapath's policy map holds 65536 endpoints. */
const MAX_ENDPOINT_ID = 65535;

/** How deep below the cgroup2 root a pod's cgroup may be (kubelet.slice/kubelet-kubepods.slice/<qos>.slice/<pod>.slice is 4). */
const MAX_CGROUP_SEARCH_DEPTH = 5;

const QOS_DIRS = new Set(['burstable', 'besteffort', 'guaranteed']);

export const K8S_REGISTRY_ERROR_CODES = {
  MESHD_ERR_ENDPOINT_K8S_MODE: 'the agent runs in Kubernetes mode (--k8s): pods are made by the kubelet, not by meshd pod run',
} as const;

export type K8sRegistryErrorCode = keyof typeof K8S_REGISTRY_ERROR_CODES;

export class K8sRegistryError extends MeshdError {
  override readonly code: K8sRegistryErrorCode;
  /** 409: the request is fine, the agent's mode conflicts with it (agent/api's httpStatusOf honours it). */
  readonly httpStatus = 409;
  constructor(code: K8sRegistryErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'K8sRegistryError';
    this.code = code;
  }
}

/** What `POST /v1/pods` (`meshd pod run`) answers in Kubernetes mode. */
export function refusePodRun(): never {
  throw new K8sRegistryError(
    'MESHD_ERR_ENDPOINT_K8S_MODE',
    'this agent runs in Kubernetes mode (--k8s): pods are made by the kubelet, not by meshd pod run',
    'create the pod through the API server (kubectl run, a Deployment), or run an agent without --k8s',
  );
}

/**
 * The kubelet's cgroup of the pod with this uid under `root` (a cgroup2 mount), or undefined.
 * Both cgroup drivers are known: cgroupfs (`kubepods/pod<uid>`, `kubepods/burstable/pod<uid>`,
 * `kubepods/besteffort/pod<uid>`) and systemd (`kubepods.slice/kubepods-pod<uid_>.slice`,
 * `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice`, …, where the
 * uid's '-' become '_'), also nested below a kubelet's own cgroup (kind, k3s:
 * `kubelet.slice/kubelet-kubepods.slice/…`, `kubelet/kubepods/…`). Only directories whose name
 * says kubepods or kubelet (and the QoS directories inside them) are searched, at most
 * MAX_CGROUP_SEARCH_DEPTH deep: a host's cgroup tree has thousands of other directories.
 * Reads the filesystem and nothing else, so tests run it on a tree they make.
 */
export function findPodCgroup(root: string, uid: string, qosClass?: string): string | undefined {
  const uids = new Set([uid, uid.replace(/-/g, '_'), uid.replace(/_/g, '-')]);
  const isPodDir = (name: string): boolean => {
    const bare = name.endsWith('.slice') ? name.slice(0, -'.slice'.length) : name;
    for (const u of uids) if (bare === `pod${u}` || bare.endsWith(`-pod${u}`)) return true;
    return false;
  };
  let found: string | undefined;
  walkKubepods(root, qosClass, (path, name) => {
    if (!isPodDir(name)) return false;
    found = path;
    return true;
  });
  return found;
}

/** Every pod cgroup of the kubelet's tree under `root` (the same places findPodCgroup searches). */
export function listPodCgroups(root: string): string[] {
  const found: string[] = [];
  walkKubepods(root, undefined, (path, name) => {
    if (/(^|-)pod[0-9a-fA-F_-]{36}(\.slice)?$/.test(name)) found.push(path);
    return false;
  });
  return found;
}

/** Visits the directories below the kubelet's kubepods cgroups, breadth first; `visit` returning true stops. */
function walkKubepods(root: string, qosClass: string | undefined, visit: (path: string, name: string) => boolean): void {
  // The pod's own QoS class first: with the systemd driver the other classes' trees are siblings.
  const qos = qosClass?.toLowerCase();
  const order = (dirs: Dirent[]): Dirent[] => (qos === undefined ? dirs : [...dirs].sort((a, b) => Number(b.name.includes(qos)) - Number(a.name.includes(qos))));
  let level: Array<{ path: string; underKubepods: boolean }> = [{ path: root, underKubepods: false }];
  for (let depth = 0; depth < MAX_CGROUP_SEARCH_DEPTH && level.length > 0; depth++) {
    const next: typeof level = [];
    for (const dir of level) {
      let children: Dirent[];
      try {
        children = readdirSync(dir.path, { withFileTypes: true }).filter((d) => d.isDirectory());
      } catch {
        continue; // removed meanwhile, or not readable: not where the pod is
      }
      for (const child of order(children)) {
        if (dir.underKubepods && visit(join(dir.path, child.name), child.name)) return;
        const kube = child.name.includes('kubepods');
        if (kube || child.name.includes('kubelet') || (dir.underKubepods && QOS_DIRS.has(child.name))) {
          next.push({ path: join(dir.path, child.name), underKubepods: dir.underKubepods || kube });
        }
      }
    }
    level = next;
  }
}

export interface K8sPodRegistryOptions {
  datapath: Datapath;
  /** The node's IdentityAllocator, or in cluster mode the cluster's (asynchronous: etcd). */
  allocator: EndpointIdentitySource;
  selectorCache: SelectorCache;
  repository: Repository;
  logger: EndpointLogger;
  /** Cluster mode (`--etcd`): publish every pod's addresses for the other nodes; absent on a single node. */
  publisher?: EndpointPublisher;
  /** Called after endpoints were added, changed or removed (the reconciler installs their policies). */
  onChange(ids: string[]): Promise<void>;
  /** Whether the endpoint runs in audit mode (agent flag, or an audit policy selects it); default never. */
  auditModeOf?(endpoint: string): boolean;
  /** Endpoint ids taken by other registries (the EndpointManager's pods): never given out here. */
  reservedEndpointIds?(): Iterable<number>;
  /** The cgroup v2 mount the kubelet's pod cgroups are under; default cgroup2Mount(). */
  cgroupRoot?: string;
}

interface Registered {
  spec: K8sEndpointSpec;
  endpointId: number;
  identity: number;
  identityLabels: LabelSet;
  /** The pod's cgroup once found; the datapath's programs are attached to it. */
  cgroupPath: string | undefined;
  createdAt: string;
}

/**
 * The kubelet's pods of this node as endpoints. Calls come from the K8sWatcher one at a time
 * (its queue is serialized); the reads (list, get, byIp) are the API's and the flow collector's.
 */
export class K8sPodRegistry implements K8sEndpointSink {
  readonly #o: K8sPodRegistryOptions;
  readonly #pods = new Map<string, Registered>();
  readonly #byIp = new Map<string, Registered>();
  /** Pods whose cgroup was not found, so the log says it once per pod. */
  readonly #reportedNoCgroup = new Set<string>();
  /** Endpoint ids of cgroups a previous agent attached (pinned): a pod found there keeps its id. */
  readonly #previousIds = new Map<bigint, number>();
  #nextEndpointId = 1;
  #cgroupRoot: string | undefined;
  #closed = false;

  constructor(o: K8sPodRegistryOptions) {
    this.#o = o;
    const reserved = new Set(o.reservedEndpointIds?.() ?? []);
    for (const e of o.datapath.attachedEndpoints()) if (!reserved.has(e.id)) this.#previousIds.set(e.cgroupId, e.id);
  }

  async onPodUpsert(spec: K8sEndpointSpec): Promise<void> {
    if (this.#closed) return;
    const old = this.#pods.get(spec.id);
    if (old && old.spec.uid !== spec.uid) {
      // Same name, new pod (a StatefulSet's replacement): the old one is gone, with its cgroup.
      await this.#unregister(old);
    }
    const current = this.#pods.get(spec.id);
    const reg = current ? await this.#update(current, spec) : await this.#register(spec);
    this.#attachIfFound(reg);
    await this.#o.onChange([spec.id]);
  }

  async onPodDelete(ref: { id: string; namespace: string; name: string; uid: string | undefined }): Promise<void> {
    const reg = this.#pods.get(ref.id);
    if (!reg || (ref.uid !== undefined && reg.spec.uid !== ref.uid)) return;
    await this.#unregister(reg);
    this.#o.logger.info({ endpoint: ref.id, endpointId: reg.endpointId }, 'Kubernetes pod unregistered');
    await this.#o.onChange([ref.id]);
  }

  async onPodSync(ids: string[]): Promise<void> {
    const present = new Set(ids);
    const gone = [...this.#pods.values()].filter((r) => !present.has(r.spec.id));
    for (const reg of gone) await this.#unregister(reg);
    // Cgroups a previous agent attached whose pods are gone (the kubelet removed the cgroup):
    // detach them. The live ones stay attached, and their pods (added right after this sync)
    // get their ids back: no gap in enforcement across an agent restart.
    if (this.#previousIds.size > 0) {
      const root = (this.#cgroupRoot ??= this.#o.cgroupRoot ?? cgroup2Mount());
      const live = new Set(listPodCgroups(root).map((p) => inodeOf(p)));
      const attached = new Set(this.#o.datapath.attachedEndpoints().map((e) => e.id));
      for (const [cgroupId, id] of [...this.#previousIds]) {
        if (live.has(cgroupId)) continue;
        this.#previousIds.delete(cgroupId);
        if (attached.has(id) && ![...this.#pods.values()].some((r) => r.endpointId === id)) {
          this.#o.datapath.detachEndpoint(id);
          this.#o.logger.info({ endpointId: id }, "detached a pod cgroup a previous agent attached; the pod is gone");
        }
      }
    }
    // A cgroup not found at the pod's last update may be there now.
    for (const reg of this.#pods.values()) this.#attachIfFound(reg);
    if (gone.length > 0) await this.#o.onChange(gone.map((r) => r.spec.id));
  }

  list(): EndpointInfo[] {
    return [...this.#pods.values()].map((r) => this.#info(r)).sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): EndpointInfo | undefined {
    const reg = this.#pods.get(id);
    return reg && this.#info(reg);
  }

  byIp(ip: string): EndpointInfo | undefined {
    const reg = this.#byIp.get(ip.toLowerCase());
    return reg && this.#info(reg);
  }

  endpointIdOf(id: string): number | undefined {
    return this.#pods.get(id)?.endpointId;
  }

  /** Whether the datapath's programs are on the pod's cgroup (false while its cgroup is not found). */
  isAttached(id: string): boolean {
    return this.#pods.get(id)?.cgroupPath !== undefined;
  }

  statuses(): EndpointStatus[] {
    return statusesOf(this.#o, this.list());
  }

  refreshAuditMode(id: string): void {
    const reg = this.#pods.get(id);
    if (reg?.cgroupPath !== undefined) this.#o.datapath.setAuditMode(reg.endpointId, this.#o.auditModeOf?.(id) ?? false);
  }

  /** The registry's routes (GET only: in Kubernetes mode the kubelet makes and removes pods). */
  routes(): ApiRoute[] {
    return [{ method: 'GET', path: '/v1/endpoints', handler: async () => ({ endpoints: this.statuses() }) }];
  }

  /**
   * Cluster mode: the cluster re-minted the identity of `labels` (this node lost its lease and the
   * old id was freed meanwhile). Every pod of those labels moves to the new id: ipcache, datapath,
   * selector cache, published entries. Returns the pods that changed.
   */
  async reassignIdentity(labels: LabelSet, oldId: number, newId: number): Promise<string[]> {
    const changed: string[] = [];
    for (const reg of this.#pods.values()) {
      if (reg.identityLabels.canonicalKey !== labels.canonicalKey || reg.identity !== oldId) continue;
      reg.identity = newId;
      this.#o.selectorCache.addIdentity(newId, reg.identityLabels);
      this.#addAddresses(reg);
      if (reg.cgroupPath !== undefined) this.#o.datapath.attachEndpoint(this.#attachment(reg, reg.cgroupPath));
      await this.#publish(reg);
      changed.push(reg.spec.id);
    }
    if (changed.length > 0) this.#o.logger.warn({ endpoints: changed, oldIdentity: oldId, newIdentity: newId }, 'the cluster re-assigned the identity of these Kubernetes pods');
    return changed;
  }

  /** Stops taking updates. Registrations, attachments and the pods stay (a restarted agent relists). */
  close(): void {
    this.#closed = true;
  }

  // ---- internals --------------------------------------------------------------------------

  async #register(spec: K8sEndpointSpec): Promise<Registered> {
    const endpoint = this.#o.repository.upsertEndpoint(endpointSpecOf(spec));
    let identity: number;
    try {
      identity = (await this.#o.allocator.allocate(endpoint.identityLabels)).id;
    } catch (err) {
      this.#o.repository.deleteEndpoint(spec.id);
      throw err;
    }
    this.#o.selectorCache.addIdentity(identity, endpoint.identityLabels);
    const reg: Registered = { spec, endpointId: 0, identity, identityLabels: endpoint.identityLabels, cgroupPath: undefined, createdAt: new Date().toISOString() };
    reg.endpointId = this.#allocateEndpointId(spec);
    this.#pods.set(spec.id, reg);
    this.#addAddresses(reg);
    // After the local ipcache knows the pod: other nodes may then send to it at once.
    await this.#publish(reg);
    this.#o.logger.info({ endpoint: spec.id, endpointId: reg.endpointId, identity, ips: spec.ips }, 'Kubernetes pod registered');
    return reg;
  }

  /** New labels, namespace labels or addresses of a registered pod: identity and ipcache follow. */
  async #update(reg: Registered, spec: K8sEndpointSpec): Promise<Registered> {
    // Addresses the pod no longer has leave the cluster first (the other nodes stop sending there).
    const kept = new Set(spec.ips.map((ip) => ip.toLowerCase()));
    await this.#unpublish(reg, reg.spec.ips.filter((ip) => !kept.has(ip.toLowerCase())));
    this.#removeAddresses(reg);
    const endpoint = this.#o.repository.upsertEndpoint(endpointSpecOf(spec));
    const identityChanged = !endpoint.identityLabels.equals(reg.identityLabels);
    if (identityChanged) {
      const { id } = await this.#o.allocator.allocate(endpoint.identityLabels);
      this.#o.selectorCache.addIdentity(id, endpoint.identityLabels);
      await this.#releaseIdentity(reg.identityLabels);
      reg.identity = id;
      reg.identityLabels = endpoint.identityLabels;
    }
    const addressesChanged = spec.ips.length !== reg.spec.ips.length || spec.ips.some((ip, i) => ip.toLowerCase() !== reg.spec.ips[i]?.toLowerCase());
    reg.spec = spec;
    this.#addAddresses(reg);
    if (identityChanged || addressesChanged) await this.#publish(reg);
    // The kernel's endpoint entry carries the identity and addresses: rewrite it.
    if (reg.cgroupPath !== undefined) this.#o.datapath.attachEndpoint(this.#attachment(reg, reg.cgroupPath));
    return reg;
  }

  async #unregister(reg: Registered): Promise<void> {
    const id = reg.spec.id;
    // The other nodes first: they stop sending to the pod before its address is gone here.
    await this.#unpublish(reg, reg.spec.ips);
    if (this.#o.datapath.attachedEndpoints().some((e) => e.id === reg.endpointId)) this.#o.datapath.detachEndpoint(reg.endpointId);
    this.#removeAddresses(reg);
    await this.#releaseIdentity(reg.identityLabels);
    this.#o.repository.deleteEndpoint(id);
    this.#pods.delete(id);
    this.#reportedNoCgroup.delete(id);
  }

  #attachIfFound(reg: Registered): void {
    if (reg.cgroupPath !== undefined) return;
    const root = (this.#cgroupRoot ??= this.#o.cgroupRoot ?? cgroup2Mount());
    const cgroupPath = findPodCgroup(root, reg.spec.uid, reg.spec.qosClass);
    if (cgroupPath === undefined) {
      if (!this.#reportedNoCgroup.has(reg.spec.id)) {
        this.#reportedNoCgroup.add(reg.spec.id);
        this.#o.logger.warn(
          { endpoint: reg.spec.id, uid: reg.spec.uid, qosClass: reg.spec.qosClass, cgroupRoot: root },
          "the pod's cgroup was not found (yet): it is registered (identity, ipcache, policy) but the datapath is not attached; retried on its next update",
        );
      }
      return;
    }
    this.#o.datapath.attachEndpoint(this.#attachment(reg, cgroupPath));
    reg.cgroupPath = cgroupPath;
    this.#reportedNoCgroup.delete(reg.spec.id);
    this.#o.logger.info({ endpoint: reg.spec.id, endpointId: reg.endpointId, cgroup: cgroupPath }, "datapath attached to the Kubernetes pod's cgroup");
  }

  #attachment(reg: Registered, cgroupPath: string): EndpointAttachment {
    const policy = this.#o.repository.endpointPolicy(reg.spec.id);
    const { ipv4, ipv6 } = addressesOf(reg.spec.ips);
    return {
      id: reg.endpointId,
      cgroupPath,
      identity: reg.identity,
      // Until the reconciler installs the policy trie, a direction some policy selects is denied.
      ingressEnforced: policy?.ingress.isDefaultDeny ?? false,
      egressEnforced: policy?.egress.isDefaultDeny ?? false,
      ...(ipv4 !== undefined ? { ipv4 } : {}),
      ...(ipv6 !== undefined ? { ipv6 } : {}),
      auditMode: this.#o.auditModeOf?.(reg.spec.id) ?? false,
    };
  }

  #addAddresses(reg: Registered): void {
    for (const ip of reg.spec.ips) {
      this.#o.datapath.ipcache.upsert(hostPrefix(ip), reg.identity);
      this.#byIp.set(ip.toLowerCase(), reg);
    }
  }

  #removeAddresses(reg: Registered): void {
    for (const ip of reg.spec.ips) {
      if (this.#byIp.get(ip.toLowerCase()) !== reg) continue;
      this.#o.datapath.ipcache.delete(hostPrefix(ip));
      this.#byIp.delete(ip.toLowerCase());
    }
  }

  async #releaseIdentity(labels: LabelSet): Promise<void> {
    await releaseIdentity(this.#o, labels);
  }

  async #publish(reg: Registered): Promise<void> {
    await publishAddresses(this.#o, reg.spec.id, reg.spec.ips, reg.identity);
  }

  async #unpublish(reg: Registered, ips: readonly string[]): Promise<void> {
    await unpublishAddresses(this.#o, reg.spec.id, ips);
  }

  /** A pod whose cgroup a previous agent attached keeps that id; else the next free one. */
  #allocateEndpointId(spec: K8sEndpointSpec): number {
    const used = new Set([...this.#pods.values()].map((r) => r.endpointId));
    for (const id of this.#o.reservedEndpointIds?.() ?? []) used.add(id);
    const root = (this.#cgroupRoot ??= this.#o.cgroupRoot ?? cgroup2Mount());
    const cgroup = this.#previousIds.size > 0 ? findPodCgroup(root, spec.uid, spec.qosClass) : undefined;
    if (cgroup !== undefined) {
      const cgroupId = inodeOf(cgroup);
      const previous = this.#previousIds.get(cgroupId);
      if (previous !== undefined && !used.has(previous)) {
        this.#previousIds.delete(cgroupId);
        return previous;
      }
    }
    // Ids of cgroups a previous agent attached stay free until the first sync says whose they are.
    for (const id of this.#previousIds.values()) used.add(id);
    for (let i = 0; i < MAX_ENDPOINT_ID; i++) {
      const candidate = ((this.#nextEndpointId - 1 + i) % MAX_ENDPOINT_ID) + 1;
      if (!used.has(candidate)) {
        this.#nextEndpointId = (candidate % MAX_ENDPOINT_ID) + 1;
        return candidate;
      }
    }
    throw new Error(`all ${MAX_ENDPOINT_ID} endpoint ids are in use`);
  }

  #info(reg: Registered): EndpointInfo {
    const { ipv4, ipv6 } = addressesOf(reg.spec.ips);
    return {
      id: reg.spec.id,
      endpointId: reg.endpointId,
      name: reg.spec.name,
      namespace: reg.spec.namespace,
      labels: { ...reg.spec.labels },
      identity: reg.identity,
      ipv4: ipv4 ?? '',
      ipv6: ipv6 ?? '',
      // The CNI's network namespace is not the agent's to name; the cgroup is '' until found.
      netns: '',
      cgroupPath: reg.cgroupPath ?? '',
      command: [],
      // The kubelet runs the containers; the API server said the pod has addresses and has not finished.
      state: 'running',
      createdAt: reg.createdAt,
      logFile: '',
    };
  }
}

/** A cgroup's id is its inode number on the cgroup2 filesystem (what the datapath keys by); 0 when gone. */
function inodeOf(path: string): bigint {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return 0n;
  }
}

function endpointSpecOf(spec: K8sEndpointSpec): Parameters<Repository['upsertEndpoint']>[0] {
  return {
    name: spec.name,
    namespace: spec.namespace,
    labels: spec.labels,
    ips: spec.ips,
    namedPorts: spec.namedPorts.map((p) => ({ ...p })),
    serviceAccount: spec.serviceAccount,
    namespaceLabels: spec.namespaceLabels,
  };
}

/** The first IPv4 and the first IPv6 address of the pod (what the kernel's endpoint entry holds). */
function addressesOf(ips: readonly string[]): { ipv4: string | undefined; ipv6: string | undefined } {
  return { ipv4: ips.find((ip) => isIP(ip) === 4), ipv6: ips.find((ip) => isIP(ip) === 6) };
}
