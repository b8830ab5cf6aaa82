// The agent's Kubernetes mode: list+watch of this node's Pods, Namespaces, Services and the policy
// kinds, translated into what the agent consumes (endpoint specs, policy sources). The informer
// machinery is @kubernetes/client-node's ListWatch: it resumes a dropped watch from the last
// resourceVersion, and relists when the API server answers 410 Gone. What it does not do is retry
// after an error or tell which objects vanished while the agent was away: both are done here.
// Every change goes through one serialized queue, so the sinks never see two calls at once.
import { KubeConfig, ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { PolicySource } from '../policy-store/index.js';
import { getJson } from './api-get.js';
import { K8sError, formatObjectRef, type K8sObjectRef } from './errors.js';
import {
  K8S_RESOURCES,
  K8S_SOURCE_PREFIX,
  POLICY_KINDS,
  namespaceLabelsOf,
  objectRefOf,
  podEndpointSpec,
  policySourceFile,
  policySourceOf,
  serviceSpecOf,
  type K8sEndpointSpec,
  type K8sPolicyKind,
  type K8sResourceKind,
  type K8sServiceSpec,
} from './objects.js';

/** Where policies go: the agent's PolicyStore has this shape. */
export interface K8sPolicySink {
  /** All-or-nothing; throws (with `problems`) when the source does not load. */
  apply(sources: PolicySource[]): Promise<unknown>;
  delete(ref: { kind?: string; namespace?: string; name: string }): Promise<unknown>;
  /** The applied policies: the ones whose file starts with k8s:// are the watcher's. */
  list(): ReadonlyArray<{ kind: string; namespace?: string; name: string; file: string }>;
}

/** The agent's endpoint registry in Kubernetes mode: the kubelet makes the pods, the agent registers them. */
export interface K8sEndpointSink {
  /** A pod of this node appeared, or changed (labels, IPs, its namespace's labels, named ports). */
  onPodUpsert(spec: K8sEndpointSpec): Promise<void>;
  /** The pod is gone, finished, or no longer an endpoint (lost its IPs, became host-network). */
  onPodDelete(ref: { id: string; namespace: string; name: string; uid: string | undefined }): Promise<void>;
  /** After every (re)list of pods: the ids of every pod of this node the API server has (endpoints or not); drop registered ones it does not name (they vanished while the agent was not watching). */
  onPodSync?(ids: string[]): Promise<void>;
}

export interface K8sServiceSink {
  onServiceUpsert(spec: K8sServiceSpec): Promise<void>;
  onServiceDelete(id: string): Promise<void>;
}

export interface K8sWatcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface K8sWatcherOptions {
  kubeConfig: KubeConfig;
  /** Only pods with spec.nodeName = nodeName are watched (a field selector: the API server filters). */
  nodeName: string;
  policies: K8sPolicySink;
  endpoints: K8sEndpointSink;
  services?: K8sServiceSink;
  logger: K8sWatcherLogger;
  /** Each invalid object, rejected policy and failed request, besides the log. */
  onError?(err: K8sError): void;
  /** First retry delay after a failed list or watch, doubled up to 30 s (default 1000 ms). */
  retryDelayMs?: number;
  /** Which kinds to watch (default all six). */
  kinds?: K8sResourceKind[];
}

const MAX_RETRY_DELAY_MS = 30_000;

interface Informer {
  kind: K8sResourceKind;
  lw: ListWatch<KubernetesObject>;
  lists: number;
  retryDelay: number;
  retryTimer: NodeJS.Timeout | undefined;
  firstList: Promise<void>;
  listed(): void;
}

/** Creates the client configuration: a kubeconfig file when given, else the pod's service account. */
export function createKubeConfig(o: { kubeconfig?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (o.kubeconfig !== undefined) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromCluster();
  } catch (err) {
    throw new K8sError('MESHD_ERR_K8S_CONFIG', `cannot load the Kubernetes client configuration: ${(err as Error).message}`, {
      cause: err,
      hint: o.kubeconfig === undefined ? 'run the agent in a pod with a service account (deploy/kubernetes), or pass --kubeconfig' : `check ${o.kubeconfig}`,
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new K8sError('MESHD_ERR_K8S_CONFIG', 'the Kubernetes client configuration has no current cluster', { hint: 'set current-context in the kubeconfig' });
  }
  if (o.kubeconfig === undefined && !process.env['KUBERNETES_SERVICE_HOST']) {
    throw new K8sError('MESHD_ERR_K8S_CONFIG', 'not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)', { hint: 'pass --kubeconfig FILE' });
  }
  return kc;
}

/** A Watch that reports events whose object has no usable metadata (ListWatch would drop them silently). */
class CheckedWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly report: (path: string, phase: string, obj: unknown) => boolean,
  ) {
    super(kc);
  }
  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, obj, raw) => {
      if (this.report(path, phase, obj)) callback(phase, obj, raw);
    }, done);
  }
}

