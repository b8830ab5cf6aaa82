// One DNS query, over UDP or TCP alike: parse → decide → forward with a fresh id → restore the
// client's id → hold an answer with addresses for the observer → one flow record. What comes back
// is the message for the client, or undefined to drop (an unreadable datagram).
//
// Outcomes, as Cilium's DNS proxy (cilium.md §1.16, §3.3):
//   denied                     → REFUSED (NXDOMAIN with deny_response_code), the question echoed
//   no policy for the endpoint → SERVFAIL (Cilium: endpoint lookup failed)
//   upstream timeout / error   → SERVFAIL (Cilium sends nothing on timeout; an answer lets the
//                                client move on instead of waiting for its own timeout)
//   header readable, rest not  → FORMERR;   not even a header, or a response → dropped
import type { DnsFlowRecord, FlowPeer } from '../flow/types.js';
import { isFlowObserved, publishFlow } from '../flow/publish.js';
import type { ProxyLogger } from '../listener/types.js';
import type { DnsPolicyConfig } from './compile-policy.js';
import { decideQuery } from './decide.js';
import type { DnsRuntime } from './runtime.js';
import type { DnsAnswerEvent } from './types.js';
import { buildReply, displayName, parseAnswer, parseQuery, readHeader, withId, type QueryFacts, type SynthesizedRcode } from './wire.js';

/** Why an exchange with the resolver failed. */
export class UpstreamFailure extends Error {
  constructor(
    readonly reason: 'upstream_timeout' | 'upstream_unreachable' | 'upstream_reset' | 'no_upstream',
    message: string,
  ) {
    super(message);
  }
}

