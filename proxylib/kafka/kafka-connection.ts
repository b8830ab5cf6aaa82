// One downstream connection through the Kafka filter. Requests are read frame by frame (bounded by
// the policy's max frame), decoded (header, then body), decided, and then either written upstream
// unmodified or answered here with the API's own error response. Kafka answers requests strictly in
// order on a connection, so every request that expects an answer takes a place in one queue:
// an upstream answer, a local (deny) answer, or "close here" (a denied acks=0 Produce, which a
// broker answers by closing the connection). Upstream answers are matched to the head of the queue
// by correlation id and streamed back as they arrive; a local answer goes out once everything
// before it has. Backpressure both ways: the downstream socket is paused while the upstream cannot
// take more, while answers to the client pile up, or while too many requests wait; the upstream
// socket is paused while the client does not read.
//
// Any frame the proxy cannot parse closes both sides (fail closed): a request it cannot read is
// neither forwarded nor guessed at.
import { isIPv6 } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { worldIdentityOf } from '../../policy/index.js';
import type { FlowPeer, KafkaFlowRecord } from '../flow/index.js';
import { isFlowObserved } from '../flow/index.js';
import type { MeshdFilterConnection } from '../listener/types.js';
import type { CoarseTimer } from '../listener/types.js';
import {
  DEFAULT_DENY_ERRORS,
  denyResponse,
  KAFKA_ERROR,
  opaqueRequestFacts,
  requestFacts,
  type DenyErrors,
  type KafkaBrokerAddress,
  type KafkaRequestFacts as KafkaBodyFacts,
  type TopicNameCache,
} from './api/index.js';
import type { KafkaPolicyConfig } from './compile-policy.js';
import { decideConnection, type KafkaRequestDecider, type KafkaRequestDecision } from './decide.js';
import { decodeRequestBody, decodeRequestHeader, decodeResponse, kafkaApiInfo, KafkaFrameSplitter, type KafkaFrameParts, type KafkaMessage, type KafkaRequestHeader } from './protocol/index.js';
import { KafkaResponseFramer, type ResponseHandling } from './response-framer.js';
import { recordBufferedBytes } from './stats.js';
import { topicCacheFor } from './topic-caches.js';

/** Responses the filter decodes to learn topic ids from (the rest are only streamed). */
const LEARN_FROM: ReadonlySet<number> = new Set([3 /* Metadata */, 19 /* CreateTopics */, 75 /* DescribeTopicPartitions */]);
const FETCH = 1;
/** Fetch v7 added sessions (KIP-227). */
const FETCH_SESSIONS_FROM = 7;
/** Enough of a Fetch answer for its session id behind a header with a few tagged fields. */
const FETCH_SESSION_PEEK_BYTES = 64;
/** Fetch sessions remembered per connection (a client keeps one per broker connection). */
const MAX_FETCH_SESSIONS = 16;
/** Requests waiting for an answer before the proxy stops reading more (clients pipeline; librdkafka a lot). */
const MAX_PENDING = 1024;
/** Envoy's delayed_close_timeout: after our FIN, keep reading (and dropping) this long before a reset. */
const DELAYED_CLOSE_MS = 1_000;
/** How long requests already accepted may take to reach the broker once the client is gone. */
const UPSTREAM_FLUSH_MS = 5_000;
/** Largest request the shared decode buffer grows to; a larger one is joined into a Buffer of its own. */
const DECODE_SCRATCH_MAX_BYTES = 16 * 1_048_576;

/**
 * Where a request that arrived in several chunks is joined to be decoded. One per process, not per
 * connection: decoding and deciding are synchronous and nothing keeps the decoded request (its
 * strings are copies; its record views are read by the decision and dropped), so connections can
 * take turns. The request itself is forwarded as the chunks it arrived in. A fresh Buffer per
 * large request (external memory V8 must collect) cost more than everything else the filter does.
 */
let decodeScratch = Buffer.alloc(0);