export class K8sWatcher {
  readonly #o: K8sWatcherOptions;
  readonly #informers = new Map<K8sResourceKind, Informer>();
  readonly #watch: CheckedWatch;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /** Namespace name → labels. */
  readonly #namespaceLabels = new Map<string, Record<string, string>>();
  /** Pod id → its last object (this node's pods only). */
  readonly #pods = new Map<string, unknown>();
  /** Pod id → the spec last given to onPodUpsert. */
  readonly #endpoints = new Map<string, K8sEndpointSpec>();
  /** Policy source file → the text last applied. */
  readonly #appliedPolicies = new Map<string, string>();
  /** `Kind/ns/name` → why the object is not used. */
  readonly #invalid = new Map<string, K8sError>();

  private constructor(o: K8sWatcherOptions) {
    this.#o = o;
    this.#watch = new CheckedWatch(o.kubeConfig, (path, phase, obj) => this.#checkEvent(path, phase, obj));
  }

  /**
   * Starts every informer; Pods only once Namespaces have been listed (a pod's identity needs its
   * namespace's labels). Never waits for the API server: `synced()` tells when every kind has been
   * listed and applied once (the agent should bound that wait: an unreachable API server or a
   * missing CRD keeps it pending while the watcher retries).
   */
  static async start(o: K8sWatcherOptions): Promise<K8sWatcher> {
    const w = new K8sWatcher(o);
    const kinds = o.kinds ?? (Object.keys(K8S_RESOURCES) as K8sResourceKind[]);
    for (const kind of kinds) w.#informers.set(kind, w.#makeInformer(kind));
    const ns = w.#informers.get('Namespace');
    const pods = w.#informers.get('Pod');
    for (const inf of w.#informers.values()) if (inf !== pods) w.#startInformer(inf);
    if (pods) {
      if (ns) void ns.firstList.then(() => w.#startInformer(pods));
      else w.#startInformer(pods);
    }
    return w;
  }

  /** Resolves when every kind has been listed once and everything the lists brought has been handed to the sinks. */
  async synced(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.firstList));
    await this.settled();
  }

