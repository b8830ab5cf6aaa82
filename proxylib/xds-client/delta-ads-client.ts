// The proxy's xDS client: one Delta ADS stream (DeltaAggregatedResources) carrying every type.
// Hand-written on grpc-js because @grpc/grpc-js-xds's client is internal to grpc's own resolver (it
// consumes LDS/RDS/CDS/EDS for gRPC channels and speaks SotW only); a proxy needs every resource of
// every type, Delta, and its own ACK/NACK decision (research/xds.md).
//
// Protocol as Envoy does it (research/xds.md §1.3):
// - CDS and LDS are wildcard subscriptions; EDS, RDS and SDS are subscribed by name, from what the
//   accepted clusters and listeners refer to (ConfigStore.references()), and unsubscribed (and
//   dropped) when no longer referred to.
// - Each response is applied per resource, as Envoy does (LDS/CDS collect the failing listeners /
//   clusters and apply the rest; RDS/EDS/SDS names are separate subscriptions there): the valid
//   resources are applied, each refused one keeps its previous version; then ACK (response_nonce) when
//   nothing was refused, else NACK (response_nonce + error_detail listing `kind "name": path: message`
//   for every problem of every refused resource).
// - When the stream ends, reconnect with jittered exponential backoff and resubscribe, claiming what
//   is held in initial_resource_versions so unchanged resources are not sent again.
import * as grpc from '@grpc/grpc-js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  DeltaDiscoveryRequestSchema,
  NOOP_LOGGER,
  SERVED_SERVICES,
  TYPE_URL,
  grpcDefinitionOf,
  unpackAny,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type XdsLogger,
} from '../../xds/index.js';
import type { ConfigStore } from '../config-store/index.js';
import type { ApplyProblem, ResourceKind, ResourceUpdate } from '../config-store/index.js';
import { ProxyError } from '../errors.js';
import { parseXdsAddress } from './address.js';

// The server's own method definition: its path, request serializer and response deserializer are
// what a client needs too (its response serializer, for pre-encoded bytes, is the server's side only).
const DELTA_ADS = grpcDefinitionOf(SERVED_SERVICES.find((s) => s.name === 'ads')!.descriptor)['deltaAggregatedResources']!;

/** grpc status INVALID_ARGUMENT: what Envoy puts in a NACK's error_detail.code. */
const NACK_STATUS_CODE = 3;

/** Type URL ↔ store kind; also the order of the first requests on a stream (clusters before listeners, as Envoy). */
const KIND_OF_TYPE: ReadonlyMap<string, ResourceKind> = new Map([
  [TYPE_URL.cluster, 'cluster'],
  [TYPE_URL.endpoint, 'endpoints'],
  [TYPE_URL.listener, 'listener'],
  [TYPE_URL.route, 'route'],
  [TYPE_URL.secret, 'secret'],
]);
const TYPE_OF_KIND: Readonly<Record<ResourceKind, string>> = {
  cluster: TYPE_URL.cluster,
  endpoints: TYPE_URL.endpoint,
  listener: TYPE_URL.listener,
  route: TYPE_URL.route,
  secret: TYPE_URL.secret,
};
const WILDCARD_KINDS: readonly ResourceKind[] = ['cluster', 'listener'];
const NAMED_KINDS = ['endpoints', 'route', 'secret'] as const;
type NamedKind = (typeof NAMED_KINDS)[number];

export interface XdsNodeInfo {
  id: string;
  cluster?: string;
}