function contiguousFrame(frame: KafkaFrameParts): Buffer {
  const { size, parts } = frame;
  if (parts.length === 1) return parts[0]!.subarray(4);
  if (size > decodeScratch.length && size <= DECODE_SCRATCH_MAX_BYTES) {
    decodeScratch = Buffer.allocUnsafeSlow(Math.min(DECODE_SCRATCH_MAX_BYTES, Math.max(size, 2 * decodeScratch.length, 65_536)));
  }
  const out = size <= decodeScratch.length ? decodeScratch.subarray(0, size) : Buffer.allocUnsafe(size);
  let skip = 4; // the size field, which may itself span parts
  let off = 0;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    off += part.copy(out, off, skip);
    skip = 0;
  }
  return out;
}

/** Resolves the current policy of the connection's chain; undefined when the chain is gone. */
export type CurrentPolicy = () => KafkaPolicyConfig | undefined;

interface RequestInfo {
  header: KafkaRequestHeader;
  /** The API key and version are in the schema set (the body was decoded). */
  known: boolean;
  facts: KafkaBodyFacts;
  startedAtMs: number;
}

type Pending =
  | {
      kind: 'upstream';
      request: RequestInfo;
      policy: string | undefined;
      learn: boolean;
      /** A Fetch that opens a fetch session: its topics, bound to the session id the answer gives. */
      newFetchSession?: Set<string> | undefined;
    }
  | { kind: 'local'; bytes: Buffer }
  | { kind: 'close' };

type UpstreamInfo = { cluster: string; address: string; port: number };

export function runKafkaConnection(conn: MeshdFilterConnection, policy: KafkaPolicyConfig, currentPolicy: CurrentPolicy): void {
  new KafkaConnection(conn, policy, currentPolicy).start();
}

class KafkaConnection {
  private readonly downstream: Socket | TLSSocket;
  private upstream: Socket | TLSSocket | undefined;
  private upstreamInfo: UpstreamInfo | undefined;
  private readonly source: FlowPeer;
  private readonly destination: FlowPeer;
  private readonly peerIdentity: number;
  private policy: KafkaPolicyConfig;
  private decider: KafkaRequestDecider | undefined;
  /** Why the current policy refuses this connection (after a config change), when it does. */
  private refusal: { reason: string; policy: string | undefined } | undefined;
  private readonly splitter: KafkaFrameSplitter;
  private readonly framer: KafkaResponseFramer;
  private topicNames: TopicNameCache | undefined;
  private readonly pending: Pending[] = [];
  /** Fetch sessions (KIP-227) opened on this connection: session id → topics allowed into it. */
  private readonly fetchSessions = new Map<number, Set<string>>();
  private idle: CoarseTimer | undefined;
  private closeTimer: CoarseTimer | undefined;

  // Why the downstream is not read: each flag is one reason; reading resumes when none is left.
  private upstreamBlocked = false;
  private stopReading = false;
  private closed = false;
  /** Closed by closeGracefully(): the delayed-close timer ends both sockets. */
  private closingGracefully = false;
  private downstreamEnded = false;
  private draining = false;

  constructor(
    private readonly conn: MeshdFilterConnection,
    initialPolicy: KafkaPolicyConfig,
    private readonly currentPolicy: CurrentPolicy,
  ) {
    this.downstream = conn.socket;
    this.policy = initialPolicy;
    const egress = initialPolicy.direction === 'egress';
    const peer = egress ? conn.destination : conn.source;
    const known = egress ? conn.destinationIdentity : conn.sourceIdentity;
    // The proto's rule: an address the ipcache does not know is the world (of its family).
    this.peerIdentity = known ?? worldIdentityOf(isIPv6(peer.address) ? 6 : 4).id;
    this.source = { ip: conn.source.address, port: conn.source.port, identity: egress ? conn.sourceIdentity : this.peerIdentity };
    this.destination = { ip: conn.destination.address, port: conn.destination.port, identity: egress ? this.peerIdentity : conn.destinationIdentity };
    this.splitter = new KafkaFrameSplitter(initialPolicy.maxFrameBytes);
    this.framer = new KafkaResponseFramer({
      begin: (size, correlationId) => this.onResponseBegin(size, correlationId),
      bytes: (chunk) => this.writeDownstream(chunk),
      end: (whole) => this.onResponseEnd(whole),
      peeked: (head) => this.onResponsePeek(head),
      invalid: (detail) => this.failUpstream('kafka_malformed_response', detail),
    });
  }