  /** Resolves when the queue of changes is empty (for tests and `--wait`). */
  async settled(): Promise<void> {
    for (;;) {
      const q = this.#queue;
      await q;
      if (q === this.#queue) return;
    }
  }

  /** Objects seen but not used, with the reason (kind/ns/name and field in each). */
  invalidObjects(): K8sError[] {
    return [...this.#invalid.values()];
  }

  /** How often each kind was listed (the first sync, then once per 410 Gone or lost watch without a resourceVersion). */
  listCounts(): Record<string, number> {
    return Object.fromEntries([...this.#informers.values()].map((i) => [i.kind, i.lists]));
  }

  endpoints(): K8sEndpointSpec[] {
    return [...this.#endpoints.values()];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const inf of this.#informers.values()) {
      clearTimeout(inf.retryTimer);
      await inf.lw.stop();
    }
    await this.settled();
  }

  // ---- informers ---------------------------------------------------------------------------

  #makeInformer(kind: K8sResourceKind): Informer {
    const res = K8S_RESOURCES[kind];
    const fieldSelector = kind === 'Pod' ? `spec.nodeName=${this.#o.nodeName}` : undefined;
    let listed!: () => void;
    const firstList = new Promise<void>((resolve) => {
      listed = resolve;
    });
    const list = async (): Promise<{ metadata: { resourceVersion: string }; items: KubernetesObject[] }> => {
      const body = await getJson(this.#o.kubeConfig, res.path, { fieldSelector });
      const { resourceVersion, items } = this.#checkList(kind, body);
      this.#enqueue(() => this.#onListed(kind, items));
      inf.lists++;
      inf.retryDelay = this.#o.retryDelayMs ?? 1000;
      inf.listed();
      return { metadata: { resourceVersion }, items };
    };
    const lw = new ListWatch<KubernetesObject>(res.path, this.#watch, list, false, undefined, fieldSelector);
    const inf: Informer = { kind, lw, lists: 0, retryDelay: this.#o.retryDelayMs ?? 1000, retryTimer: undefined, firstList, listed };
    lw.on('add', (obj) => this.#enqueue(() => this.#upsert(kind, obj)));
    lw.on('update', (obj) => this.#enqueue(() => this.#upsert(kind, obj)));
    lw.on('delete', (obj) => this.#enqueue(() => this.#remove(kind, obj)));
    lw.on('error', (err: unknown) => this.#retry(inf, err));
    return inf;
  }

  #startInformer(inf: Informer): void {
    if (this.#closed) return;
    inf.lw.start().catch((err: unknown) => this.#retry(inf, err));
  }

  /** ListWatch stops at an error (connection lost, HTTP error, failed list); start it again later. It keeps its resourceVersion, so the watch resumes where it was. */
  #retry(inf: Informer, err: unknown): void {
    if (this.#closed) return;
    const delay = inf.retryDelay;
    inf.retryDelay = Math.min(MAX_RETRY_DELAY_MS, delay * 2);
    const e = new K8sError('MESHD_ERR_K8S_API', `${inf.kind}: ${(err as Error)?.message ?? String(err)}; retrying in ${delay} ms`, {
      cause: err,
      hint: 'check that the API server is reachable and that the ServiceAccount may list and watch it (deploy/kubernetes/rbac.yaml)',
    });
    this.#o.logger.warn({ code: e.code, kind: inf.kind, resourceVersion: inf.lw.latestResourceVersion(), err: e.message }, 'Kubernetes list/watch failed');
    this.#o.onError?.(e);
    clearTimeout(inf.retryTimer);
    inf.retryTimer = setTimeout(() => this.#startInformer(inf), delay);
    inf.retryTimer.unref?.();
  }

  /** Checks a list response; items without a usable name are reported and left out (the cache keys by it). */
  #checkList(kind: K8sResourceKind, body: unknown): { resourceVersion: string; items: KubernetesObject[] } {
    const b = body as { metadata?: { resourceVersion?: unknown }; items?: unknown } | null;
    if (!b || typeof b !== 'object' || !Array.isArray(b.items)) throw new Error(`the ${kind} list has no items`);
    const rv = b.metadata?.resourceVersion;
    const items: KubernetesObject[] = [];
    for (const item of b.items) {
      try {
        objectRefOf(kind, item);
        items.push(item as KubernetesObject);
      } catch (err) {
        this.#report(err);
      }
    }
    return { resourceVersion: typeof rv === 'string' ? rv : '', items };
  }

  #checkEvent(path: string, phase: string, obj: unknown): boolean {
    if (phase === 'ERROR' || phase === 'BOOKMARK') return true;
    const kind = (Object.keys(K8S_RESOURCES) as K8sResourceKind[]).find((k) => path === K8S_RESOURCES[k].path);
    if (!kind) return true;
    try {
      objectRefOf(kind, obj);
      return true;
    } catch (err) {
      this.#report(err);
      return false;
    }
  }

  // ---- changes -----------------------------------------------------------------------------

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((err: unknown) => {
      if (err instanceof K8sError) this.#report(err);
      else this.#o.logger.error({ err: (err as Error)?.stack ?? String(err) }, 'Kubernetes change not handled');
    });
  }

  #report(err: unknown): void {
    if (!(err instanceof K8sError)) throw err;
    if (err.object) this.#invalid.set(invalidKey(err.object), err);
    this.#o.logger.warn({ code: err.code, object: err.object, field: err.field, err: err.message }, 'Kubernetes object not used');
    this.#o.onError?.(err);
  }

  #valid(ref: K8sObjectRef): void {
    this.#invalid.delete(invalidKey(ref));
  }

  async #onListed(kind: K8sResourceKind, items: KubernetesObject[]): Promise<void> {
    if (kind === 'Pod') {
      const present = new Set(items.map((i) => `${i.metadata!.namespace}/${i.metadata!.name}`));
      for (const id of [...this.#pods.keys()]) if (!present.has(id)) await this.#forgetPod(id, undefined);
      // The registry learns the rest from the add events that follow; it drops what is in neither.
      const ids = items.map((i) => `${i.metadata!.namespace}/${i.metadata!.name}`);
      await this.#o.endpoints.onPodSync?.(ids);
    } else if ((POLICY_KINDS as readonly string[]).includes(kind)) {
      // Policies applied by an earlier agent (restored from the state dir) that are no longer in the API.
      const prefix = `${K8S_SOURCE_PREFIX}${kind}/`;
      const present = new Set(items.map((i) => policySourceFile(objectRefOf(kind, i))));
      for (const p of this.#o.policies.list()) {
        if (p.kind === kind && p.file.startsWith(prefix) && !present.has(p.file)) await this.#deletePolicy({ kind, name: p.name, ...(p.namespace ? { namespace: p.namespace } : {}) }, p.file);
      }
    }
  }

  async #upsert(kind: K8sResourceKind, obj: unknown): Promise<void> {
    if (this.#closed) return;
    switch (kind) {
      case 'Namespace': {
        const ref = objectRefOf(kind, obj);
        const labels = namespaceLabelsOf(obj);
        this.#valid(ref);
        const old = this.#namespaceLabels.get(ref.name);
        this.#namespaceLabels.set(ref.name, labels);
        if (old === undefined || sameJson(old, labels)) return;
        // Identities include the namespace's labels: every pod of it is re-labelled.
        for (const [id, pod] of this.#pods) if (id.startsWith(`${ref.name}/`)) await this.#emitPod(id, pod);
        return;
      }
      case 'Pod': {
        const ref = objectRefOf(kind, obj);
        const id = `${ref.namespace}/${ref.name}`;
        this.#pods.set(id, obj);
        await this.#emitPod(id, obj);
        return;
      }
      case 'Service': {
        const spec = serviceSpecOf(obj);
        this.#valid({ kind, namespace: spec.namespace, name: spec.name });
        await this.#o.services?.onServiceUpsert(spec);
        return;
      }
      default:
        await this.#applyPolicy(kind, obj);
    }
  }

  async #remove(kind: K8sResourceKind, obj: unknown): Promise<void> {
    if (this.#closed) return;
    const ref = objectRefOf(kind, obj);
    this.#valid(ref);
    switch (kind) {
      case 'Namespace':
        this.#namespaceLabels.delete(ref.name);
        return;
      case 'Pod':
        await this.#forgetPod(`${ref.namespace}/${ref.name}`, uidOf(obj));
        return;
      case 'Service':
        await this.#o.services?.onServiceDelete(`${ref.namespace}/${ref.name}`);
        return;
      default: {
        const { source } = policySourceOf(kind, obj);
        await this.#deletePolicy(ref, source.file);
      }
    }
  }

  async #emitPod(id: string, obj: unknown): Promise<void> {
    const ref = objectRefOf('Pod', obj);
    // A pod whose object is bad keeps its last good registration: never half an update.
    const spec = podEndpointSpec(obj, this.#namespaceLabels.get(ref.namespace!) ?? {});
    this.#valid(ref);
    const old = this.#endpoints.get(id);
    if (!spec) {
      if (old) {
        this.#endpoints.delete(id);
        await this.#o.endpoints.onPodDelete({ id, namespace: ref.namespace!, name: ref.name, uid: old.uid });
      }
      return;
    }
    if (old && sameJson(old, spec)) return;
    this.#endpoints.set(id, spec);
    await this.#o.endpoints.onPodUpsert(spec);
  }

  async #forgetPod(id: string, uid: string | undefined): Promise<void> {
    this.#pods.delete(id);
    this.#invalid.delete(`Pod/${id}`);
    const old = this.#endpoints.get(id);
    if (!old) return;
    this.#endpoints.delete(id);
    const slash = id.indexOf('/');
    await this.#o.endpoints.onPodDelete({ id, namespace: id.slice(0, slash), name: id.slice(slash + 1), uid: uid ?? old.uid });
  }

  async #applyPolicy(kind: K8sPolicyKind, obj: unknown): Promise<void> {
    const { ref, source } = policySourceOf(kind, obj);
    if (this.#appliedPolicies.get(source.file) === source.text) {
      this.#valid(ref);
      return;
    }
    try {
      await this.#o.policies.apply([source]);
    } catch (err) {
      const problems = (err as { problems?: K8sError['problems'] }).problems;
      if (!problems) throw err;
      const kept = this.#appliedPolicies.has(source.file) ? 'its last good version stays applied' : 'it is not applied';
      const fields = problems.map((p) => `${p.path || '(document)'}: ${p.message}`).join('; ');
      throw new K8sError('MESHD_ERR_K8S_POLICY_REJECTED', `${formatObjectRef(ref)}: ${fields}; ${kept}`, {
        object: ref,
        field: problems[0]?.path,
        problems,
        hint: problems[0]?.hint ?? 'fix the object (kubectl edit) and it is applied on the next change',
      });
    }
    this.#appliedPolicies.set(source.file, source.text);
    this.#valid(ref);
    this.#o.logger.info({ policy: source.file }, 'policy applied from Kubernetes');
  }

  async #deletePolicy(ref: K8sObjectRef, file: string): Promise<void> {
    this.#appliedPolicies.delete(file);
    try {
      await this.#o.policies.delete(ref);
      this.#o.logger.info({ policy: file }, 'policy deleted from Kubernetes');
    } catch (err) {
      // Never applied (it was invalid) or already gone: nothing to undo.
      if (!String((err as { code?: unknown }).code ?? '').endsWith('_NOT_FOUND')) throw err;
    }
  }
}

function invalidKey(ref: K8sObjectRef): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

function uidOf(obj: unknown): string | undefined {
  const uid = (obj as { metadata?: { uid?: unknown } }).metadata?.uid;
  return typeof uid === 'string' ? uid : undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
