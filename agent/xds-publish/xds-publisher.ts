// The agent's xDS side: meshd's XdsServer on <state>/xds.sock, one SnapshotCache, and the node's
// snapshot computed by translateNode from the agent's view (resolved endpoint policies, the
// selector cache, the kernel's ipcache). Versions are a counter persisted in xds.json together with
// a digest of what was served, so a restarted agent continues the numbering and serves an unchanged
// configuration under the same version: the adopted proxy, reconnecting with the versions it holds,
// is then sent nothing at all. Per proxy it keeps what `meshd xds status` shows (streams, versions
// ACKed per type, the last NACK) and, for metrics, push durations and NACK counts.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Snapshot, SnapshotCache, TYPE_URL, XdsServer, translateNode } from '../../xds/index.js';
import type { IpCacheEntry, NodeStatus, RedirectKey, RedirectL7, Skipped, StreamInfo, TranslationTarget, XdsLogger, XdsServerMetrics } from '../../xds/index.js';
import type { EndpointPolicy, LabelSelector } from '../../policy/index.js';
import { readJsonState, writeJsonAtomic } from '../daemon/state-file.js';
import type { AgentError } from '../daemon/errors.js';
import type { ProxyPortPlan } from './proxy-ports.js';

export const XDS_SOCKET = 'xds.sock';
export const XDS_STATE_FILE = 'xds.json';

/** One proxy node the agent serves: its id, which translation it gets, and which L7 kinds. */
export interface XdsNodePlan {
  nodeId: string;
  target: TranslationTarget;
  /** Only redirects of these kinds get a proxy port on this node (default: every kind). */
  kinds?: readonly RedirectL7[];
}

export interface XdsPublisherOptions {
  stateDir: string;
  logger: XdsLogger;
  nodes: readonly XdsNodePlan[];
  /** The node proxy addresses listeners bind (gateway4, gateway6). */
  proxyAddresses: readonly string[];
  ports: ProxyPortPlan;
  /** Ingress TCP listeners bound IP_TRANSPARENT, for connections BPF TPROXY assigns to them from
   *  other nodes (the agent's --ingress-device); default false. */
  transparentIngress?: boolean;
}

/** The agent's view a snapshot is computed from. */
export interface XdsPublishInput {
  endpoints: readonly EndpointPolicy[];
  identitiesOf(selector: LabelSelector): Iterable<number>;
  ipcache: Iterable<IpCacheEntry>;
}

export interface XdsPublishOutcome {
  version: number;
  /** Whether any node's resources changed (false: nothing was pushed). */
  changed: boolean;
  durationMs: number;
  skipped: Array<Skipped & { nodeId: string }>;
  warnings: string[];
}

export interface XdsNackEvent {
  nodeId: string;
  typeUrl: string;
  version: string;
  message: string;
  at: Date;
}

export interface XdsTypeStatus {
  typeUrl: string;
  sentVersion?: string;
  ackedVersion?: string;
  ackedAt?: string;
  lastNack?: { version: string; message: string; at: string };
}

export interface XdsProxyStatus {
  nodeId: string;
  target: TranslationTarget;
  /** Open streams from this node now. */
  connected: boolean;
  streams: Array<{ id: number; peer: string; openedAt: string; variant: 'sotw' | 'delta'; userAgent: string }>;
  snapshotVersion?: string;
  lastRequestAt?: string;
  /** Every response of the open streams was ACKed or NACKed (nothing in flight). */
  inSync: boolean;
  types: XdsTypeStatus[];
  nacks: number;
}

export interface XdsPublisherStatus {
  socket: string;
  version: number;
  lastPushAt?: string;
  lastPushDurationMs?: number;
  proxies: XdsProxyStatus[];
}

export interface XdsPublisherStats {
  pushes: number;
  lastPushDurationMs: number | undefined;
  nacks: number;
  server: XdsServerMetrics;
}

interface PersistedState {
  version: number;
  digests: Record<string, string>;
}

interface StreamState {
  info: StreamInfo;
  /** typeUrl → nonce/version sent and not yet answered. */
  inFlight: Map<string, string>;
  lastActivity: number;
}