  start(): void {
    const decision = decideConnection(this.policy, this.peerIdentity, this.conn.destination.port);
    if (decision.kind === 'refuse') {
      this.downstream.destroy();
      this.conn.publishConnectionFlow({ verdict: 'DENIED', reason: decision.reason, policy: decision.policy, upstream: undefined, bytesSent: 0, bytesReceived: 0 });
      return;
    }
    this.decider = decision.requests;
    // Connect at accept, as tcp_proxy does, rather than at the first allowed request: a broker that
    // cannot be reached then looks to the client exactly as it would without the proxy (the
    // connection fails), no request is ever held while a connect is in flight, and the downstream
    // stays paused until there is somewhere to send its bytes.
    const picked = this.conn.clusters.pick(this.policy.upstreamCluster, { originalDestination: this.conn.destination, host: '', downstreamProtocol: 'http1' });
    if (!picked.ok) {
      this.conn.logger?.debug({ cluster: this.policy.upstreamCluster, reason: picked.reason }, 'kafka: no upstream');
      this.downstream.destroy();
      this.conn.publishConnectionFlow({ verdict: 'ERROR', reason: picked.reason, policy: undefined, upstream: undefined, bytesSent: 0, bytesReceived: 0 });
      return;
    }
    const target = picked.target;
    const upstreamInfo = { cluster: target.cluster.name, address: target.address, port: target.port };
    this.upstreamInfo = upstreamInfo;
    let gone = false;
    const onEarlyClose = (): void => {
      gone = true;
    };
    this.downstream.once('close', onEarlyClose);
    this.conn.clusters.connect(target, { alpnProtocols: [] }).then(
      (upstream) => {
        this.downstream.off('close', onEarlyClose);
        if (gone || this.downstream.destroyed) {
          upstream.destroy();
          return;
        }
        this.attach(upstream);
      },
      (err: Error & { code?: string }) => {
        this.downstream.off('close', onEarlyClose);
        this.conn.logger?.debug({ err, cluster: upstreamInfo.cluster }, 'kafka: upstream connect failed');
        this.downstream.destroy();
        this.conn.publishConnectionFlow({
          verdict: 'ERROR',
          reason: err.code === 'MESHD_ERR_PROXY_UPSTREAM_TLS' ? 'upstream_tls_failed' : 'upstream_connect_failed',
          policy: undefined,
          upstream: upstreamInfo,
          bytesSent: 0,
          bytesReceived: 0,
        });
      },
    );
  }

  private attach(upstream: Socket | TLSSocket): void {
    this.upstream = upstream;
    this.topicNames = topicCacheFor({
      direction: this.policy.direction,
      endpoint: this.policy.endpoint,
      upstreamAddress: this.conn.destination.address,
      upstreamIdentity: this.policy.direction === 'egress' ? this.peerIdentity : this.conn.destinationIdentity,
    });
    const down = this.downstream;
    this.idle = this.conn.clock.timeout(this.policy.idleTimeoutMs, () => {
      this.conn.logger?.debug({ listener: this.conn.listenerName }, 'kafka: idle timeout');
      this.abort('idle_timeout');
    });
    down.on('data', (chunk: Buffer) => this.guard(() => this.onDownstreamData(chunk)));
    down.on('end', () => this.guard(() => this.onDownstreamEnd()));
    down.on('drain', () => this.guard(() => this.onDownstreamDrain()));
    down.on('error', () => this.abort('downstream_reset'));
    down.once('close', () => this.abort('downstream_closed'));
    upstream.on('data', (chunk: Buffer) => this.guard(() => this.onUpstreamData(chunk)));
    upstream.on('end', () => this.guard(() => this.onUpstreamEnd()));
    upstream.on('drain', () => this.guard(() => this.onUpstreamDrain()));
    upstream.on('error', (err) => {
      this.conn.logger?.debug({ err, listener: this.conn.listenerName }, 'kafka: upstream socket error');
      this.abort('upstream_reset');
    });
    upstream.once('close', () => this.abort('upstream_closed'));
    this.conn.onDrain(() => this.guard(() => this.onDrain()));
    this.updateReading();
  }

