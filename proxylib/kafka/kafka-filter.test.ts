// The Kafka filter's mechanics through the whole proxy: a BuiltinProxy configured over xDS (meshd's
// real server, a listener whose terminal filter is the typed KafkaPolicy, a STATIC cluster) in front
// of a small in-test broker that speaks Kafka frames through the codec and records every frame it
// gets. Clients are raw sockets writing encoded requests, so pipelining, byte identity, partial
// frames and malformed input are exact. (The fixture broker and real clients are test/kafka's.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TYPE_URL } from '../../xds/index.js';
import { ProxyHarness, envoyMessages, staticClusterJson } from '../../test/proxy/harness.js';
import type { FlowRecord, KafkaFlowRecord, TcpFlowRecord } from '../flow/index.js';
import { subscribeFlows } from '../flow/index.js';
import {
  KAFKA_ERROR,
  KAFKA_POLICY_TYPE,
  KafkaFrameSplitter,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  kafkaPeakBufferedBytes,
  resetKafkaPeakBufferedBytes,
  type KafkaMessage,
} from './index.js';

const CLIENT_A = '127.0.0.1'; // identity 1001
const CLIENT_B = '127.0.0.2'; // identity 1002
const CLIENT_WORLD = '127.0.0.3'; // not in the ipcache: the world
const IDENTITIES: Record<string, number> = { [CLIENT_A]: 1001, [CLIENT_B]: 1002 };
const ORDERS_ID = '6a4f3c1e-7b2d-4c11-9e55-0123456789ab';
const SECRET_ID = '0b1c2d3e-4f50-4617-8899-aabbccddeeff';
const UNKNOWN_API_KEY = 90;
const MiB = 1024 * 1024;

// ---- the in-test broker ----------------------------------------------------------------------------

interface SeenFrame {
  apiKey: number;
  correlationId: number;
  /** The frame as it arrived, size prefix included. */
  bytes: Buffer;
}

/** A broker that answers Produce, Fetch, Metadata, ApiVersions and one unknown key, recording every frame. */
class TestBroker {
  readonly seen: SeenFrame[] = [];
  /** Bytes of the records of every Fetch answer. */
  fetchRecords = Buffer.alloc(0);
  /** Milliseconds the broker pauses after each chunk it reads (a slow reader). */
  readDelayMs = 0;
  /** Answer with a correlation id one above the request's (a broken or hostile upstream). */
  wrongCorrelation = false;
  /** Topics every Metadata answer names besides the requested ones. */
  metadataExtraTopics: string[] = [];
  /** Answer Produce after this long (requests in flight during a config change). */
  produceDelayMs = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<TestBroker> {
    let broker: TestBroker | undefined;
    const server = createServer((s) => broker!.serve(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    broker = new TestBroker(server, (server.address() as AddressInfo).port);
    return broker;
  }

  framesOf(apiKey: number): SeenFrame[] {
    return this.seen.filter((f) => f.apiKey === apiKey);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const splitter = new KafkaFrameSplitter(1 << 30);
    socket.on('data', (chunk: Buffer) => {
      if (this.readDelayMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), this.readDelayMs);
      }
      for (const frame of splitter.push(chunk)) this.answer(socket, frame);
    });
  }

  private answer(socket: Socket, frame: Buffer): void {
    const header = decodeRequestHeader(frame);
    const size = Buffer.alloc(4);
    size.writeInt32BE(frame.length);
    this.seen.push({ apiKey: header.apiKey, correlationId: header.correlationId, bytes: Buffer.concat([size, frame]) });
    const { apiKey, apiVersion, correlationId } = header;
    if (!header.known) {
      // Whatever a newer broker would say: the proxy only reads the size and correlation id.
      const raw = Buffer.alloc(12);
      raw.writeInt32BE(8, 0);
      raw.writeInt32BE(correlationId, 4);
      raw.write('new!', 8);
      socket.write(raw);
      return;
    }
    const body = decodeRequestBody(apiKey, apiVersion, frame, header.bodyOffset);
    const answerId = this.wrongCorrelation ? correlationId + 1 : correlationId;
    const send = (response: KafkaMessage) => socket.write(encodeResponse(apiKey, apiVersion, answerId, response));
    switch (apiKey) {
      case 0: {
        if (body['acks'] === 0) return;
        const topics = body['topicData'] as Array<{ name: string; partitionData: Array<{ index: number }> }>;
        const response = { responses: topics.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: 0, baseOffset: 0n })) })) };
        if (this.produceDelayMs > 0) setTimeout(() => send(response), this.produceDelayMs);
        else send(response);
        return;
      }
      case 1: {
        const topics = body['topics'] as Array<{ topic: string; topicId: string; partitions: Array<{ partition: number }> }>;
        // KIP-227: epoch 0 opens a session (id 777 here); a positive epoch continues the one named.
        const sessionId = apiVersion >= 7 ? (body['sessionEpoch'] === 0 ? 777 : Number(body['sessionId'])) : 0;
        send({ sessionId, responses: topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, records: this.fetchRecords })) })) });
        return;
      }
      case 3: {
        const requested = body['topics'] as Array<{ name: string | null }> | null;
        const names = requested === null ? ['orders', 'secret'] : [...requested.map((t) => t.name ?? ''), ...this.metadataExtraTopics];
        send({
          brokers: [{ nodeId: 1, host: '127.0.0.1', port: this.port, rack: null }],
          controllerId: 1,
          topics: names.map((name) => ({ name, topicId: name === 'orders' ? ORDERS_ID : name === 'secret' ? SECRET_ID : '00000000-0000-0000-0000-000000000000', partitions: [] })),
        });
        return;
      }
      case 18:
        send({ apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }] });
        return;
      default:
        socket.destroy();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- requests and a raw client ---------------------------------------------------------------------