export class XdsPublisher {
  readonly socketPath: string;
  readonly cache: SnapshotCache;
  readonly #server: XdsServer;
  readonly #o: XdsPublisherOptions;
  #version: number;
  /** What the current version serves, per node (persisted, so a restart can tell "unchanged"). */
  #digests: Record<string, string>;
  #hasPublished = false;
  #closed = false;
  #pushes = 0;
  #nacks = 0;
  readonly #nacksByNode = new Map<string, number>();
  #lastPushAt: Date | undefined;
  #lastPushMs: number | undefined;
  readonly #streams = new Map<number, StreamState>();
  readonly #pushListeners = new Set<(e: { version: number; durationMs: number }) => void>();
  readonly #nackListeners = new Set<(e: XdsNackEvent) => void>();
  readonly #activityWaiters = new Set<() => void>();
  /** Types that each version changed, per node: what an ACK of that version must cover. */
  readonly #changedTypes = new Map<string, Map<number, string[]>>();

  private constructor(o: XdsPublisherOptions, state: PersistedState) {
    this.#o = o;
    this.#version = state.version;
    this.#digests = state.digests;
    this.socketPath = join(o.stateDir, XDS_SOCKET);
    this.cache = new SnapshotCache({ logger: o.logger });
    this.#server = new XdsServer({
      cache: this.cache,
      logger: o.logger,
      callbacks: {
        onStreamOpen: (s) => this.#streamOpened(s),
        onStreamResponse: (s, typeUrl, r) => this.#responded(s, typeUrl, r.nonce),
        onAck: (s, typeUrl) => this.#answered(s, typeUrl),
        onNack: (s, typeUrl, version, detail) => this.#nacked(s, typeUrl, version, detail.message),
        onStreamClosed: (s) => this.#streamClosed(s),
      },
    });
  }

  /** Restores xds.json, binds <state>/xds.sock. Warnings (a corrupt xds.json) go to `onWarning`. */
  static async start(o: XdsPublisherOptions, onWarning: (w: AgentError) => void = () => undefined): Promise<XdsPublisher> {
    const read = readJsonState(join(o.stateDir, XDS_STATE_FILE), decodeState);
    if (read.warning) onWarning(read.warning);
    const publisher = new XdsPublisher(o, read.value ?? { version: 0, digests: {} });
    await publisher.#server.listen(`unix:${publisher.socketPath}`);
    return publisher;
  }

  get version(): number {
    return this.#version;
  }

  /**
   * Translates the view for every node and sets the snapshots. The version goes up only when some
   * node's resources changed; an unchanged view pushes nothing. Throws when the translation fails
   * (the previous snapshots stay).
   */
  publish(input: XdsPublishInput): XdsPublishOutcome {
    const t0 = performance.now();
    const skipped: XdsPublishOutcome['skipped'] = [];
    const warnings: string[] = [];
    const built = this.#o.nodes.map((node) => {
      const translation = translateNode({
        target: node.target,
        endpoints: input.endpoints,
        identitiesOf: (s) => input.identitiesOf(s),
        ipcache: input.ipcache,
        proxyAddresses: this.#o.proxyAddresses,
        proxyPortOf: (key: RedirectKey) => (node.kinds === undefined || node.kinds.includes(key.l7) ? this.#o.ports.xds(key) : undefined),
        ...(this.#o.transparentIngress === true ? { options: { transparentIngress: true } } : {}),
      });
      for (const s of translation.skipped) skipped.push({ ...s, nodeId: node.nodeId });
      for (const w of translation.warnings) warnings.push(`${node.nodeId}: ${w}`);
      const messages = { listeners: translation.listeners, routes: translation.routes, clusters: translation.clusters, endpoints: translation.endpoints, secrets: translation.secrets };
      const digest = digestOf(Snapshot.fromMessages(messages));
      return { node, messages, digest };
    });
    const changed = built.some((b) => this.#digests[b.node.nodeId] !== b.digest);
    // First publish of this run with an unchanged view: the same version number again, so an
    // adopted proxy (which reports the versions it holds) sees no change.
    if (changed || this.#version === 0) this.#version++;
    if (changed || !this.#hasPublished) {
      for (const b of built) {
        const snapshot = Snapshot.fromMessages({ version: String(this.#version), ...b.messages });
        const before = this.cache.getSnapshot(b.node.nodeId);
        this.cache.setSnapshot(b.node.nodeId, snapshot);
        this.#noteChangedTypes(b.node.nodeId, before, snapshot);
      }
      this.#digests = Object.fromEntries(built.map((b) => [b.node.nodeId, b.digest]));
      writeJsonAtomic(join(this.#o.stateDir, XDS_STATE_FILE), { version: this.#version, digests: this.#digests } satisfies PersistedState);
    }
    this.#hasPublished = true;
    const durationMs = performance.now() - t0;
    if (changed) {
      this.#pushes++;
      this.#lastPushAt = new Date();
      this.#lastPushMs = durationMs;
      for (const l of this.#pushListeners) l({ version: this.#version, durationMs });
    }
    return { version: this.#version, changed, durationMs, skipped, warnings };
  }

  /**
   * Resolves when `nodeId` has a stream open and has ACKed (or NACKed) every response sent to it,
   * and nothing was sent for `quietMs`: the proxy holds the current snapshot (or refused part of
   * it; see status()). With `version`, an ACK of every type that version changed is required.
   */
  async waitForSync(o: { nodeId: string; timeoutMs: number; version?: number; quietMs?: number; signal?: AbortSignal }): Promise<void> {
    const quietMs = o.quietMs ?? 100;
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (this.#closed) throw new Error('the xDS server was closed');
      const why = this.#notSyncedReason(o.nodeId, o.version, quietMs);
      if (why === undefined) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`proxy node ${o.nodeId} not in sync after ${o.timeoutMs} ms: ${why}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#activityWaiters.delete(wake);
          resolve();
        };
        // Woken by every stream event; the timer only ends a quiet period (or the wait).
        const timer = setTimeout(wake, quietMs > 0 ? Math.min(left, quietMs) : left);
        timer.unref();
        this.#activityWaiters.add(wake);
      });
    }
  }

  status(): XdsPublisherStatus {
    const cacheStatus = new Map<string, NodeStatus>(this.cache.status().map((s) => [s.nodeId, s]));
    const proxies = this.#o.nodes.map((node): XdsProxyStatus => {
      const s = cacheStatus.get(node.nodeId);
      const streams = [...this.#streams.values()].filter((st) => st.info.node?.id === node.nodeId);
      return {
        nodeId: node.nodeId,
        target: node.target,
        connected: streams.length > 0,
        streams: streams.map((st) => ({ id: st.info.id, peer: st.info.peer, openedAt: st.info.openedAt.toISOString(), variant: st.info.variant, userAgent: st.info.node?.userAgentName ?? '' })),
        ...(s?.snapshotVersion !== undefined ? { snapshotVersion: s.snapshotVersion } : {}),
        ...(s?.lastRequestAt ? { lastRequestAt: s.lastRequestAt.toISOString() } : {}),
        inSync: streams.length > 0 && streams.every((st) => st.inFlight.size === 0),
        types: (s?.types ?? []).map((t) => ({
          typeUrl: t.typeUrl,
          ...(t.sentVersion !== undefined ? { sentVersion: t.sentVersion } : {}),
          ...(t.ackedVersion !== undefined ? { ackedVersion: t.ackedVersion } : {}),
          ...(t.ackedAt ? { ackedAt: t.ackedAt.toISOString() } : {}),
          ...(t.lastNack ? { lastNack: { version: t.lastNack.version, message: t.lastNack.message, at: t.lastNack.at.toISOString() } } : {}),
        })),
        nacks: this.#nacksByNode.get(node.nodeId) ?? 0,
      };
    });
    return {
      socket: this.socketPath,
      version: this.#version,
      ...(this.#lastPushAt ? { lastPushAt: this.#lastPushAt.toISOString() } : {}),
      ...(this.#lastPushMs !== undefined ? { lastPushDurationMs: this.#lastPushMs } : {}),
      proxies,
    };
  }

  /** Plain numbers for the metrics module (FLOWS owns prom-client). */
  stats(): XdsPublisherStats {
    return { pushes: this.#pushes, lastPushDurationMs: this.#lastPushMs, nacks: this.#nacks, server: { ...this.#server.metrics } };
  }

  /** Called after every push that changed something (for a push-duration histogram). */
  onPush(listener: (e: { version: number; durationMs: number }) => void): () => void {
    this.#pushListeners.add(listener);
    return () => this.#pushListeners.delete(listener);
  }

  onNack(listener: (e: XdsNackEvent) => void): () => void {
    this.#nackListeners.add(listener);
    return () => this.#nackListeners.delete(listener);
  }

  /** Ends every stream (the proxy keeps its configuration and reconnects to the next agent). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#server.close();
    for (const w of [...this.#activityWaiters]) w();
  }

  // ---- internals ----------------------------------------------------------------------------

  #notSyncedReason(nodeId: string, version: number | undefined, quietMs: number): string | undefined {
    const streams = [...this.#streams.values()].filter((st) => st.info.node?.id === nodeId);
    if (streams.length === 0) return 'no stream from it is open';
    const busy = streams.find((st) => st.inFlight.size > 0);
    if (busy) return `responses not yet answered for ${[...busy.inFlight.keys()].join(', ')}`;
    const last = Math.max(...streams.map((st) => st.lastActivity));
    if (Date.now() - last < quietMs) return 'a response was sent moments ago';
    if (version !== undefined) {
      const types = this.#changedTypes.get(nodeId)?.get(version) ?? [];
      const status = this.cache.status().find((s) => s.nodeId === nodeId);
      for (const typeUrl of types) {
        const t = status?.types.find((x) => x.typeUrl === typeUrl);
        const acked = Number(t?.ackedVersion ?? -1);
        const nacked = Number(t?.lastNack?.version ?? -1);
        if (acked < version && nacked < version) return `${typeUrl} of version ${version} not yet ACKed`;
      }
    }
    return undefined;
  }

  #noteChangedTypes(nodeId: string, before: Snapshot | undefined, after: Snapshot): void {
    const types = new Set([...(before?.typeUrls() ?? []), ...after.typeUrls()]);
    const changed = [...types].filter((t) => before?.typeVersion(t) !== after.typeVersion(t));
    let perVersion = this.#changedTypes.get(nodeId);
    if (!perVersion) this.#changedTypes.set(nodeId, (perVersion = new Map()));
    perVersion.set(this.#version, changed);
    // Only recent versions are ever waited for.
    for (const v of perVersion.keys()) if (v < this.#version - 64) perVersion.delete(v);
  }

  #wake(): void {
    for (const w of [...this.#activityWaiters]) w();
  }

  #streamOpened(s: StreamInfo): void {
    this.#streams.set(s.id, { info: s, inFlight: new Map(), lastActivity: Date.now() });
    this.#wake();
  }

  #responded(s: StreamInfo, typeUrl: string, nonce: string): void {
    const st = this.#stream(s);
    st.inFlight.set(typeUrl, nonce);
    st.lastActivity = Date.now();
    this.#wake();
  }

  #answered(s: StreamInfo, typeUrl: string): void {
    const st = this.#stream(s);
    st.inFlight.delete(typeUrl);
    st.lastActivity = Date.now();
    this.#wake();
  }

  #nacked(s: StreamInfo, typeUrl: string, version: string, message: string): void {
    this.#answered(s, typeUrl);
    this.#nacks++;
    const nodeId = s.node?.id ?? '';
    this.#nacksByNode.set(nodeId, (this.#nacksByNode.get(nodeId) ?? 0) + 1);
    const event: XdsNackEvent = { nodeId, typeUrl, version, message, at: new Date() };
    this.#o.logger.warn({ node: nodeId, typeUrl, version, message }, 'xds: the proxy refused a configuration (NACK)');
    for (const l of this.#nackListeners) l(event);
  }

  #streamClosed(s: StreamInfo): void {
    this.#streams.delete(s.id);
    this.#wake();
  }

  /** The stream's state; the node is known from its first request, after onStreamOpen. */
  #stream(s: StreamInfo): StreamState {
    let st = this.#streams.get(s.id);
    if (!st) this.#streams.set(s.id, (st = { info: s, inFlight: new Map(), lastActivity: Date.now() }));
    else st.info = s;
    return st;
  }
}

/** Per type, the hash of its (name, version) pairs: equal digests, equal resources. */
function digestOf(snapshot: Snapshot): string {
  const types = [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret];
  return types.map((t) => `${t}=${snapshot.typeVersion(t)}`).join(';');
}

function decodeState(raw: unknown): PersistedState {
  if (typeof raw !== 'object' || raw === null) throw new Error('not an object');
  const r = raw as Record<string, unknown>;
  const version = r['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw new Error('version is not a non-negative integer');
  const digests = r['digests'] ?? {};
  if (typeof digests !== 'object' || digests === null || Object.values(digests).some((d) => typeof d !== 'string')) throw new Error('digests is not an object of strings');
  return { version, digests: digests as Record<string, string> };
}