  /** A bug here must cost this connection, not the process. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.conn.logger?.error({ err, listener: this.conn.listenerName }, 'internal error in the Kafka filter; connection reset');
      this.abort('filter_error');
    }
  }

  // ---- requests ---------------------------------------------------------------------------------

  private onDownstreamData(chunk: Buffer): void {
    this.idle?.refresh();
    let frames: KafkaFrameParts[];
    try {
      frames = this.splitter.pushParts(chunk);
    } catch (err) {
      this.failRequest(undefined, 'kafka_malformed_request', err);
      return;
    }
    for (const frame of frames) {
      if (this.stopReading || this.closed) break;
      this.onRequest(frame);
    }
    this.noteBuffered();
    this.updateReading();
  }

  private onRequest(parts: KafkaFrameParts): void {
    const startedAtMs = Date.now();
    // Valid until the next request is joined: only decoding reads it.
    const frame = contiguousFrame(parts);
    let header: KafkaRequestHeader & { known: boolean };
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      this.failRequest(undefined, 'kafka_malformed_request', err);
      return;
    }
    const decider = this.currentDecider();
    if (decider === undefined) {
      // The chain is gone, or a deny rule now covers the peer: answer nothing more, finish what is
      // in flight, and close (the client reconnects and meets the current policy).
      const why = this.draining || this.refusal === undefined ? { reason: 'draining', policy: undefined } : this.refusal;
      this.publishRequest({ header, known: header.known, facts: opaqueRequestFacts(), startedAtMs }, 'DENIED', why.policy, why.reason, undefined);
      this.queueClose();
      return;
    }
    let body: KafkaMessage | undefined;
    let facts: KafkaBodyFacts;
    if (header.known) {
      try {
        body = decodeRequestBody(header.apiKey, header.apiVersion, frame, header.bodyOffset);
        facts = requestFacts(header, body, this.topicNames!);
      } catch (err) {
        this.failRequest(header, 'kafka_malformed_request', err);
        return;
      }
    } else facts = opaqueRequestFacts();
    const session = body !== undefined && header.apiKey === FETCH && header.apiVersion >= FETCH_SESSIONS_FROM ? this.fetchSessionOf(body) : undefined;
    // An incremental fetch names only what changed; the topics it reads are those of its session.
    const judged = session?.topics ? { ...facts, topics: union(session.topics, facts.topics) } : facts;
    const request: RequestInfo = { header, known: header.known, facts, startedAtMs };
    const decision = decider.decide({ apiKey: header.apiKey, apiVersion: header.apiVersion, clientId: header.clientId, facts: judged, opaque: !header.known });
    if (decision.allowed) {
      this.forward(parts, request, decision.policy, session?.opens === true ? new Set(asNames(facts.topics)) : undefined);
      if (session?.topics) {
        for (const t of asNames(facts.topics)) session.topics.add(t);
        for (const t of session.forgotten) session.topics.delete(t);
      }
    } else this.deny(request, body, decision);
  }

  /**
   * Fetch sessions (KIP-227, the Java client's default): a full fetch with epoch 0 opens a session
   * whose id the broker's answer gives; later fetches with that id and a positive epoch name only the
   * partitions that changed (often none), so they are judged with the topics of the session. Only
   * sessions opened on this connection, with topics the proxy allowed, count: an id from elsewhere
   * is judged by what the request itself names.
   */
  private fetchSessionOf(body: KafkaMessage): { opens: boolean; topics: Set<string> | undefined; forgotten: string[] } | undefined {
    const id = Number(body['sessionId']);
    const epoch = Number(body['sessionEpoch']);
    if (epoch === 0) return { opens: true, topics: undefined, forgotten: [] };
    if (epoch < 0) {
      // FINAL_EPOCH: a full fetch that closes the session (or uses none).
      this.fetchSessions.delete(id);
      return undefined;
    }
    const topics = this.fetchSessions.get(id);
    if (topics === undefined) return undefined;
    const forgotten: string[] = [];
    for (const f of (body['forgottenTopicsData'] as Array<{ topic?: string; topicId?: string }> | undefined) ?? []) {
      const name = f.topic ? f.topic : f.topicId ? this.topicNames?.nameOf(f.topicId) : undefined;
      if (name) forgotten.push(name);
    }
    return { opens: false, topics, forgotten };
  }