function produce(correlationId: number, topics: string[], opts: { acks?: number; recordBytes?: number; version?: number } = {}): Buffer {
  const records = Buffer.alloc(opts.recordBytes ?? 64, 0x61);
  return encodeRequest(
    { apiKey: 0, apiVersion: opts.version ?? 9, correlationId, clientId: 'producer-1' },
    { transactionalId: null, acks: opts.acks ?? -1, timeoutMs: 5000, topicData: topics.map((name) => ({ name, partitionData: [{ index: 0, records }] })) },
  );
}

function metadata(correlationId: number, topics: string[] | null, version = 12): Buffer {
  return encodeRequest(
    { apiKey: 3, apiVersion: version, correlationId, clientId: 'consumer-1' },
    { topics: topics === null ? null : topics.map((name) => ({ name, topicId: '00000000-0000-0000-0000-000000000000' })), allowAutoTopicCreation: false },
  );
}

function fetchByIds(correlationId: number, topicIds: string[]): Buffer {
  return encodeRequest(
    { apiKey: 1, apiVersion: 13, correlationId, clientId: 'consumer-1' },
    { replicaId: -1, maxWaitMs: 10, minBytes: 1, maxBytes: 64 * MiB, topics: topicIds.map((topicId) => ({ topicId, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 64 * MiB }] })) },
  );
}

function fetchByName(correlationId: number, topics: string[], session: { id: number; epoch: number; forgotten?: string[] } = { id: 0, epoch: -1 }): Buffer {
  return encodeRequest(
    { apiKey: 1, apiVersion: 12, correlationId, clientId: 'consumer-1' },
    {
      replicaId: -1,
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 64 * MiB,
      sessionId: session.id,
      sessionEpoch: session.epoch,
      topics: topics.map((topic) => ({ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 64 * MiB }] })),
      forgottenTopicsData: (session.forgotten ?? []).map((topic) => ({ topic, partitions: [0] })),
    },
  );
}

/** A request of an API key the schema set does not have: a v1 header and a few body bytes. */
function unknownKeyRequest(correlationId: number): Buffer {
  const clientId = Buffer.from('future');
  const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + 4);
  let o = b.writeInt32BE(b.length - 4, 0);
  o = b.writeInt16BE(UNKNOWN_API_KEY, o);
  o = b.writeInt16BE(0, o);
  o = b.writeInt32BE(correlationId, o);
  o = b.writeInt16BE(clientId.length, o);
  o += clientId.copy(b, o);
  b.writeInt32BE(0x01020304, o);
  return b;
}

/** A timeout for races: it must not keep the test process alive once the race is decided. */
function unrefSleep(ms: number): Promise<void> {
  return sleep(ms, undefined, { ref: false });
}

