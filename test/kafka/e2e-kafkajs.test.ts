// kafkajs 2.2.4 through meshd's built-in proxy, under the Empire's Kafka policy (harness.ts): the
// policy is CiliumNetworkPolicy YAML translated for the built-in proxy and served over xDS; the
// broker is the fixture broker; each kafkajs client binds its pod's loopback address, so the proxy
// sees the pod as the peer. Allowed produce and consume (with consumer groups and a rebalance) work
// end to end; every kind of denial (topic, mixed topics, clientID, apiVersion, topicPrefix, groupID)
// makes the client fail at once with the authorization error, well under kafkajs's request timeout,
// and leaves the connection usable (acks=0 excepted: closed, as a broker does); pipelined allowed and
// denied requests each get their own answer; each request yields one flow record.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaFlowRecord } from '../../proxylib/index.js';
import {
  AUDIT,
  HQ,
  KAFKA,
  KAFKA_LEGACY,
  KafkaPolicyHarness,
  LEGACY_CLIENT,
  LEGACY_PRODUCE_VERSION,
  OUTPOST,
  describeFlow,
  empireKafkaPolicy,
  empirePods,
} from './harness.js';
import {
  KAFKAJS_REQUEST_TIMEOUT_MS,
  KAFKA_AUTHORIZATION_ERRORS,
  LOG_LEVEL,
  consumeWithKafkajs,
  kafkaErrorOf,
  logTail,
  newProducer,
  produceWithKafkajs,
  timed,
  withDeadline,
  type KafkajsHandle,
} from './harness-clients.js';

/** Every test is bounded as a whole, whatever a client does (each client run has its own bound too). */
const TEST_TIMEOUT_MS = 90_000;
/** "At once": a denial must come back in well under kafkajs's 30 s request timeout. */
const AT_ONCE_MS = 3000;
const API = { Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3, OffsetCommit: 8, OffsetFetch: 9, FindCoordinator: 10, JoinGroup: 11, Heartbeat: 12, LeaveGroup: 13, SyncGroup: 14, ApiVersions: 18 } as const;