  /** The start of a Fetch answer that opened a session: bind its session id to the request's topics. */
  private onResponsePeek(head: Buffer): void {
    const pending = this.pending[0];
    if (pending?.kind !== 'upstream' || pending.newFetchSession === undefined) return;
    const id = fetchResponseSessionId(head, pending.request.header.apiVersion);
    if (id === undefined || id === 0) return;
    if (this.fetchSessions.size >= MAX_FETCH_SESSIONS) {
      const oldest = this.fetchSessions.keys().next();
      if (!oldest.done) this.fetchSessions.delete(oldest.value);
    }
    this.fetchSessions.set(id, pending.newFetchSession);
  }

  /** The decider of the current config; recomputed when the listener update changed the policy. */
  private currentDecider(): KafkaRequestDecider | undefined {
    if (this.draining) return undefined;
    const policy = this.currentPolicy();
    if (policy === undefined) return undefined;
    if (policy !== this.policy) {
      this.policy = policy;
      const decision = decideConnection(policy, this.peerIdentity, this.conn.destination.port);
      this.decider = decision.kind === 'accept' ? decision.requests : undefined;
      this.refusal = decision.kind === 'refuse' ? { reason: decision.reason, policy: decision.policy } : undefined;
    }
    return this.decider;
  }

  private forward(frame: KafkaFrameParts, request: RequestInfo, policy: string | undefined, newFetchSession?: Set<string>): void {
    const upstream = this.upstream!;
    // The frame as it arrived, size field included, in the client's own chunks (one writev): the
    // bytes the broker gets are the client's, and nothing is copied.
    let ok = true;
    if (frame.parts.length === 1) ok = upstream.write(frame.parts[0]!);
    else {
      upstream.cork();
      for (const part of frame.parts) ok = upstream.write(part);
      upstream.uncork();
    }
    if (!ok || upstream.writableNeedDrain) this.upstreamBlocked = true;
    if (request.facts.expectsResponse) this.pending.push({ kind: 'upstream', request, policy, learn: LEARN_FROM.has(request.header.apiKey) && request.known, newFetchSession });
    else this.publishRequest(request, 'FORWARDED', policy, undefined, undefined);
  }

  private deny(request: RequestInfo, body: KafkaMessage | undefined, decision: Extract<KafkaRequestDecision, { allowed: false }>): void {
    this.publishRequest(request, 'DENIED', decision.policy, decision.reason, decision.errorCode);
    if (!request.facts.expectsResponse) {
      // acks=0: the client reads no answer; a broker that refuses such a Produce closes the
      // connection, which is the only way the client learns of it. Earlier answers go out first.
      this.queueClose();
      return;
    }
    let answer: Buffer;
    try {
      answer = denyResponse(request.header, body, this.denyErrors(decision), { brokers: this.knownBrokers() });
    } catch (err) {
      // No response can be built (an API key or version the schemas do not have): closing is the
      // one answer every client understands, and it never leaves one waiting.
      this.conn.logger?.debug({ err, apiKey: request.header.apiKey, apiVersion: request.header.apiVersion }, 'kafka: no deny response for this request; closing');
      this.queueClose();
      return;
    }
    this.pending.push({ kind: 'local', bytes: answer });
    this.flushLocalAnswers();
  }