class RawClient {
  /** Response frames (without size), in arrival order. */
  readonly frames: Buffer[] = [];
  readonly closed: Promise<void>;
  received = 0;
  private readonly splitter = new KafkaFrameSplitter(1 << 30);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      for (const f of this.splitter.push(chunk)) this.frames.push(f);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(port: number, localAddress = CLIENT_A): Promise<RawClient> {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  send(...requests: Buffer[]): void {
    this.socket.write(Buffer.concat(requests));
  }

  /** Waits (bounded) for `n` response frames; fails with what arrived when the connection closes first. */
  async responses(n: number, timeoutMs = 5000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.socket.destroyed || Date.now() > deadline) assert.fail(`expected ${n} responses, got ${this.frames.length} (${this.socket.destroyed ? 'closed' : 'timeout'})`);
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), unrefSleep(Math.max(1, deadline - Date.now()))]);
    }
    return this.frames.slice(0, n);
  }

  /** Resolves true when the proxy closed the connection within the time. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), unrefSleep(ms).then(() => false)]);
  }

  close(): void {
    this.socket.destroy();
  }
}

function produceErrors(frame: Buffer, version = 9): number[] {
  const { body } = decodeResponse(0, version, frame);
  return (body['responses'] as Array<{ partitionResponses: Array<{ errorCode: number }> }>).flatMap((t) => t.partitionResponses.map((p) => p.errorCode));
}

function correlationOf(frame: Buffer): number {
  return frame.readInt32BE(0);
}

/** Collects flow records of one listener while a test runs. */
function recordFlows(listener: string): { records: FlowRecord[]; stop: () => void; waitFor: (pred: (r: FlowRecord) => boolean, timeoutMs?: number) => Promise<FlowRecord> } {
  const records: FlowRecord[] = [];
  const stop = subscribeFlows((r) => {
    if (r.listener === listener) records.push(r);
  });
  return {
    records,
    stop,
    waitFor: async (pred, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = records.find(pred);
        if (found) return found;
        if (Date.now() > deadline) assert.fail(`no matching flow record on ${listener}; got ${JSON.stringify(records.map((r) => [r.type, r.verdict, r.reason]))}`);
        await sleep(10);
      }
    },
  };
}

const kafkaRecords = (records: FlowRecord[]): KafkaFlowRecord[] => records.filter((r): r is KafkaFlowRecord => r.type === 'kafka');

// ---- the proxy's configuration -----------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Listeners whose connections the test's "datapath" redirected: their original destination is the broker. */
const TRANSPARENT = new Set(['egress']);

function kafkaListener(name: string, policy: Json): Json {
  const transparent = TRANSPARENT.has(name);
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    ...(transparent
      ? { listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }] }
      : {}),
    filter_chains: [
      {
        name: `${name}-chain`,
        filters: [
          {
            name: 'meshd.filters.kafka',
            typed_config: {
              '@type': `type.googleapis.com/${KAFKA_POLICY_TYPE}`,
              stat_prefix: name,
              endpoint: 'default/broker',
              direction: 'INGRESS',
              upstream: { cluster: transparent ? 'original-dst' : 'broker' },
              endpoint_ips: ['127.0.0.1'],
              destination_ports: { start: 1, end: 65535 },
              ...policy,
            },
          },
        ],
      },
    ],
  };
}

const LISTENERS: Record<string, Json> = {
  // Identity 1001 may produce to and read metadata of "orders", and consume it; nobody else may connect.
  topics: {
    default_deny: true,
    rules: [
      {
        name: 'orders-for-a',
        remotes: { identities: [1001] },
        requests: [{ role: 'produce', topic: 'orders' }, { role: 'consume', topic: 'orders' }],
      },
    ],
  },
  // Identity 1002 is denied by a deny rule; everyone else may do anything.
  deny: {
    deny_rules: [{ name: 'deny-b', remotes: { identities: [1002] } }],
    rules: [{ name: 'everyone', remotes: { any: true }, l3l4_only: true }],
  },
  // A rule for ports 1-2 only (the listener's port is not one): default deny refuses 1002; 1001 has a rule for every high port.
  ports: {
    default_deny: true,
    rules: [
      { name: 'low-ports', remotes: { any: true }, ports: { start: 1, end: 2 }, l3l4_only: true },
      { name: 'high-ports-a', remotes: { identities: [1001] }, ports: { start: 1024, end: 65535 }, l3l4_only: true },
    ],
  },
  // The unknown key is allowed by a rule naming it (no topics).
  opaqueAllowed: { rules: [{ name: 'by-key', remotes: { any: true }, requests: [{ api_keys: [UNKNOWN_API_KEY] }, { topic: 'orders' }] }] },
  // Only topic rules: an unknown key cannot be judged, so it is not passed.
  opaqueDenied: { rules: [{ name: 'topic-only', remotes: { any: true }, requests: [{ topic: 'orders' }] }] },
  // Egress of a client pod to the broker (identity 1001, its address is 127.0.0.1): the peer is the
  // original destination, whatever the client's own identity.
  egress: {
    direction: 'EGRESS',
    default_deny: true,
    rules: [{ name: 'to-broker', remotes: { identities: [1001] }, requests: [{ role: 'produce', topic: 'orders' }] }],
  },
  // A frame limit of 1 KiB both ways.
  small: { max_frame_bytes: 1024, rules: [{ name: 'everyone', remotes: { any: true }, l3l4_only: true }] },
  // Removed by the last test while a request is in flight.
  drained: { rules: [{ name: 'everyone', remotes: { any: true }, l3l4_only: true }] },
};