export interface XdsClientOptions {
  /** `host:port`, `[ipv6]:port` or `unix:/path`. */
  server: string;
  node: XdsNodeInfo;
  store: ConfigStore;
  logger?: XdsLogger;
  /** Reconnect backoff: first delay and cap (defaults 250 ms and 30 s; each delay jittered ±50 %). */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface NackRecord {
  typeUrl: string;
  /** system_version_info of the rejected response. */
  version: string;
  nonce: string;
  at: Date;
  problems: ApplyProblem[];
  /** The error_detail message sent. */
  detail: string;
  /** Resources of the response applied nevertheless (per-resource acceptance, as Envoy). */
  applied: string[];
  /** Resources refused: each keeps its previous version, if any. */
  refused: string[];
}

export interface XdsTypeStatus {
  typeUrl: string;
  /** system_version_info of the last accepted response of this type. */
  acceptedVersion: string | undefined;
  acks: number;
  nacks: number;
  /** Named types: the names subscribed to. Wildcard types: ['*']. */
  subscribed: string[];
  lastNack: NackRecord | undefined;
}

export interface XdsClientStatus {
  server: string;
  nodeId: string;
  connected: boolean;
  /** Streams opened so far (1 + reconnects). */
  streams: number;
  ready: boolean;
  lastError: string | undefined;
  types: XdsTypeStatus[];
}

export type XdsClientEvent =
  | { kind: 'connected'; stream: number }
  | { kind: 'disconnected'; stream: number; code: number; details: string; retryInMs: number }
  | { kind: 'ack'; typeUrl: string; version: string; nonce: string; resources: string[]; removed: string[] }
  | { kind: 'nack'; nack: NackRecord }
  | { kind: 'ready' };

interface TypeState {
  acceptedVersion: string | undefined;
  acks: number;
  nacks: number;
  lastNack: NackRecord | undefined;
  /** Named types: names subscribed on the wire. */
  subscribed: Set<string>;
  /** Named types: names answered (as a resource or as removed) at least once: ready() waits for them. */
  answered: Set<string>;
  /** Wildcard types: a response was accepted (the initial fetch completed). */
  initialized: boolean;
  /** A request for this type was sent on the current stream (the first one carries initial versions). */
  opened: boolean;
}

type Call = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export class DeltaXdsClient {
  private readonly grpcClient: grpc.Client;
  private readonly logger: XdsLogger;
  private readonly store: ConfigStore;
  private readonly node: { id: string; cluster: string; userAgentName: string; userAgentVersionType: { case: 'userAgentVersion'; value: string } };
  private readonly types = new Map<ResourceKind, TypeState>();
  private readonly listeners = new Set<(e: XdsClientEvent) => void>();
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private call: Call | undefined;
  private streamCount = 0;
  private connected = false;
  private closed = false;
  private started = false;
  private lastError: string | undefined;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private isReady = false;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;

  constructor(private readonly opts: XdsClientOptions) {
    const address = parseXdsAddress(opts.server);
    this.logger = opts.logger ?? NOOP_LOGGER;
    this.store = opts.store;
    // user_agent_name is what the server's translationTargetOf reads: anything but "envoy" gets the
    // built-in proxy's translation.
    this.node = { id: opts.node.id, cluster: opts.node.cluster ?? '', userAgentName: 'meshd-proxy', userAgentVersionType: { case: 'userAgentVersion', value: '0.1.0' } };
    this.initialBackoffMs = opts.backoff?.initialMs ?? 250;
    this.maxBackoffMs = opts.backoff?.maxMs ?? 30_000;
    this.backoffMs = this.initialBackoffMs;
    this.grpcClient = new grpc.Client(address.target, grpc.credentials.createInsecure(), {
      // Delta responses are split under 4 MiB by meshd's server; other servers may send more.
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // Our own backoff decides when to retry; the channel should not add minutes of its own.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': this.maxBackoffMs,
    });
    for (const kind of KIND_OF_TYPE.values()) {
      this.types.set(kind, { acceptedVersion: undefined, acks: 0, nacks: 0, lastNack: undefined, subscribed: new Set(), answered: new Set(), initialized: false, opened: false });
    }
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** Opens the stream (idempotent). Failures are retried with backoff; watch status() or events. */
  start(): void {
    if (this.closed) throw new ProxyError('MESHD_ERR_PROXY_CLOSED', 'xDS client started after close()');
    if (this.started) return;
    this.started = true;
    this.openStream();
  }

  /**
   * Resolves once the first CDS and LDS responses were handled and every EDS/RDS/SDS name they refer
   * to was answered (applied, removed, or refused: a refused resource must not hold the start
   * forever, as in Envoy; see onResponse). Rejects with MESHD_ERR_PROXY_NOT_READY after `timeoutMs` (default: never).
   */
  ready(timeoutMs?: number): Promise<void> {
    if (this.isReady || timeoutMs === undefined) return this.readyPromise;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.notReadyError(timeoutMs)), timeoutMs);
      // A caller that stopped waiting (a signal, close()) must not keep the process alive.
      timer.unref();
      this.readyPromise.then(() => {
        clearTimeout(timer);
        resolve();
      }, reject);
    });
  }

  /** Listens to client events (connections, ACKs, NACKs, readiness). Returns an unsubscribe. */
  onEvent(listener: (e: XdsClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): XdsClientStatus {
    const types: XdsTypeStatus[] = [];
    for (const [kind, t] of this.types) {
      types.push({
        typeUrl: TYPE_OF_KIND[kind],
        acceptedVersion: t.acceptedVersion,
        acks: t.acks,
        nacks: t.nacks,
        subscribed: WILDCARD_KINDS.includes(kind) ? ['*'] : [...t.subscribed].sort(),
        lastNack: t.lastNack,
      });
    }
    return { server: this.opts.server, nodeId: this.node.id, connected: this.connected, streams: this.streamCount, ready: this.isReady, lastError: this.lastError, types };
  }

  /** The most recent NACK of any type, if any. */
  lastNack(): NackRecord | undefined {
    let last: NackRecord | undefined;
    for (const t of this.types.values()) if (t.lastNack && (!last || t.lastNack.at >= last.at)) last = t.lastNack;
    return last;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const call = this.call;
    this.call = undefined;
    this.connected = false;
    if (call) {
      call.removeAllListeners('data');
      // 'error' must keep a listener: grpc-js emits CANCELLED on cancel() and an unheard error throws.
      call.on('error', () => {});
      call.cancel();
    }
    this.grpcClient.close();
  }

  // ---- stream lifecycle ------------------------------------------------------------------------

  private openStream(): void {
    if (this.closed) return;
    const stream = ++this.streamCount;
    const call = this.grpcClient.makeBidiStreamRequest(DELTA_ADS.path, DELTA_ADS.requestSerialize, DELTA_ADS.responseDeserialize) as Call;
    this.call = call;
    for (const t of this.types.values()) t.opened = false;
    let ended = false;
    const onEnd = (code: number, details: string): void => {
      if (ended) return;
      ended = true;
      if (this.call !== call) return;
      this.call = undefined;
      this.connected = false;
      this.lastError = `MESHD_ERR_PROXY_XDS_CONNECT: stream ${stream} ended: ${grpc.status[code] ?? code}: ${details}`;
      const delay = this.nextBackoff();
      this.logger.warn({ code: 'MESHD_ERR_PROXY_XDS_CONNECT', stream, status: code, details, retryInMs: delay }, 'proxy xds: stream ended; reconnecting');
      this.emit({ kind: 'disconnected', stream, code, details, retryInMs: delay });
      if (this.closed) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.openStream();
      }, delay);
      // Not unref'd: while disconnected this timer is what keeps a standalone proxy process alive.
    };
    call.on('data', (resp: DeltaDiscoveryResponse) => {
      if (this.call !== call) return;
      if (!this.connected) {
        this.connected = true;
        this.emit({ kind: 'connected', stream });
      }
      // A response means the server is healthy again: the next failure starts from the first delay.
      this.backoffMs = this.initialBackoffMs;
      try {
        this.onResponse(call, resp);
      } catch (err) {
        // Never let one response's failure kill the process or the stream silently.
        this.logger.error({ stream, err }, 'proxy xds: response handling failed');
      }
    });
    call.on('error', (err: grpc.ServiceError) => onEnd(err.code ?? grpc.status.UNKNOWN, err.details ?? err.message));
    call.on('status', (s: grpc.StatusObject) => onEnd(s.code, s.details));
    call.on('end', () => onEnd(grpc.status.OK, 'the server ended the stream'));

    this.logger.info({ stream, server: this.opts.server, node: this.node.id }, 'proxy xds: opening stream');
    for (const kind of WILDCARD_KINDS) this.sendInitial(call, kind, ['*']);
    this.syncNamedSubscriptions(call);
  }

  private nextBackoff(): number {
    const base = this.backoffMs;
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    return Math.round(base * (0.5 + Math.random()));
  }

  /** The first request of a type on a stream: subscriptions plus the versions held (Delta reconnect). */
  private sendInitial(call: Call, kind: ResourceKind, subscribe: string[]): void {
    const t = this.types.get(kind)!;
    const held = this.store.versions(kind);
    const initialResourceVersions: Record<string, string> = {};
    for (const [name, version] of Object.entries(held)) if (subscribe.includes('*') || subscribe.includes(name)) initialResourceVersions[name] = version;
    t.opened = true;
    this.send(call, { node: this.node, typeUrl: TYPE_OF_KIND[kind], resourceNamesSubscribe: subscribe, initialResourceVersions });
  }

  private send(call: Call, init: MessageInitShape<typeof DeltaDiscoveryRequestSchema>): void {
    try {
      call.write(create(DeltaDiscoveryRequestSchema, init));
    } catch (err) {
      this.logger.warn({ err, typeUrl: init.typeUrl }, 'proxy xds: could not write a request (the stream is ending)');
    }
  }

  // ---- responses -------------------------------------------------------------------------------

  private onResponse(call: Call, resp: DeltaDiscoveryResponse): void {
    const kind = KIND_OF_TYPE.get(resp.typeUrl);
    if (!kind) {
      // Not a type we asked for: NACK it so the server's status shows why, and change nothing.
      this.send(call, { typeUrl: resp.typeUrl, responseNonce: resp.nonce, errorDetail: { code: NACK_STATUS_CODE, message: `type ${resp.typeUrl} is not used by meshd's built-in proxy` } });
      return;
    }
    const t = this.types.get(kind)!;
    // Problems found before compiling are the server's protocol errors (that resource is refused
    // like one that does not compile); compile problems are config the proxy refuses.
    const protocolProblems: ApplyProblem[] = [];
    const badNames: string[] = [];
    const upserts: ResourceUpdate[] = [];
    for (const [i, r] of resp.resources.entries()) {
      const name = r.name;
      const refuse = (path: string, message: string): void => {
        protocolProblems.push({ kind, resource: name, path, message });
        badNames.push(name);
      };
      if (!r.resource) {
        refuse(`resources[${i}].resource`, 'a resource without a body (on-demand or alias resources are not supported)');
        continue;
      }
      if (r.resource.typeUrl !== resp.typeUrl) {
        refuse(`resources[${i}].resource.type_url`, `a ${r.resource.typeUrl} in a ${resp.typeUrl} response`);
        continue;
      }
      let message: unknown;
      try {
        message = unpackAny(r.resource).message;
      } catch (err) {
        refuse(`resources[${i}].resource`, err instanceof Error ? err.message : String(err));
        continue;
      }
      const inner = kind === 'endpoints' ? (message as { clusterName: string }).clusterName : (message as { name: string }).name;
      if (inner !== name) {
        refuse(kind === 'endpoints' ? 'cluster_name' : 'name', `the resource is named "${name}" but its message says "${inner}"`);
        continue;
      }
      upserts.push({ name, version: r.version, message });
    }
    // Per resource, as Envoy: the valid resources are applied, the refused ones keep their previous
    // version, and the response is NACKed with the problems of the refused ones.
    const result = this.store.apply(kind, upserts, resp.removedResources);
    const problems = [...protocolProblems, ...result.problems];
    for (const w of result.warnings) this.logger.warn({ typeUrl: resp.typeUrl, version: resp.systemVersionInfo }, `proxy xds: ${w}`);

    // Readiness (Envoy's init targets are marked ready on a rejected update too, so a bad resource
    // cannot hold the proxy's start forever): the first response of a wildcard type initializes it
    // whatever was refused, and a named resource counts as answered when it was applied, removed or
    // refused. What was refused is in the NACK, in status() and on /config_dump.
    if (WILDCARD_KINDS.includes(kind)) t.initialized = true;
    for (const r of upserts) t.answered.add(r.name);
    for (const n of badNames) t.answered.add(n);
    for (const n of resp.removedResources) t.answered.add(n);

    if (problems.length > 0) {
      const detail = formatNackDetail(problems);
      const refused = [...new Set([...badNames, ...result.refused])];
      const nack: NackRecord = { typeUrl: resp.typeUrl, version: resp.systemVersionInfo, nonce: resp.nonce, at: new Date(), problems, detail, applied: result.applied, refused };
      t.nacks++;
      t.lastNack = nack;
      this.logger.warn(
        { code: protocolProblems.length > 0 ? 'MESHD_ERR_PROXY_XDS_PROTOCOL' : 'MESHD_ERR_PROXY_CONFIG_REJECTED', typeUrl: resp.typeUrl, version: resp.systemVersionInfo, nonce: resp.nonce, refused: refused.length, applied: result.applied.length, problems: problems.length, detail },
        'proxy xds: NACK; the refused resources keep their previous version, the others are applied',
      );
      this.send(call, { typeUrl: resp.typeUrl, responseNonce: resp.nonce, errorDetail: { code: NACK_STATUS_CODE, message: detail } });
      this.emit({ kind: 'nack', nack });
    } else {
      t.acks++;
      // Only a response accepted whole sets the type's version (Envoy's version_info moves on ACK only).
      t.acceptedVersion = resp.systemVersionInfo;
      this.logger.debug({ typeUrl: resp.typeUrl, version: resp.systemVersionInfo, nonce: resp.nonce, resources: upserts.length, removed: resp.removedResources.length }, 'proxy xds: ACK');
      this.send(call, { typeUrl: resp.typeUrl, responseNonce: resp.nonce });
      this.emit({ kind: 'ack', typeUrl: resp.typeUrl, version: resp.systemVersionInfo, nonce: resp.nonce, resources: upserts.map((u) => u.name), removed: [...resp.removedResources] });
    }
    if (kind === 'listener' || kind === 'cluster') this.syncNamedSubscriptions(call);
    this.checkReady();
  }

  /** Subscribes to newly referenced EDS/RDS/SDS names, unsubscribes (and drops) unreferenced ones. */
  private syncNamedSubscriptions(call: Call): void {
    const refs = this.store.references();
    const wanted: Record<NamedKind, ReadonlySet<string>> = { endpoints: refs.endpoints, route: refs.routes, secret: refs.secrets };
    for (const kind of NAMED_KINDS) {
      const t = this.types.get(kind)!;
      const want = wanted[kind];
      const add = [...want].filter((n) => !t.subscribed.has(n)).sort();
      const drop = [...t.subscribed].filter((n) => !want.has(n)).sort();
      for (const n of add) t.subscribed.add(n);
      for (const n of drop) {
        t.subscribed.delete(n);
        t.answered.delete(n);
      }
      // Envoy drops a route configuration, endpoint set or secret nothing refers to any more.
      if (drop.length > 0) this.store.release(kind, drop);
      if (!t.opened) {
        // Never open a named type with an empty list: an empty first Delta request means wildcard.
        if (t.subscribed.size > 0) this.sendInitial(call, kind, [...t.subscribed].sort());
        continue;
      }
      if (add.length > 0 || drop.length > 0) this.send(call, { typeUrl: TYPE_OF_KIND[kind], resourceNamesSubscribe: add, resourceNamesUnsubscribe: drop });
    }
  }

  private checkReady(): void {
    if (this.isReady) return;
    for (const kind of WILDCARD_KINDS) if (!this.types.get(kind)!.initialized) return;
    for (const kind of NAMED_KINDS) {
      const t = this.types.get(kind)!;
      for (const n of t.subscribed) if (!t.answered.has(n)) return;
    }
    this.isReady = true;
    this.logger.info({ node: this.node.id }, 'proxy xds: initial configuration complete');
    this.resolveReady();
    this.emit({ kind: 'ready' });
  }

  private notReadyError(timeoutMs: number): ProxyError {
    const waiting: string[] = [];
    for (const kind of WILDCARD_KINDS) if (!this.types.get(kind)!.initialized) waiting.push(`${kind}s (*)`);
    for (const kind of NAMED_KINDS) {
      const t = this.types.get(kind)!;
      const missing = [...t.subscribed].filter((n) => !t.answered.has(n));
      if (missing.length > 0) waiting.push(`${kind} ${missing.map((n) => `"${n}"`).join(', ')}`);
    }
    const nack = this.lastNack();
    const why = [
      `waiting for ${waiting.join('; ') || 'nothing'}`,
      this.connected ? 'connected' : `not connected${this.lastError ? ` (${this.lastError})` : ''}`,
      ...(nack ? [`last NACK: ${nack.detail}`] : []),
    ].join('; ');
    return new ProxyError(
      'MESHD_ERR_PROXY_NOT_READY',
      `no complete configuration from ${this.opts.server} within ${timeoutMs} ms: ${why}`,
      'check that the xDS server runs and has a snapshot for this node id, and see the last NACK in the admin /config_dump',
    );
  }

  private emit(e: XdsClientEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.logger.warn({ err }, 'proxy xds: an event listener threw');
      }
    }
  }
}

/** error_detail.message of a NACK: one `kind "name": path: message` line per problem. */
export function formatNackDetail(problems: readonly ApplyProblem[]): string {
  return problems.map((p) => `${p.kind} "${p.resource}": ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
}