  private denyErrors(decision: Extract<KafkaRequestDecision, { allowed: false }>): DenyErrors {
    const onlyUnknownIds = decision.errorCode === KAFKA_ERROR.UNKNOWN_TOPIC_ID;
    return {
      ...DEFAULT_DENY_ERRORS,
      // Denied only for ids the proxy cannot name: every topic entry says UNKNOWN_TOPIC_ID, which
      // makes the client refresh its metadata (through the proxy, which then learns the ids) and
      // retry, instead of failing with an authorization error for topics it may use.
      ...(onlyUnknownIds ? { topic: KAFKA_ERROR.UNKNOWN_TOPIC_ID } : {}),
      ...(decision.unknownTopicIds.length > 0 ? { perTopic: new Map(decision.unknownTopicIds.map((id) => [id, KAFKA_ERROR.UNKNOWN_TOPIC_ID])) } : {}),
      cause: decision.errorCode === KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED ? 'group' : decision.errorCode === KAFKA_ERROR.CLUSTER_AUTHORIZATION_FAILED ? 'cluster' : 'topic',
    };
  }

  /**
   * Brokers a denied Metadata answer lists (a client ignores a Metadata response without brokers):
   * those the broker last told the proxy of, else the address the client connected to.
   */
  private knownBrokers(): readonly KafkaBrokerAddress[] {
    const learned = this.topicNames?.knownBrokers() ?? [];
    if (learned.length > 0) return learned;
    return [{ nodeId: -1, host: this.conn.destination.address, port: this.conn.destination.port, rack: null }];
  }

  private queueClose(): void {
    this.stopReading = true;
    this.pending.push({ kind: 'close' });
    this.flushLocalAnswers();
  }

  /** Writes the local answers (and acts on a close) at the head of the queue. */
  private flushLocalAnswers(): void {
    for (;;) {
      const head = this.pending[0];
      if (head === undefined || head.kind === 'upstream' || this.closed) break;
      this.pending.shift();
      if (head.kind === 'close') {
        this.closeGracefully();
        return;
      }
      this.writeDownstream(head.bytes);
    }
    this.maybeFinish();
  }