function snapshotOf(listeners: Record<string, Json>, brokerPort: number) {
  return envoyMessages({
    listeners: Object.entries(listeners).map(([name, policy]) => kafkaListener(name, policy)),
    clusters: [
      staticClusterJson('broker', [{ host: '127.0.0.1', port: brokerPort }]),
      { name: 'original-dst', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '2s' },
    ],
  });
}

// ---- the tests --------------------------------------------------------------------------------------

describe('the Kafka filter in the built-in proxy', { timeout: 120_000 }, () => {
  let h: ProxyHarness;
  let broker: TestBroker;
  const ports: Record<string, number> = {};

  before(async () => {
    h = await ProxyHarness.start({ nodeId: 'kafka-filter' });
    broker = await TestBroker.start();
    h.cleanup.add(() => broker.close());
    h.setSnapshot(snapshotOf(LISTENERS, broker.port));
    await h.startProxy({
      identityOf: (ip) => IDENTITIES[ip],
      // The datapath's part: a connection to the "egress" listener was redirected from the broker's address.
      originalDestination: ({ local }) => (local.port === ports['egress'] ? { address: '127.0.0.1', port: broker.port } : undefined),
    });
    for (const name of Object.keys(LISTENERS)) {
      const bound = h.proxy.listenerAddress(name);
      assert.ok(bound, `listener ${name} is bound`);
      ports[name] = bound.port;
    }
  });

  after(async () => {
    await h?.close();
  });

  test('an allowed request reaches the broker byte for byte and its answer comes back, with a FORWARDED record naming the rule', async () => {
    const flows = recordFlows('topics');
    const client = await RawClient.connect(ports['topics']!);
    try {
      const request = produce(7, ['orders'], { recordBytes: 300 });
      const before = broker.seen.length;
      client.send(request);
      const [answer] = await client.responses(1);
      assert.equal(correlationOf(answer!), 7);
      assert.deepEqual(produceErrors(answer!), [0]);
      const forwarded = broker.seen.slice(before);
      assert.equal(forwarded.length, 1);
      assert.ok(forwarded[0]!.bytes.equals(request), 'the broker got exactly the bytes the client sent');
      const record = (await flows.waitFor((r) => r.type === 'kafka')) as KafkaFlowRecord;
      assert.equal(record.verdict, 'FORWARDED');
      assert.equal(record.policy, 'orders-for-a');
      assert.deepEqual(record.kafka.topics, ['orders']);
      assert.equal(record.kafka.apiName, 'Produce');
      assert.equal(record.kafka.clientId, 'producer-1');
      assert.equal(record.source.identity, 1001);
      assert.equal(record.upstream?.port, broker.port);
    } finally {
      client.close();
      flows.stop();
    }
  });

  test('pipelined requests: denied ones are answered here, in order between the allowed ones, and never reach the broker', async () => {
    const flows = recordFlows('topics');
    const client = await RawClient.connect(ports['topics']!);
    try {
      const before = broker.seen.length;
      // Correlation ids out of numeric order, as a client's counter may wrap.
      client.send(produce(41, ['orders']), produce(3, ['secret']), metadata(99, ['orders']), produce(12, ['orders', 'secret']), produce(5, ['orders']));
      const answers = await client.responses(5);
      assert.deepEqual(answers.map(correlationOf), [41, 3, 99, 12, 5]);
      assert.deepEqual(produceErrors(answers[0]!), [0]);
      assert.deepEqual(produceErrors(answers[1]!), [KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED]);
      assert.deepEqual(produceErrors(answers[3]!), [KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED, KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED]);
      assert.deepEqual(produceErrors(answers[4]!), [0]);
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.correlationId),
        [41, 99, 5],
      );
      await flows.waitFor((r) => r.type === 'kafka' && r.kafka.correlationId === 5);
      const denied = kafkaRecords(flows.records).filter((r) => r.verdict === 'DENIED');
      assert.deepEqual(
        denied.map((r) => [r.kafka.correlationId, r.reason, r.kafka.errorCode]),
        [
          [3, 'kafka_denied_topic', KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED],
          [12, 'kafka_denied_topic', KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED],
        ],
      );
      assert.equal(await client.closedWithin(100), false, 'the connection stays open after denials');
    } finally {
      client.close();
      flows.stop();
    }
  });

  test('a denied acks=0 Produce closes the connection after the earlier answers, as a broker does', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      const before = broker.seen.length;
      client.send(produce(1, ['orders']), produce(2, ['secret'], { acks: 0 }), produce(3, ['orders']));
      assert.equal(await client.closedWithin(5000), true, 'closed');
      assert.deepEqual(client.frames.map(correlationOf), [1]);
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.correlationId),
        [1],
        'nothing after the denied request was forwarded',
      );
    } finally {
      client.close();
    }
  });

  test('an allowed acks=0 Produce is forwarded and takes no place in the answer order', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      client.send(produce(1, ['orders'], { acks: 0 }), produce(2, ['orders']));
      const answers = await client.responses(1);
      assert.deepEqual(answers.map(correlationOf), [2]);
    } finally {
      client.close();
    }
  });

  test('a frame that does not decode closes the connection with an ERROR record carrying the decoder message', async () => {
    const flows = recordFlows('topics');
    const client = await RawClient.connect(ports['topics']!);
    try {
      const good = produce(9, ['orders']);
      // Same header, body cut short: the declared size covers only part of the topic array.
      const truncated = Buffer.from(good.subarray(0, 40));
      truncated.writeInt32BE(truncated.length - 4, 0);
      const before = broker.seen.length;
      client.send(truncated);
      assert.equal(await client.closedWithin(5000), true);
      assert.equal(broker.seen.length, before, 'nothing was forwarded');
      const record = (await flows.waitFor((r) => r.type === 'kafka' && r.verdict === 'ERROR')) as KafkaFlowRecord & { detail?: string };
      assert.equal(record.reason, 'kafka_malformed_request');
      assert.equal(record.kafka.apiKey, 0);
      assert.equal(record.kafka.correlationId, 9);
      assert.ok(record.detail && record.detail.length > 0, 'the decoder message is in the record');
    } finally {
      client.close();
      flows.stop();
    }
  });

  test('a frame above the maximum size, or of negative size, closes the connection before any of its bytes are held', async () => {
    const flows = recordFlows('deny');
    for (const size of [0x7fffffff, -5]) {
      const client = await RawClient.connect(ports['deny']!);
      try {
        const prefix = Buffer.alloc(8);
        prefix.writeInt32BE(size, 0);
        client.send(prefix);
        assert.equal(await client.closedWithin(5000), true, `size ${size} closes`);
      } finally {
        client.close();
      }
    }
    await flows.waitFor((r) => r.type === 'kafka' && r.verdict === 'ERROR' && r.reason === 'kafka_malformed_request');
    flows.stop();
  });

  test("the config's max_frame_bytes bounds requests and answers", async () => {
    const flows = recordFlows('small');
    const ok = await RawClient.connect(ports['small']!);
    try {
      ok.send(produce(1, ['orders'], { recordBytes: 512 }));
      assert.deepEqual((await ok.responses(1)).map(correlationOf), [1]);
      const before = broker.seen.length;
      ok.send(produce(2, ['orders'], { recordBytes: 2048 }));
      assert.equal(await ok.closedWithin(5000), true, 'a 2 KiB request closes the connection');
      assert.equal(broker.seen.length, before);
    } finally {
      ok.close();
    }
    const big = await RawClient.connect(ports['small']!);
    try {
      broker.fetchRecords = Buffer.alloc(4096);
      big.send(fetchByName(3, ['orders']));
      assert.equal(await big.closedWithin(5000), true, 'a 4 KiB answer closes the connection');
      assert.equal(big.frames.length, 0);
      const record = (await flows.waitFor((r) => r.type === 'kafka' && r.kafka.correlationId === 3)) as KafkaFlowRecord;
      assert.deepEqual([record.verdict, record.reason], ['ERROR', 'kafka_response_too_large']);
    } finally {
      broker.fetchRecords = Buffer.alloc(0);
      big.close();
      flows.stop();
    }
  });

  test('a deny rule and default deny refuse the connection at accept, with a DENIED record', async () => {
    const flows = recordFlows('deny');
    const refused = await RawClient.connect(ports['deny']!, CLIENT_B);
    assert.equal(await refused.closedWithin(5000), true);
    const record = (await flows.waitFor((r) => r.type === 'tcp')) as TcpFlowRecord;
    assert.deepEqual([record.verdict, record.reason, record.policy, record.source.identity], ['DENIED', 'kafka_deny_rule', 'deny-b', 1002]);
    flows.stop();
    // Others are covered by the l3l4 rule: every request passes. An address the ipcache does not
    // know is judged (and recorded) as the world.
    const worldFlows = recordFlows('deny');
    const allowed = await RawClient.connect(ports['deny']!, CLIENT_WORLD);
    try {
      allowed.send(produce(1, ['anything']));
      assert.deepEqual((await allowed.responses(1)).map(correlationOf), [1]);
      const world = (await worldFlows.waitFor((r) => r.type === 'kafka')) as KafkaFlowRecord;
      assert.deepEqual([world.verdict, world.policy, world.source.identity], ['FORWARDED', 'everyone', 9]);
    } finally {
      allowed.close();
      worldFlows.stop();
    }

    const defaults = recordFlows('topics');
    for (const ip of [CLIENT_B, CLIENT_WORLD]) {
      const c = await RawClient.connect(ports['topics']!, ip);
      c.send(produce(1, ['orders']));
      assert.equal(await c.closedWithin(5000), true, `${ip} is refused by default deny`);
      assert.equal(c.frames.length, 0);
    }
    const denied = await defaults.waitFor((r) => r.type === 'tcp' && r.source.ip === CLIENT_WORLD);
    assert.deepEqual([denied.verdict, denied.reason], ['DENIED', 'kafka_default_deny']);
    defaults.stop();
  });

  test('rules cover only their port ranges', async () => {
    const a = await RawClient.connect(ports['ports']!, CLIENT_A);
    try {
      a.send(produce(1, ['x']));
      assert.deepEqual((await a.responses(1)).map(correlationOf), [1]);
    } finally {
      a.close();
    }
    const b = await RawClient.connect(ports['ports']!, CLIENT_B);
    assert.equal(await b.closedWithin(5000), true, 'the any-peer rule is for ports 1-2 only');
  });

  test('an unknown API key passes only where a rule allows it without needing its topics', async () => {
    const allowed = await RawClient.connect(ports['opaqueAllowed']!);
    try {
      const before = broker.seen.length;
      allowed.send(unknownKeyRequest(77), produce(78, ['orders']));
      const answers = await allowed.responses(2);
      assert.deepEqual(answers.map(correlationOf), [77, 78]);
      assert.equal(answers[0]!.subarray(4).toString(), 'new!');
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.apiKey),
        [UNKNOWN_API_KEY, 0],
      );
    } finally {
      allowed.close();
    }
    const flows = recordFlows('opaqueDenied');
    const denied = await RawClient.connect(ports['opaqueDenied']!);
    try {
      const before = broker.seen.length;
      denied.send(produce(1, ['orders']), unknownKeyRequest(2));
      // No deny response exists for a key the schemas do not have: the connection closes after the earlier answer.
      assert.equal(await denied.closedWithin(5000), true);
      assert.deepEqual(denied.frames.map(correlationOf), [1]);
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.apiKey),
        [0],
      );
      const record = (await flows.waitFor((r) => r.type === 'kafka' && r.verdict === 'DENIED')) as KafkaFlowRecord;
      assert.deepEqual([record.reason, record.kafka.apiName], ['kafka_denied_unknown_request', `unknown(${UNKNOWN_API_KEY})`]);
    } finally {
      denied.close();
      flows.stop();
    }
  });

  test('topic ids learned from a Metadata answer name the ids of a Fetch; an id nobody named is answered UNKNOWN_TOPIC_ID', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      broker.fetchRecords = Buffer.from('record-bytes');
      client.send(metadata(1, ['orders']));
      await client.responses(1);
      client.send(fetchByIds(2, [ORDERS_ID]), fetchByIds(3, [SECRET_ID]));
      const answers = await client.responses(3);
      const fetched = decodeResponse(1, 13, answers[1]!).body as { responses: Array<{ topicId: string; partitions: Array<{ errorCode: number; records: Buffer | null }> }> };
      assert.equal(fetched.responses[0]?.topicId, ORDERS_ID);
      assert.equal(fetched.responses[0]?.partitions[0]?.errorCode, 0);
      assert.equal(fetched.responses[0]?.partitions[0]?.records?.toString(), 'record-bytes');
      const unknown = decodeResponse(1, 13, answers[2]!).body as { responses: Array<{ topicId: string; partitions: Array<{ errorCode: number }> }> };
      assert.equal(unknown.responses[0]?.topicId, SECRET_ID);
      assert.equal(unknown.responses[0]?.partitions[0]?.errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_ID);
      // Once a broker named it (in the answer to an allowed request), the id is judged by its name:
      // "secret" is not allowed.
      broker.metadataExtraTopics = ['secret'];
      client.send(metadata(4, ['orders']));
      await client.responses(4);
      client.send(fetchByIds(5, [SECRET_ID]));
      const [, , , , denied] = await client.responses(5);
      const body = decodeResponse(1, 13, denied!).body as { responses: Array<{ partitions: Array<{ errorCode: number }> }> };
      assert.equal(body.responses[0]?.partitions[0]?.errorCode, KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED);
    } finally {
      broker.metadataExtraTopics = [];
      client.close();
    }
  });

  test('fetch sessions: an incremental fetch is judged with the topics of the session it continues, when that session was opened here', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      const errorsOf = (frame: Buffer) => {
        const body = decodeResponse(1, 12, frame).body as { sessionId: number; responses: Array<{ partitions: Array<{ errorCode: number }> }> };
        return { sessionId: body.sessionId, errors: body.responses.flatMap((t) => t.partitions.map((p) => p.errorCode)) };
      };
      client.send(fetchByName(1, ['orders'], { id: 0, epoch: 0 }));
      const [opened] = await client.responses(1);
      assert.deepEqual(errorsOf(opened!), { sessionId: 777, errors: [0] });
      const before = broker.seen.length;
      // Nothing changed: no topic named, allowed because session 777 reads "orders".
      client.send(fetchByName(2, [], { id: 777, epoch: 1 }));
      // A session this connection never opened: judged by what it names (nothing), so denied.
      client.send(fetchByName(3, [], { id: 888, epoch: 1 }));
      // Adding a denied topic to the session is denied.
      client.send(fetchByName(4, ['secret'], { id: 777, epoch: 2 }));
      const answers = await client.responses(4);
      assert.deepEqual(answers.slice(1).map(correlationOf), [2, 3, 4]);
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.correlationId),
        [2],
      );
      assert.equal(errorsOf(answers[3]!).errors[0], KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED);
    } finally {
      client.close();
    }
  });

  test('a 4 MiB Produce passes intact through a slow broker while the proxy holds about one frame', async () => {
    const client = await RawClient.connect(ports['topics']!);
    broker.readDelayMs = 2;
    try {
      resetKafkaPeakBufferedBytes();
      const requests = [1, 2, 3].map((c) => produce(c, ['orders'], { recordBytes: 4 * MiB }));
      const before = broker.seen.length;
      client.send(...requests);
      const answers = await client.responses(3, 30_000);
      assert.deepEqual(answers.map(correlationOf), [1, 2, 3]);
      const seen = broker.seen.slice(before);
      assert.equal(seen.length, 3);
      for (let i = 0; i < 3; i++) {
        assert.equal(createHash('sha256').update(seen[i]!.bytes).digest('hex'), createHash('sha256').update(requests[i]!).digest('hex'), `request ${i + 1} arrived intact`);
      }
      const peak = kafkaPeakBufferedBytes();
      assert.ok(peak >= 4 * MiB, `the proxy held a whole frame at some point (peak ${peak})`);
      assert.ok(peak < 5 * MiB, `the proxy held about one frame, not three: peak ${(peak / MiB).toFixed(2)} MiB`);
    } finally {
      broker.readDelayMs = 0;
      client.close();
    }
  });

  test('a Fetch answer of several MiB streams through to a slow client without being held whole', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      broker.fetchRecords = Buffer.alloc(12 * MiB, 0x5a);
      resetKafkaPeakBufferedBytes();
      // A slow reader: the proxy must pause the broker rather than buffer the answer.
      client.socket.on('data', () => {
        client.socket.pause();
        setTimeout(() => client.socket.resume(), 1);
      });
      client.send(fetchByName(1, ['orders']));
      const [answer] = await client.responses(1, 30_000);
      const body = decodeResponse(1, 12, answer!).body as { responses: Array<{ partitions: Array<{ records: Buffer | null }> }> };
      assert.ok(body.responses[0]?.partitions[0]?.records?.equals(broker.fetchRecords), 'the records arrived intact');
      const peak = kafkaPeakBufferedBytes();
      assert.ok(peak < 4 * MiB, `the 12 MiB answer was streamed, peak held ${(peak / MiB).toFixed(2)} MiB`);
    } finally {
      broker.fetchRecords = Buffer.alloc(0);
      client.close();
    }
  });

  test('a client that half-closes gets the answers to what it sent, then the proxy closes', async () => {
    const client = await RawClient.connect(ports['topics']!);
    try {
      broker.produceDelayMs = 100;
      client.socket.end(Buffer.concat([produce(1, ['orders']), produce(2, ['secret'])]));
      assert.equal(await client.closedWithin(5000), true);
      assert.deepEqual(client.frames.map(correlationOf), [1, 2]);
    } finally {
      broker.produceDelayMs = 0;
      client.close();
    }
  });
  test('an answer whose correlation id is not the oldest request\'s closes both sides with an ERROR record', async () => {
    const flows = recordFlows('deny');
    const client = await RawClient.connect(ports['deny']!, CLIENT_WORLD);
    broker.wrongCorrelation = true;
    try {
      client.send(produce(20, ['anything']));
      assert.equal(await client.closedWithin(5000), true);
      assert.equal(client.frames.length, 0, 'the mismatched answer is not passed on');
      const record = (await flows.waitFor((r) => r.type === 'kafka' && r.verdict === 'ERROR')) as KafkaFlowRecord;
      assert.deepEqual([record.reason, record.kafka.correlationId], ['kafka_correlation_mismatch', 20]);
    } finally {
      broker.wrongCorrelation = false;
      client.close();
      flows.stop();
    }
  });

  test('a listener update reaches open connections at their next request; a removed listener answers what is in flight, then closes', async () => {
    const open = await RawClient.connect(ports['topics']!);
    const draining = await RawClient.connect(ports['drained']!);
    try {
      open.send(produce(1, ['secret']));
      assert.deepEqual(produceErrors((await open.responses(1))[0]!), [KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED]);
      broker.produceDelayMs = 300;
      draining.send(produce(1, ['anything']));
      await sleep(50);
      const { drained: _removed, ...rest } = LISTENERS;
      const updated: Record<string, Json> = {
        ...rest,
        topics: { default_deny: true, rules: [{ name: 'orders-and-secret', remotes: { identities: [1001] }, requests: [{ role: 'produce', topic: 'orders' }, { role: 'produce', topic: 'secret' }] }] },
      };
      const version = h.setSnapshot(snapshotOf(updated, broker.port));
      await h.waitForAck(TYPE_URL.listener, version);
      // The request in flight on the removed listener is answered, then the connection closes.
      assert.equal(await draining.closedWithin(5000), true);
      assert.deepEqual(draining.frames.map(correlationOf), [1]);
      // The open connection now runs the new policy.
      broker.produceDelayMs = 0;
      open.send(produce(2, ['secret']));
      const answers = await open.responses(2);
      assert.deepEqual(produceErrors(answers[1]!), [0]);
    } finally {
      broker.produceDelayMs = 0;
      open.close();
      draining.close();
    }
  });
  test('EGRESS: the peer is the original destination (the broker, through the ORIGINAL_DST cluster), not the client', async () => {
    const flows = recordFlows('egress');
    const client = await RawClient.connect(ports['egress']!, CLIENT_B);
    try {
      const before = broker.seen.length;
      client.send(produce(1, ['orders']), produce(2, ['secret']));
      const answers = await client.responses(2);
      assert.deepEqual(answers.map((a) => produceErrors(a)), [[0], [KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED]]);
      assert.deepEqual(
        broker.seen.slice(before).map((f) => f.correlationId),
        [1],
      );
      const record = (await flows.waitFor((r) => r.type === 'kafka' && r.verdict === 'FORWARDED')) as KafkaFlowRecord;
      assert.equal(record.policy, 'to-broker');
      assert.deepEqual([record.destination.ip, record.destination.port, record.destination.identity], ['127.0.0.1', broker.port, 1001]);
      assert.equal(record.source.identity, 1002);
      assert.deepEqual(record.upstream, { cluster: 'original-dst', address: '127.0.0.1', port: broker.port });
    } finally {
      client.close();
      flows.stop();
    }
  });
  test('mutated and random frames never crash the proxy: each is answered or closes its connection (bounded count and time)', async () => {
    // A seeded generator, so a failure replays.
    let seed = 0x6b61666b;
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
      return (seed >>> 0) % n;
    };
    const valid = [produce(1, ['orders']), metadata(2, ['orders']), fetchByName(3, ['orders']), fetchByIds(4, [ORDERS_ID]), produce(5, ['orders', 'secret'], { version: 3 })];
    const deadline = Date.now() + 15_000;
    let sent = 0;
    let closedByProxy = 0;
    for (let i = 0; i < 150 && Date.now() < deadline; i++) {
      const base = Buffer.from(valid[rand(valid.length)]!);
      // Flip a few bytes after the size prefix (the size stays right, so the splitter hands over a whole frame).
      for (let k = 0, flips = 1 + rand(4); k < flips; k++) base[4 + rand(base.length - 4)] = rand(256);
      const client = await RawClient.connect(ports['topics']!);
      try {
        client.send(base, produce(1000 + i, ['orders']));
        sent++;
        // Either both are answered, or the proxy closed the connection: never silence.
        const outcome = await Promise.race([client.closed.then(() => 'closed' as const), client.responses(2, 5000).then(() => 'answered' as const, () => 'silent' as const)]);
        if (outcome === 'silent') assert.equal(await client.closedWithin(500), true, `case ${i}: neither answered nor closed: ${base.toString('hex')}`);
        if (outcome !== 'answered') closedByProxy++;
      } finally {
        client.close();
      }
    }
    assert.ok(sent >= 20, `enough cases ran (${sent})`);
    assert.ok(closedByProxy > 0, 'some mutations were refused');
    const after = await RawClient.connect(ports['topics']!);
    try {
      after.send(produce(1, ['orders']));
      assert.deepEqual((await after.responses(1)).map(correlationOf), [1], 'the proxy still serves');
    } finally {
      after.close();
    }
  });
});