const messages = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}-k${i}`, value: `${prefix}-v${i}` }));

/** Asserts a kafkajs failure carries the authorization error `type` and came well under the request timeout. */
function assertDeniedAtOnce(outcome: { ms: number; error?: unknown }, types: readonly string[], what: string, client: KafkajsHandle): void {
  assert.ok(outcome.error !== undefined, `${what}: the client must fail, it succeeded`);
  const info = kafkaErrorOf(outcome.error);
  assert.ok(
    info.protocol !== undefined && types.includes(info.protocol.type),
    `${what}: expected ${types.join(' or ')}, got ${info.name}: ${info.message} (protocol error ${JSON.stringify(info.protocol)})\nkafkajs log:\n${logTail(client)}`,
  );
  assert.equal(info.protocol.code, KAFKA_AUTHORIZATION_ERRORS[info.protocol.type as keyof typeof KAFKA_AUTHORIZATION_ERRORS]);
  assert.equal(info.protocol.name, 'KafkaJSProtocolError');
  assert.ok(outcome.ms < AT_ONCE_MS, `${what}: failed after ${outcome.ms.toFixed(0)} ms, not at once (request timeout ${KAFKAJS_REQUEST_TIMEOUT_MS} ms)`);
}

describe('kafkajs through the built-in proxy under a CiliumNetworkPolicy with kafka rules', () => {
  let h: KafkaPolicyHarness;
  before(async () => {
    h = await KafkaPolicyHarness.start({
      policies: (port) => [empireKafkaPolicy(port)],
      pods: empirePods(201),
      brokers: [{ pod: KAFKA, options: { topics: [{ name: 'empire-announce', partitions: 2 }] } }, { pod: KAFKA_LEGACY, options: { maxVersions: { [API.Produce]: LEGACY_PRODUCE_VERSION } } }],
    });
  });
  after(async () => {
    await h?.close();
  });

  test('an allowed producer writes and a consumer group reads the records back end to end', { timeout: TEST_TIMEOUT_MS }, async () => {
    const producer = h.kafkajs(KAFKA, HQ, { clientId: 'hq-producer' });
    const sent = messages('plans', 5);
    const produced = await timed(() => produceWithKafkajs(producer, [{ topic: 'deathstar-plans', messages: sent }]));
    assert.equal(produced.error, undefined, `hq produces to deathstar-plans: ${kafkaErrorOf(produced.error).message}\n${logTail(producer)}`);
    const stored = h.broker(KAFKA).records('deathstar-plans');
    assert.deepEqual(stored.slice(-5).map((r) => r.value?.toString()), sent.map((m) => m.value), 'the broker stored what was produced, in order');

    const consumer = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-consumer' });
    const seenBefore = h.broker(KAFKA).requestsSeen().length;
    const consumed = await consumeWithKafkajs(consumer, { groupId: 'outposts', topic: 'deathstar-plans', count: stored.length, timeoutMs: 20_000 });
    assert.equal(consumed.crash, undefined, `the consumer must not crash: ${kafkaErrorOf(consumed.crash?.error).message}\n${logTail(consumer)}`);
    assert.deepEqual(consumed.messages.slice(-5).map((m) => m.value), sent.map((m) => m.value), `the group consumer read the records back\n${logTail(consumer)}`);
    const keys = new Set(h.broker(KAFKA).requestsSeen().slice(seenBefore).filter((r) => r.clientId === 'outpost-consumer').map((r) => r.apiKey));
    for (const k of [API.FindCoordinator, API.JoinGroup, API.SyncGroup, API.OffsetFetch, API.Fetch]) {
      assert.ok(keys.has(k), `the group protocol went through the proxy: api key ${k} reached the broker (saw ${[...keys].sort((a, b) => a - b).join(',')})`);
    }
  });

  test('two consumers in one group share the partitions and rebalance through the proxy', { timeout: TEST_TIMEOUT_MS }, async () => {
    // empire-announce has two partitions (broker option): outposts post, headquarters reads it in
    // group hq-readers. Member a runs alone first; member b joins while a runs, so the group
    // rebalances and a joins again — every step through the proxy.
    const producer = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-announcer' });
    const produced = await timed(() => produceWithKafkajs(producer, [{ topic: 'empire-announce', messages: messages('announce', 6) }]));
    assert.equal(produced.error, undefined, `produce: ${kafkaErrorOf(produced.error).message}\n${logTail(producer)}`);
    const a = h.kafkajs(KAFKA, HQ, { clientId: 'hq-reader-a' });
    const b = h.kafkajs(KAFKA, HQ, { clientId: 'hq-reader-b' });
    const seenBefore = h.broker(KAFKA).requestsSeen().length;
    // Counts no run reaches: each member runs until its deadline, then leaves the group.
    const first = consumeWithKafkajs(a, { groupId: 'hq-readers', topic: 'empire-announce', count: 1_000_000, timeoutMs: 7000 });
    await sleep(2000);
    const second = consumeWithKafkajs(b, { groupId: 'hq-readers', topic: 'empire-announce', count: 1_000_000, timeoutMs: 4000 });
    const [ra, rb] = await Promise.all([first, second]);
    assert.equal(ra.crash, undefined, `member a: ${kafkaErrorOf(ra.crash?.error).message}\n${logTail(a)}`);
    assert.equal(rb.crash, undefined, `member b: ${kafkaErrorOf(rb.crash?.error).message}\n${logTail(b)}`);
    assert.ok(ra.messages.length + rb.messages.length >= 6, `the group read what was posted (a ${ra.messages.length}, b ${rb.messages.length})`);
    const joins = h.broker(KAFKA).requestsSeen().slice(seenBefore).filter((r) => r.apiKey === API.JoinGroup);
    assert.ok(joins.some((r) => r.clientId === 'hq-reader-a') && joins.some((r) => r.clientId === 'hq-reader-b'), `both members joined the group through the proxy (JoinGroup from ${joins.map((r) => r.clientId).join(',')})`);
    assert.ok(joins.filter((r) => r.clientId === 'hq-reader-a').length >= 2, `member a joined again when b arrived (a rebalance): ${joins.map((r) => r.clientId).join(',')}`);
  });

  test('producing to a topic the peer may only consume fails at once with TOPIC_AUTHORIZATION_FAILED, and the connection stays usable', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-producer' });
    const producer = newProducer(client);
    const before = h.broker(KAFKA).records('deathstar-plans').length;
    const mark = h.flows.length;
    try {
      await withDeadline(producer.connect(), 10_000, 'producer connect');
      const denied = await timed(() => withDeadline(producer.send({ topic: 'deathstar-plans', messages: [{ value: 'forged plans' }], acks: -1 }), 10_000, 'denied send'));
      assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED'], 'outpost → Produce deathstar-plans', client);
      assert.equal(h.broker(KAFKA).records('deathstar-plans').length, before, 'nothing reached the topic');
      // Same producer, same connection: an allowed topic still works after the denial.
      const allowed = await timed(() => withDeadline(producer.send({ topic: 'empire-announce', messages: [{ value: 'all hail' }], acks: -1 }), 10_000, 'allowed send'));
      assert.equal(allowed.error, undefined, `the connection stays open and serves the next request: ${kafkaErrorOf(allowed.error).message}\n${logTail(client)}`);
    } finally {
      await withDeadline(producer.disconnect(), 5000, 'producer disconnect').catch(() => {});
    }
    const flows = await h.flowsUntil(mark, (f) => f.filter((x) => x.kafka.apiKey === API.Produce && x.kafka.clientId === 'outpost-producer').length >= 2);
    const produces = flows.filter((f) => f.kafka.apiKey === API.Produce && f.kafka.clientId === 'outpost-producer');
    assert.equal(produces.length, 2, `two Produce flow records: ${flows.map(describeFlow).join('\n')}`);
    const [deniedFlow, allowedFlow] = produces as [KafkaFlowRecord, KafkaFlowRecord];
    assert.equal(deniedFlow.verdict, 'DENIED');
    assert.equal(allowedFlow.verdict, 'FORWARDED');
    assert.equal(deniedFlow.source.port, allowedFlow.source.port, 'the denial did not close the connection: both Produce requests came on one connection');
  });

  test('pipelined allowed and denied produce requests on one connection each get their own answer', { timeout: TEST_TIMEOUT_MS }, async () => {
    // hq may produce deathstar-plans and only consume empire-announce (so Metadata for both is
    // allowed). Sends run concurrently on one producer: kafkajs pipelines them on one connection,
    // and the proxy must answer the denied ones itself while the allowed ones go to the broker.
    const client = h.kafkajs(KAFKA, HQ, { clientId: 'hq-pipeline' });
    const producer = newProducer(client);
    const plansBefore = h.broker(KAFKA).records('deathstar-plans').length;
    const mark = h.flows.length;
    try {
      await withDeadline(producer.connect(), 10_000, 'producer connect');
      // Warm the metadata of both topics, so the sends below are produce requests only.
      await withDeadline(producer.send({ topic: 'deathstar-plans', messages: [{ value: 'pipeline-warm' }] }), 10_000, 'warm-up send');
      await timed(() => withDeadline(producer.send({ topic: 'empire-announce', messages: [{ value: 'x' }] }), 10_000, 'warm-up denied send'));
      const plan = Array.from({ length: 24 }, (_, i) => (i % 3 === 2 ? 'empire-announce' : 'deathstar-plans'));
      const outcomes = await withDeadline(
        Promise.all(plan.map((topic, i) => timed(() => producer.send({ topic, messages: [{ value: `pipeline-${i}` }], acks: -1 })))),
        15_000,
        'pipelined sends',
      );
      outcomes.forEach((o, i) => {
        if (plan[i] === 'deathstar-plans') assert.equal(o.error, undefined, `send ${i} (allowed) succeeds: ${kafkaErrorOf(o.error).message}`);
        else assert.equal(kafkaErrorOf(o.error).protocol?.type, 'TOPIC_AUTHORIZATION_FAILED', `send ${i} (denied) gets its own authorization error`);
      });
    } finally {
      await withDeadline(producer.disconnect(), 5000, 'producer disconnect').catch(() => {});
    }
    const stored = h.broker(KAFKA).records('deathstar-plans').slice(plansBefore).map((r) => r.value?.toString());
    assert.deepEqual(
      [...stored].sort(),
      ['pipeline-warm', ...Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 3 !== 2).map((i) => `pipeline-${i}`)].sort(),
      'the broker got every allowed request and none of the denied',
    );
    const produces = (await h.flowsUntil(mark, (f) => f.filter((x) => x.kafka.clientId === 'hq-pipeline' && x.kafka.apiKey === API.Produce).length >= 26)).filter(
      (x) => x.kafka.clientId === 'hq-pipeline' && x.kafka.apiKey === API.Produce,
    );
    assert.equal(produces.length, 26, 'one flow record per produce request');
    assert.equal(new Set(produces.map((f) => f.source.port)).size, 1, 'all of them on one connection');
    assert.equal(produces.filter((f) => f.verdict === 'DENIED').length, 9);
  });

  test('acks=0 produce: allowed records are stored, a denied one closes the connection as a broker would', { timeout: TEST_TIMEOUT_MS }, async () => {
    // With acks=0 the client expects no answer, so the proxy cannot send an error; Kafka's broker
    // closes the connection on an acks=0 error, and so does the proxy. kafkajs reconnects.
    const hq = h.kafkajs(KAFKA, HQ, { clientId: 'hq-acks0' });
    const sent = await timed(() => produceWithKafkajs(hq, [{ topic: 'deathstar-plans', messages: [{ value: 'fire-and-forget' }] }], { acks: 0 }));
    assert.equal(sent.error, undefined, `acks=0 produce: ${kafkaErrorOf(sent.error).message}`);
    const stored = await (async () => {
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && h.broker(KAFKA).records('deathstar-plans').at(-1)?.value?.toString() !== 'fire-and-forget') await sleep(20);
      return h.broker(KAFKA).records('deathstar-plans').at(-1)?.value?.toString();
    })();
    assert.equal(stored, 'fire-and-forget', 'the allowed acks=0 record reached the broker');

    const client = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-acks0' });
    const producer = newProducer(client);
    const mark = h.flows.length;
    try {
      await withDeadline(producer.connect(), 10_000, 'producer connect');
      await withDeadline(producer.send({ topic: 'deathstar-plans', messages: [{ value: 'forged, unacknowledged' }], acks: 0 }), 10_000, 'denied acks=0 send');
      // The next request finds the connection closed; kafkajs reconnects and it goes through.
      const next = await timed(() => withDeadline(producer.send({ topic: 'empire-announce', messages: [{ value: 'after acks=0' }], acks: -1 }), 15_000, 'send after the close'));
      assert.equal(next.error, undefined, `kafkajs reconnects after the close: ${kafkaErrorOf(next.error).message}\n${logTail(client)}`);
    } finally {
      await withDeadline(producer.disconnect(), 5000, 'producer disconnect').catch(() => {});
    }
    assert.notEqual(h.broker(KAFKA).records('deathstar-plans').at(-1)?.value?.toString(), 'forged, unacknowledged');
    const produces = (await h.flowsUntil(mark, (f) => f.filter((x) => x.kafka.clientId === 'outpost-acks0' && x.kafka.apiKey === API.Produce).length >= 2)).filter(
      (x) => x.kafka.clientId === 'outpost-acks0' && x.kafka.apiKey === API.Produce,
    );
    const denied = produces.find((f) => f.verdict === 'DENIED');
    const allowed = produces.find((f) => f.verdict === 'FORWARDED');
    assert.ok(denied && allowed, `a DENIED and a FORWARDED Produce record: ${produces.map(describeFlow).join('\n')}`);
    assert.notEqual(allowed.source.port, denied.source.port, 'the denied acks=0 request closed its connection: the next one came on a new one');
  });

  test('a topic no rule names fails at once (Metadata is denied with TOPIC_AUTHORIZATION_FAILED)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = h.kafkajs(KAFKA, HQ, { clientId: 'hq-producer-3' });
    const denied = await timed(() => produceWithKafkajs(client, [{ topic: 'rebel-base-coordinates', messages: [{ value: 'x' }] }]));
    assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED'], 'hq → rebel-base-coordinates', client);
    assert.equal(h.broker(KAFKA).records('rebel-base-coordinates').length, 0, 'nothing reached (or created) the topic');
  });

  test('a produce request to two topics, one of them denied, is denied as a whole (sendBatch)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = h.kafkajs(KAFKA, HQ, { clientId: 'hq-batch' });
    // hq may produce deathstar-plans and only consume empire-announce: Metadata for both is allowed
    // (produce and consume both include Metadata), so the Produce request itself is what is decided.
    const plansBefore = h.broker(KAFKA).records('deathstar-plans').length;
    const announceBefore = h.broker(KAFKA).records('empire-announce').length;
    const mark = h.flows.length;
    const denied = await timed(() =>
      produceWithKafkajs(client, [
        { topic: 'deathstar-plans', messages: [{ value: 'batched plans' }] },
        { topic: 'empire-announce', messages: [{ value: 'forged announcement' }] },
      ]),
    );
    assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED'], 'hq → sendBatch(deathstar-plans, empire-announce)', client);
    assert.equal(h.broker(KAFKA).records('deathstar-plans').length, plansBefore, 'the allowed topic got nothing either: the whole request was denied');
    assert.equal(h.broker(KAFKA).records('empire-announce').length, announceBefore, 'the denied topic got nothing');
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.kafka.apiKey === API.Produce && x.kafka.clientId === 'hq-batch'));
    const produce = flows.filter((f) => f.kafka.apiKey === API.Produce && f.kafka.clientId === 'hq-batch');
    assert.equal(produce.length, 1, `one Produce request, one flow record: ${flows.map(describeFlow).join('\n')}`);
    assert.equal(produce[0]!.verdict, 'DENIED');
    assert.deepEqual([...produce[0]!.kafka.topics].sort(), ['deathstar-plans', 'empire-announce']);
    assert.equal(produce[0]!.kafka.errorCode, KAFKA_AUTHORIZATION_ERRORS.TOPIC_AUTHORIZATION_FAILED);
  });

  test('a clientID rule allows its client id and denies any other at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const good = h.kafkajs(KAFKA, AUDIT, { clientId: 'imperial-auditor' });
    const ok = await timed(() => produceWithKafkajs(good, [{ topic: 'audit-log', messages: [{ value: 'inspection passed' }] }]));
    assert.equal(ok.error, undefined, `client id imperial-auditor produces: ${kafkaErrorOf(ok.error).message}\n${logTail(good)}`);
    assert.equal(h.broker(KAFKA).records('audit-log').at(-1)?.value?.toString(), 'inspection passed');

    const rogue = h.kafkajs(KAFKA, AUDIT, { clientId: 'rogue-auditor' });
    const mark = h.flows.length;
    const denied = await timed(() => produceWithKafkajs(rogue, [{ topic: 'audit-log', messages: [{ value: 'cover-up' }] }]));
    // Every request of the rogue id is denied, the first one (ApiVersions) included: the client
    // fails at its first request, with whatever authorization error that API carries.
    assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED'], 'client id rogue-auditor', rogue);
    assert.notEqual(h.broker(KAFKA).records('audit-log').at(-1)?.value?.toString(), 'cover-up');
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.kafka.clientId === 'rogue-auditor'));
    const rogueFlows = flows.filter((f) => f.kafka.clientId === 'rogue-auditor');
    assert.ok(rogueFlows.length > 0 && rogueFlows.every((f) => f.verdict === 'DENIED'), `every request of the rogue id was denied: ${rogueFlows.map(describeFlow).join('\n')}`);
  });

  test('an apiVersion rule allows Produce at its version and denies another version at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The legacy broker caps Produce at the rule's version, so kafkajs negotiates it there; the
    // current broker offers more, and kafkajs picks its own maximum (v7), which the rule denies.
    const legacy = h.kafkajs(KAFKA_LEGACY, LEGACY_CLIENT, { clientId: 'legacy-writer' });
    const seenBefore = h.broker(KAFKA_LEGACY).requestsSeen().length;
    const ok = await timed(() => produceWithKafkajs(legacy, [{ topic: 'legacy-orders', messages: [{ value: 'order 66' }] }]));
    assert.equal(ok.error, undefined, `Produce v${LEGACY_PRODUCE_VERSION} is allowed: ${kafkaErrorOf(ok.error).message}\n${logTail(legacy)}`);
    const produces = h.broker(KAFKA_LEGACY).requestsSeen().slice(seenBefore).filter((r) => r.apiKey === API.Produce);
    assert.deepEqual([...new Set(produces.map((r) => r.apiVersion))], [LEGACY_PRODUCE_VERSION], 'the broker got Produce at the rule\'s version');

    const modern = h.kafkajs(KAFKA, LEGACY_CLIENT, { clientId: 'legacy-writer' });
    const mark = h.flows.length;
    const denied = await timed(() => produceWithKafkajs(modern, [{ topic: 'legacy-orders', messages: [{ value: 'order 67' }] }]));
    assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED'], `Produce above v${LEGACY_PRODUCE_VERSION}`, modern);
    assert.equal(h.broker(KAFKA).records('legacy-orders').length, 0);
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.kafka.apiKey === API.Produce));
    const produce = flows.find((f) => f.kafka.apiKey === API.Produce);
    assert.ok(produce && produce.verdict === 'DENIED' && produce.kafka.apiVersion !== LEGACY_PRODUCE_VERSION, `the denied Produce's flow record: ${flows.map(describeFlow).join('\n')}`);
  });

  test('a topicPrefix rule allows the topics under the prefix and denies the others at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = h.kafkajs(KAFKA, HQ, { clientId: 'hq-fleet' });
    const ok = await timed(() => produceWithKafkajs(client, [{ topic: 'fleet.tie-fighters', messages: [{ value: 'launched' }] }]));
    assert.equal(ok.error, undefined, `fleet.tie-fighters is under the prefix fleet.: ${kafkaErrorOf(ok.error).message}\n${logTail(client)}`);
    assert.equal(h.broker(KAFKA).records('fleet.tie-fighters').at(-1)?.value?.toString(), 'launched');
    for (const topic of ['fleetwide', 'rebel.fleet.x-wings']) {
      const other = h.kafkajs(KAFKA, HQ, { clientId: `hq-${topic}` });
      const denied = await timed(() => produceWithKafkajs(other, [{ topic, messages: [{ value: 'x' }] }]));
      assertDeniedAtOnce(denied, ['TOPIC_AUTHORIZATION_FAILED'], `${topic} is not under fleet.`, other);
    }
  });

  test('a groupID rule lets its group consume and stops another group at once with GROUP_AUTHORIZATION_FAILED', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The allowed group is exercised by the first test (outposts); here the other group.
    const client = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-rebel-group', logLevel: LOG_LEVEL.DEBUG });
    const mark = h.flows.length;
    const started = performance.now();
    const outcome = await consumeWithKafkajs(client, { groupId: 'rebels', topic: 'deathstar-plans', count: 1, timeoutMs: 10_000 });
    const elapsed = performance.now() - started;
    assert.equal(outcome.messages.length, 0, 'the rebels group read nothing');
    assert.ok(outcome.crash, `the consumer stopped with an error within the bound (${elapsed.toFixed(0)} ms)\n${logTail(client)}`);
    assert.equal(outcome.crash.restart, false, 'kafkajs does not retry an authorization failure');
    assert.ok(outcome.crash.afterMs < AT_ONCE_MS, `it stopped after ${outcome.crash.afterMs.toFixed(0)} ms, not at once`);
    // kafkajs reports a failed FindCoordinator as KafkaJSGroupCoordinatorNotFound and logs the
    // broker's error code; the authorization error is in its log and in the proxy's flow record.
    const logged = client.logs.some((l) => /GROUP_AUTHORIZATION_FAILED|Group authorization failed|Not authorized to access group/i.test(`${l.message} ${l.error ?? ''} ${JSON.stringify(l.extra)}`));
    const info = kafkaErrorOf(outcome.crash.error);
    assert.ok(logged || info.protocol?.type === 'GROUP_AUTHORIZATION_FAILED', `the client saw GROUP_AUTHORIZATION_FAILED (crash: ${info.name}: ${info.message})\n${logTail(client, 30)}`);
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.verdict === 'DENIED' && x.kafka.groups.includes('rebels')));
    const deniedGroup = flows.find((f) => f.verdict === 'DENIED' && f.kafka.groups.includes('rebels'));
    assert.ok(deniedGroup, `a DENIED flow record names the group: ${flows.map(describeFlow).join('\n')}`);
    assert.equal(deniedGroup.kafka.errorCode, KAFKA_AUTHORIZATION_ERRORS.GROUP_AUTHORIZATION_FAILED);
  });

  test('every request yields one flow record with its topics, groups, verdict and deciding rule', { timeout: TEST_TIMEOUT_MS }, async () => {
    const flowMark = h.flows.length;
    const seenMark = h.broker(KAFKA).requestsSeen().length;
    const producer = h.kafkajs(KAFKA, HQ, { clientId: 'hq-flows' });
    const produced = await timed(() => produceWithKafkajs(producer, [{ topic: 'deathstar-plans', messages: messages('flows', 3) }]));
    assert.equal(produced.error, undefined, `produce: ${kafkaErrorOf(produced.error).message}`);
    // Group outposts resumes at the offset it committed in an earlier test and reads on to the new three.
    const consumer = h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-flows' });
    const consumed = await consumeWithKafkajs(consumer, { groupId: 'outposts', topic: 'deathstar-plans', count: 1_000_000, until: (m) => m.at(-1)?.value === 'flows-v2', timeoutMs: 20_000 });
    assert.equal(consumed.crash, undefined, `consume: ${kafkaErrorOf(consumed.crash?.error).message}`);
    assert.deepEqual(consumed.messages.slice(-3).map((m) => m.value), messages('flows', 3).map((m) => m.value), `the group read the new records\n${logTail(consumer)}`);
    const denied = await timed(() => produceWithKafkajs(h.kafkajs(KAFKA, OUTPOST, { clientId: 'outpost-flows-denied' }), [{ topic: 'deathstar-plans', messages: [{ value: 'x' }] }]));
    assert.ok(denied.error, 'the outpost may not produce the plans');

    // Every request the broker saw came with exactly one FORWARDED record of the same API, version
    // and client id; every DENIED record is a request the broker never saw.
    const ours = (f: KafkaFlowRecord) => ['hq-flows', 'outpost-flows', 'outpost-flows-denied'].includes(f.kafka.clientId ?? '');
    const seenOf = () => h.broker(KAFKA).requestsSeen().slice(seenMark).filter((r) => ['hq-flows', 'outpost-flows', 'outpost-flows-denied'].includes(r.clientId ?? ''));
    const flows = (await h.flowsUntil(flowMark, (f) => f.filter((x) => ours(x) && x.verdict === 'FORWARDED').length >= seenOf().length)).filter(ours);
    const seen = seenOf();
    const key = (x: { apiKey: number; apiVersion: number; clientId: string | null }) => `${x.clientId} ${x.apiKey} v${x.apiVersion}`;
    const count = (keys: string[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
    const forwarded = flows.filter((f) => f.verdict === 'FORWARDED');
    assert.deepEqual(
      [...count(forwarded.map((f) => key({ apiKey: f.kafka.apiKey, apiVersion: f.kafka.apiVersion, clientId: f.kafka.clientId }))).entries()].sort(),
      [...count(seen.map(key)).entries()].sort(),
      'one FORWARDED flow record per request the broker received',
    );
    for (const f of forwarded) {
      assert.ok(f.policy?.includes('empire-kafka'), `a forwarded record names the deciding rule of empire-kafka: ${describeFlow(f)}`);
      assert.equal(f.destination.ip, h.ipOf(KAFKA));
      assert.equal(f.destination.port, h.brokerPort);
      assert.equal(f.source.identity, h.identityOf(f.kafka.clientId === 'hq-flows' ? HQ : OUTPOST), `the peer's identity: ${describeFlow(f)}`);
    }
    const produceFlow = forwarded.find((f) => f.kafka.apiKey === API.Produce && f.kafka.clientId === 'hq-flows');
    assert.deepEqual(produceFlow?.kafka.topics, ['deathstar-plans'], 'the Produce record has its topic');
    for (const k of [API.FindCoordinator, API.JoinGroup, API.SyncGroup, API.OffsetFetch]) {
      const f = forwarded.find((x) => x.kafka.apiKey === k && x.kafka.clientId === 'outpost-flows');
      assert.deepEqual(f?.kafka.groups, ['outposts'], `the ${f?.kafka.apiName ?? `api key ${k}`} record has the group`);
    }
    const deniedFlows = flows.filter((f) => f.verdict === 'DENIED');
    assert.equal(deniedFlows.length, 1, `one denied request, one DENIED record: ${deniedFlows.map(describeFlow).join('\n')}`);
    const d = deniedFlows[0]!;
    assert.equal(d.kafka.apiKey, API.Produce);
    assert.deepEqual(d.kafka.topics, ['deathstar-plans']);
    assert.equal(d.kafka.errorCode, KAFKA_AUTHORIZATION_ERRORS.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(d.reason, 'kafka_denied_topic');
    assert.equal(d.source.identity, h.identityOf(OUTPOST));
  });
});