  // ---- responses --------------------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    this.idle?.refresh();
    if (this.closed) return;
    this.framer.push(chunk);
    this.noteBuffered();
  }

  private onResponseBegin(size: number, correlationId: number): ResponseHandling {
    const head = this.pending[0];
    if (head?.kind !== 'upstream') return this.refuseResponse(`response with correlation id ${correlationId} while no request waits for the broker`);
    if (head.request.header.correlationId !== correlationId) {
      return this.refuseResponse(`response with correlation id ${correlationId} where ${head.request.header.correlationId} was due`);
    }
    // The config's frame limit holds both ways (the proto's max_frame_bytes). Answers are streamed,
    // so the limit bounds what a client is handed rather than what the proxy holds — except for
    // the answers collected to learn topic ids from, which it does bound.
    if (size > this.policy.maxFrameBytes) {
      this.failUpstream('kafka_response_too_large', `response of ${size} bytes is above the maximum of ${this.policy.maxFrameBytes}`);
      return { error: 'too large' };
    }
    if (head.learn) return 'collect';
    return head.newFetchSession ? { peek: FETCH_SESSION_PEEK_BYTES } : 'stream';
  }

  private refuseResponse(detail: string): ResponseHandling {
    this.failUpstream('kafka_correlation_mismatch', detail);
    return { error: detail };
  }

  private onResponseEnd(whole: Buffer | undefined): void {
    const head = this.pending.shift();
    if (head?.kind !== 'upstream') return;
    if (whole !== undefined) {
      const { apiKey, apiVersion } = head.request.header;
      try {
        const { body } = decodeResponse(apiKey, apiVersion, whole.subarray(4));
        this.topicNames?.learnFromResponse(apiKey, apiVersion, body);
      } catch (err) {
        // The broker's answer is the client's to judge; it only teaches the proxy nothing.
        this.conn.logger?.debug({ err, apiKey, apiVersion }, 'kafka: could not decode a response to learn topic ids from');
      }
      this.writeDownstream(whole);
    }
    this.publishRequest(head.request, 'FORWARDED', head.policy, undefined, undefined);
    this.flushLocalAnswers();
    this.updateReading();
  }

  private writeDownstream(chunk: Buffer): void {
    if (this.closed) return;
    const ok = this.downstream.write(chunk);
    // The client is not reading: stop reading the broker (its answers wait in the kernel and at
    // the broker) until the client catches up.
    if (!ok) this.upstream?.pause();
  }

  private onDownstreamDrain(): void {
    if (this.closed) return;
    if (this.upstream?.isPaused()) this.upstream.resume();
    this.updateReading();
  }

  private onUpstreamDrain(): void {
    this.upstreamBlocked = false;
    this.updateReading();
  }

  // ---- flow control, ends, errors ---------------------------------------------------------------

  private updateReading(): void {
    if (this.closed) return;
    const read =
      !this.stopReading && !this.downstreamEnded && !this.upstreamBlocked && !this.downstream.writableNeedDrain && this.pending.length < MAX_PENDING;
    if (read && this.downstream.isPaused()) this.downstream.resume();
    else if (!read && !this.downstream.isPaused()) this.downstream.pause();
  }

  private noteBuffered(): void {
    recordBufferedBytes(this.splitter.buffered + this.framer.buffered + (this.upstream?.writableLength ?? 0) + this.downstream.writableLength);
  }

  private onDownstreamEnd(): void {
    // The client sends nothing more; it may still read. Answer what it asked, then close.
    this.downstreamEnded = true;
    this.stopReading = true;
    this.maybeFinish();
  }

  private onUpstreamEnd(): void {
    // The broker closed: requests waiting for it get no answer, and answers queued behind them
    // cannot go out without breaking the order. What was written reaches the client, then our FIN.
    this.failPending('upstream_closed');
    this.closeGracefully();
  }

  private onDrain(): void {
    // Listener removed or chain gone: no new request is read; the ones in flight are answered.
    this.draining = true;
    this.stopReading = true;
    this.updateReading();
    this.maybeFinish();
  }

  /** Once nothing is pending and no more requests will be read, close. */
  private maybeFinish(): void {
    if (this.closed || this.pending.length > 0) return;
    if (this.downstreamEnded || this.draining) this.closeGracefully();
  }

  /**
   * Ends both sides: the upstream after the requests written to it (an acks=0 Produce may still be
   * in its buffer), the downstream after the answers. Once the answers are flushed, what the client
   * still sends is read and dropped for a moment (Envoy's delayed_close_timeout, which also starts
   * after the flush), so unread bytes do not turn our FIN into a reset that destroys the last
   * answers in flight. A client that never reads is ended by the idle timeout, which keeps running.
   */
  private closeGracefully(): void {
    if (this.closed) return;
    this.closed = true;
    this.closingGracefully = true;
    this.stopReading = true;
    this.failPending('connection_closed');
    const upstream = this.upstream;
    upstream?.end();
    this.downstream.removeAllListeners('data');
    this.downstream.on('data', () => {});
    this.downstream.resume();
    this.downstream.end(() => {
      this.closeTimer = this.conn.clock.timeout(DELAYED_CLOSE_MS, () => {
        this.idle?.cancel();
        this.downstream.destroy();
        upstream?.destroy();
      });
    });
    this.downstream.once('close', () => {
      this.idle?.cancel();
      this.closeTimer?.cancel();
      if (!upstream || upstream.destroyed) return;
      // The broker's side ends once the last requests (an acks=0 Produce) are written, within a bound.
      if (upstream.writableFinished) {
        upstream.destroy();
        return;
      }
      const bound = this.conn.clock.timeout(UPSTREAM_FLUSH_MS, () => upstream.destroy());
      upstream.once('finish', () => upstream.destroy());
      upstream.once('close', () => bound.cancel());
    });
  }

  /** Closes both sides at once (reset, idle timeout, protocol error). */
  private abort(reason: string): void {
    // A graceful close ends on its own (both FINs, or the delayed-close timer); a socket closing
    // during it is that end, not an error.
    if (this.closingGracefully && (reason === 'downstream_closed' || reason === 'upstream_closed')) return;
    if (!this.closed) {
      this.closed = true;
      this.failPending(reason);
    }
    this.idle?.cancel();
    this.closeTimer?.cancel();
    this.downstream.destroy();
    this.upstream?.destroy();
  }

  /** A request frame the proxy cannot read: fail closed, with a flow record saying why. */
  private failRequest(header: KafkaRequestHeader | undefined, reason: string, err: unknown): void {
    const detail = err instanceof Error ? err.message : String(err);
    this.conn.logger?.debug({ err, listener: this.conn.listenerName, reason }, 'kafka: malformed request; closing');
    const startedAtMs = Date.now();
    this.publishRequest(
      { header: header ?? { apiKey: -1, apiVersion: -1, correlationId: -1, clientId: null, headerVersion: 1, bodyOffset: 0 }, known: false, facts: opaqueRequestFacts(), startedAtMs },
      'ERROR',
      undefined,
      reason,
      undefined,
      detail,
    );
    this.abort(reason);
  }

  /** An upstream response the proxy cannot match or read: close both sides. */
  private failUpstream(reason: string, detail: string): void {
    this.conn.logger?.debug({ listener: this.conn.listenerName, reason, detail }, 'kafka: bad upstream response; closing');
    if (this.pending.length === 0 && isFlowObserved()) {
      this.conn.publishConnectionFlow({ verdict: 'ERROR', reason, policy: undefined, upstream: this.upstreamInfo, bytesSent: this.upstream?.bytesWritten ?? 0, bytesReceived: this.upstream?.bytesRead ?? 0 });
    }
    this.failPending(reason, detail);
    this.abort(reason);
  }

  /** Requests that will get no answer from the broker: one ERROR record each. */
  private failPending(reason: string, detail?: string): void {
    const pending = this.pending.splice(0);
    for (const p of pending) if (p.kind === 'upstream') this.publishRequest(p.request, 'ERROR', p.policy, reason, undefined, detail);
  }

  private publishRequest(request: RequestInfo, verdict: KafkaFlowRecord['verdict'], policy: string | undefined, reason: string | undefined, errorCode: number | undefined, detail?: string): void {
    if (!isFlowObserved()) return;
    const { header, facts } = request;
    const record: KafkaFlowRecord & { detail?: string } = {
      type: 'kafka',
      time: new Date(request.startedAtMs).toISOString(),
      source: this.source,
      destination: this.destination,
      listener: this.conn.listenerName,
      filterChain: this.conn.filterChainName,
      verdict,
      policy,
      reason,
      latencyMs: Date.now() - request.startedAtMs,
      kafka: {
        apiKey: header.apiKey,
        apiName: kafkaApiInfo(header.apiKey)?.name ?? `unknown(${header.apiKey})`,
        apiVersion: header.apiVersion,
        correlationId: header.correlationId,
        clientId: header.clientId,
        topics: facts.topics === 'all' ? ['*'] : facts.topics,
        groups: facts.groups,
        ...(errorCode !== undefined ? { errorCode } : {}),
      },
      upstream: this.upstreamInfo,
    };
    // Why a request could not be read (the decoder's message); not in KafkaFlowRecord's type yet.
    if (detail !== undefined) record.detail = detail;
    this.conn.publishFlow(record);
  }
}

function asNames(topics: string[] | 'all'): string[] {
  return topics === 'all' ? [] : topics;
}

function union(a: ReadonlySet<string>, b: string[] | 'all'): string[] | 'all' {
  if (b === 'all') return 'all';
  const out = new Set(a);
  for (const t of b) out.add(t);
  return [...out];
}

/**
 * The session id of a Fetch answer (v7+) from its first bytes after the correlation id: the
 * response header's tagged fields (flexible versions, v12+), then throttleTimeMs int32, errorCode
 * int16, sessionId int32. undefined when the bytes do not reach it.
 */
export function fetchResponseSessionId(head: Buffer, apiVersion: number): number | undefined {
  let off = 0;
  const uvarint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (off >= head.length) return undefined;
      const b = head[off++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return undefined;
  };
  if (apiVersion >= 12) {
    const count = uvarint();
    if (count === undefined) return undefined;
    for (let i = 0; i < count; i++) {
      if (uvarint() === undefined) return undefined;
      const size = uvarint();
      if (size === undefined) return undefined;
      off += size;
    }
  }
  off += 4 + 2;
  return off + 4 <= head.length ? head.readInt32BE(off) : undefined;
}