export interface QueryContext {
  protocol: 'udp' | 'tcp';
  /** The policy that applies; undefined → no policy covers this client (SERVFAIL). */
  policy: DnsPolicyConfig | undefined;
  /** The client (the pod). */
  source: FlowPeer;
  /** The original destination (the resolver the client asked). */
  destination: FlowPeer;
  /** The identity decisions are made on: the resolver's for EGRESS, the client's for INGRESS. */
  peerIdentity: number;
  listener: string;
  filterChain: string;
  runtime: DnsRuntime;
  logger: ProxyLogger | undefined;
  /**
   * Sends the query (already carrying a fresh id; a copy the exchange may keep and change) to the
   * resolver and resolves with its answer; rejects with UpstreamFailure. `questionEnd` is the offset
   * after its Question[0]; `timeoutMs` bounds the wait.
   */
  exchange(query: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer>;
  /** Where allowed queries go, for the flow record (undefined until known). */
  upstream(): { cluster: string; address: string; port: number } | undefined;
  /** A fresh query id for the resolver (random; TCP makes it unique among in-flight queries). */
  freshId(): number;
}

interface Outcome {
  verdict: DnsFlowRecord['verdict'];
  reason: string | undefined;
  policy: string | undefined;
  rcode: string;
  ips: string[];
  truncated: boolean;
  observer?: DnsFlowRecord['dns']['observer'];
}

/** Handles one query message; never throws (an internal error answers SERVFAIL). */
export async function answerQuery(msg: Buffer, ctx: QueryContext): Promise<Buffer | undefined> {
  const startedAt = Date.now();
  const parsed = parseQuery(msg);
  if (!parsed.ok) {
    if (!parsed.header) {
      record(ctx, startedAt, undefined, readHeader(msg)?.id ?? 0, { verdict: 'ERROR', reason: 'malformed_query_dropped', policy: undefined, rcode: '', ips: [], truncated: false });
      return undefined;
    }
    ctx.logger?.debug({ listener: ctx.listener, error: parsed.error }, 'dns: malformed query');
    record(ctx, startedAt, undefined, parsed.header.id, { verdict: 'ERROR', reason: 'malformed_query', policy: undefined, rcode: 'FORMERR', ips: [], truncated: false });
    return buildReply(msg, parsed.header, 'FORMERR', undefined, false);
  }
  const query = parsed.query;
  try {
    return await decideAndForward(msg, query, ctx, startedAt);
  } catch (err) {
    // A bug here must cost one query, not the listener: the client gets SERVFAIL.
    ctx.logger?.error({ err, listener: ctx.listener }, 'dns: internal error; answering SERVFAIL');
    record(ctx, startedAt, query, query.header.id, { verdict: 'ERROR', reason: 'internal_error', policy: undefined, rcode: 'SERVFAIL', ips: [], truncated: false });
    return reply(msg, query, 'SERVFAIL');
  }
}

function reply(msg: Buffer, query: QueryFacts, rcode: SynthesizedRcode): Buffer {
  return buildReply(msg, query.header, rcode, query.questionEnd, query.edns);
}

async function decideAndForward(msg: Buffer, query: QueryFacts, ctx: QueryContext, startedAt: number): Promise<Buffer> {
  const policy = ctx.policy;
  if (!policy) {
    record(ctx, startedAt, query, query.header.id, { verdict: 'ERROR', reason: 'dns_no_policy', policy: undefined, rcode: 'SERVFAIL', ips: [], truncated: false });
    return reply(msg, query, 'SERVFAIL');
  }
  const decision = decideQuery(policy, ctx.peerIdentity, ctx.destination.port, query.name);
  if (!decision.allowed) {
    record(ctx, startedAt, query, query.header.id, { verdict: 'DENIED', reason: decision.reason, policy: decision.policy, rcode: policy.denyRcode, ips: [], truncated: false });
    return reply(msg, query, policy.denyRcode);
  }

  let answer: Buffer;
  try {
    const upstreamId = ctx.freshId();
    answer = await ctx.exchange(withId(msg, upstreamId), query.questionEnd, policy.upstreamTimeoutMs);
  } catch (err) {
    const reason = err instanceof UpstreamFailure ? err.reason : 'upstream_error';
    ctx.logger?.debug({ err, listener: ctx.listener, query: displayName(query.name) }, 'dns: no answer from the resolver; answering SERVFAIL');
    record(ctx, startedAt, query, query.header.id, { verdict: 'ERROR', reason, policy: decision.policy, rcode: 'SERVFAIL', ips: [], truncated: false });
    return reply(msg, query, 'SERVFAIL');
  }
  const header = readHeader(answer);
  if (!header) {
    // The exchanges only hand over answers that match the query; this guards the next one.
    record(ctx, startedAt, query, query.header.id, { verdict: 'ERROR', reason: 'upstream_malformed', policy: decision.policy, rcode: 'SERVFAIL', ips: [], truncated: false });
    return reply(msg, query, 'SERVFAIL');
  }
  // The answer buffer is the handler's own (the exchanges hand over a datagram or a copy): the
  // client's id goes in place rather than into another copy.
  answer.writeUInt16BE(query.header.id, 0);
  const toClient = answer;

  // The answer is decoded only for whoever needs what is in it: the observer (addresses to allow)
  // or a flow subscriber (RCODE and addresses of the record). With neither, it passes as it came —
  // decoding every answer was the largest per-query cost after the socket calls.
  const observer = ctx.runtime.observer;
  const flowObserved = isFlowObserved();
  let facts: ReturnType<typeof parseAnswer> | undefined;
  if (observer || flowObserved) {
    try {
      facts = parseAnswer(answer, { validate: observer !== undefined });
    } catch (err) {
      // Passed on as it came (the client judges it, as without the proxy); nothing is learned from it,
      // so the kernel keeps denying whatever addresses it may hold.
      ctx.logger?.debug({ err, listener: ctx.listener }, 'dns: unparsable answer passed through unlearned');
    }
  }
  if (!flowObserved && !(observer && facts && facts.addresses.length > 0)) return toClient;
  const outcome: Outcome = {
    verdict: 'FORWARDED',
    reason: facts ? undefined : 'answer_unparsed',
    policy: decision.policy,
    rcode: facts?.rcode ?? '',
    ips: facts?.addresses.map((a) => a.ip) ?? [],
    truncated: header.truncated,
  };
  if (facts && facts.addresses.length > 0 && observer) {
    const event: DnsAnswerEvent = {
      endpoint: policy.endpoint,
      endpointIps: [...policy.endpointIps],
      sourceIp: ctx.source.ip,
      queryName: displayName(query.name),
      names: facts.names,
      addresses: facts.addresses,
      rcode: facts.rcode,
    };
    outcome.observer = await holdForObserver(ctx, event);
  }
  record(ctx, startedAt, query, query.header.id, outcome);
  return toClient;
}

/**
 * Waits for the observer (the kernel allowing the answer's IPs), at most the max delay; the answer
 * is released either way (Cilium's tofqdns-proxy-response-max-delay). A precise timer rather than
 * the coarse clock: the bound is 100 ms, below the coarse clock's precision.
 */
async function holdForObserver(ctx: QueryContext, event: DnsAnswerEvent): Promise<NonNullable<DnsFlowRecord['dns']['observer']>> {
  const started = performance.now();
  const held = (): number => Math.round((performance.now() - started) * 1000) / 1000;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ctx.runtime.responseMaxDelayMs);
  });
  const observed = (async (): Promise<'done' | 'error'> => {
    try {
      await ctx.runtime.observer!.onAnswer(event);
      return 'done';
    } catch (err) {
      ctx.logger?.warn({ err, listener: ctx.listener, query: event.queryName }, 'dns: answer observer failed; answer released');
      return 'error';
    }
  })();
  const outcome = await Promise.race([observed, expired]);
  clearTimeout(timer);
  if (outcome === 'timeout') ctx.logger?.debug({ listener: ctx.listener, query: event.queryName, maxDelayMs: ctx.runtime.responseMaxDelayMs }, 'dns: answer released by the max delay before the observer finished');
  return { heldMs: held(), outcome };
}

function record(ctx: QueryContext, startedAt: number, query: QueryFacts | undefined, id: number, o: Outcome): void {
  if (!isFlowObserved()) return;
  const flow: DnsFlowRecord = {
    type: 'dns',
    protocol: ctx.protocol,
    time: new Date(startedAt).toISOString(),
    source: ctx.source,
    destination: ctx.destination,
    listener: ctx.listener,
    filterChain: ctx.filterChain,
    verdict: o.verdict,
    policy: o.policy,
    reason: o.reason,
    latencyMs: Date.now() - startedAt,
    dns: {
      id,
      query: query ? displayName(query.name) : '',
      qtype: query?.qtypeName ?? '',
      rcode: o.rcode,
      ips: o.ips,
      truncated: o.truncated,
      ...(o.observer ? { observer: o.observer } : {}),
    },
    upstream: o.verdict === 'FORWARDED' || o.reason?.startsWith('upstream') ? ctx.upstream() : undefined,
  };
  publishFlow(flow);
}

