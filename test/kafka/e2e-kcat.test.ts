// kcat 1.7.1 (librdkafka 2.0.2) through meshd's built-in proxy, under the Empire's Kafka policy
// (harness.ts). kcat cannot bind a source address, so every kcat connection comes from 127.0.0.1 and
// the harness's identity resolver maps 127.0.0.1 to the client pod a test plays (loopbackPlays):
// the policies are ingress policies on the broker pods, whose peer is the connection's source.
// Allowed produce and consume (simple and group consumers) work end to end; denials make kcat
// report librdkafka's authorization error at once — well under librdkafka's request timeout
// (request.timeout.ms 30 s) and socket timeout (socket.timeout.ms 60 s); flow records, one per request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
  KAFKA_AUTHORIZATION_ERRORS,
  KCAT_AUTHORIZATION_TEXT,
  describeKcat,
  kcatConsume,
  kcatConsumeGroup,
  kcatProduce,
  parseKcatMessages,
  requireKcat,
  type KcatRun,
} from './harness-clients.js';

/** Every test is bounded as a whole, whatever a client does (each client run has its own bound too). */
const TEST_TIMEOUT_MS = 90_000;
/** "At once" for kcat: its own start-up included, far under librdkafka's 30 s request timeout. */
const AT_ONCE_MS = 5000;
const API = { Produce: 0, Fetch: 1, Metadata: 3, OffsetFetch: 9, FindCoordinator: 10, JoinGroup: 11, SyncGroup: 14 } as const;

function assertKcatOk(run: KcatRun, what: string): void {
  assert.ok(!run.timedOut && run.code === 0, `${what}: kcat must succeed\n${describeKcat(run)}`);
}

function assertKcatDeniedAtOnce(run: KcatRun, what: string, text: RegExp = KCAT_AUTHORIZATION_TEXT): void {
  assert.ok(!run.timedOut, `${what}: kcat must fail at once, it ran into the test's timeout\n${describeKcat(run)}`);
  // A producer exits non-zero once its messages failed; a group consumer is stopped by the test
  // as soon as it reported the error (it would keep retrying).
  if (!run.stoppedOnMatch) assert.notEqual(run.code, 0, `${what}: kcat exits with an error status\n${describeKcat(run)}`);
  assert.match(run.stderr, text, `${what}: kcat reports the authorization error\n${describeKcat(run)}`);
  assert.ok(run.elapsedMs < AT_ONCE_MS, `${what}: reported after ${run.elapsedMs.toFixed(0)} ms, not at once\n${describeKcat(run)}`);
}

describe('kcat (librdkafka) through the built-in proxy under a CiliumNetworkPolicy with kafka rules', () => {
  let h: KafkaPolicyHarness;
  before(async () => {
    requireKcat();
    h = await KafkaPolicyHarness.start({
      policies: (port) => [empireKafkaPolicy(port)],
      pods: empirePods(202),
      // Consumers do not create topics: the mixed-topic consumer needs both to exist.
      brokers: [{ pod: KAFKA, options: { topics: [{ name: 'deathstar-plans', partitions: 1 }, { name: 'empire-announce', partitions: 1 }] } }, { pod: KAFKA_LEGACY, options: { maxVersions: { [API.Produce]: LEGACY_PRODUCE_VERSION } } }],
    });
  });
  after(async () => {
    await h?.close();
  });

  test('kcat produces, then a simple consumer and a group consumer read the records back end to end', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(HQ);
    const lines = ['k1:tarkin', 'k2:vader', 'k3:krennic'];
    const produced = await kcatProduce(h.bootstrap(KAFKA), 'hq-kcat', 'deathstar-plans', lines);
    assertKcatOk(produced, 'hq produces deathstar-plans');
    assert.deepEqual(h.broker(KAFKA).records('deathstar-plans').map((r) => `${r.key?.toString()}:${r.value?.toString()}`), lines, 'the broker stored what kcat produced');

    h.loopbackPlays(OUTPOST);
    const simple = await kcatConsume(h.bootstrap(KAFKA), 'outpost-kcat', 'deathstar-plans');
    assertKcatOk(simple, 'outpost reads deathstar-plans (simple consumer)');
    assert.deepEqual(parseKcatMessages(simple.stdout).map((m) => `${m.key}:${m.value}`), lines);

    const seenBefore = h.broker(KAFKA).requestsSeen().length;
    const group = await kcatConsumeGroup(h.bootstrap(KAFKA), 'outpost-kcat-group', 'outposts', 'deathstar-plans', lines.length);
    assertKcatOk(group, 'outpost reads deathstar-plans in group outposts');
    assert.deepEqual(parseKcatMessages(group.stdout).map((m) => `${m.key}:${m.value}`), lines);
    const keys = new Set(h.broker(KAFKA).requestsSeen().slice(seenBefore).filter((r) => r.clientId === 'outpost-kcat-group').map((r) => r.apiKey));
    for (const k of [API.FindCoordinator, API.JoinGroup, API.SyncGroup, API.OffsetFetch, API.Fetch]) {
      assert.ok(keys.has(k), `the group protocol went through the proxy: api key ${k} reached the broker (saw ${[...keys].sort((a, b) => a - b).join(',')})`);
    }
  });

  test('producing to a topic the peer may only consume fails at once with Topic authorization failed', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(OUTPOST);
    const before = h.broker(KAFKA).records('deathstar-plans').length;
    const run = await kcatProduce(h.bootstrap(KAFKA), 'outpost-kcat-producer', 'deathstar-plans', ['x:forged plans']);
    assertKcatDeniedAtOnce(run, 'outpost → Produce deathstar-plans', /Broker: Topic authorization failed/i);
    assert.equal(h.broker(KAFKA).records('deathstar-plans').length, before, 'nothing reached the topic');
  });

  test('a topic no rule names fails at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(HQ);
    const run = await kcatProduce(h.bootstrap(KAFKA), 'hq-kcat-rebel', 'rebel-base-coordinates', ['x:y']);
    assertKcatDeniedAtOnce(run, 'hq → rebel-base-coordinates', /Topic authorization failed/i);
    assert.equal(h.broker(KAFKA).records('rebel-base-coordinates').length, 0);
  });

  test('a group consumer of two topics, one of them denied, has its mixed requests denied as a whole', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The outpost may consume deathstar-plans and produce empire-announce: Metadata for both topics
    // is allowed, but a consumer request naming both (OffsetFetch, Fetch) is not covered for
    // empire-announce, so the whole request is denied — deathstar-plans included.
    h.loopbackPlays(OUTPOST);
    const mark = h.flows.length;
    const run = await kcatConsumeGroup(h.bootstrap(KAFKA), 'outpost-kcat-mixed', 'outposts', ['deathstar-plans', 'empire-announce'], 1000, {
      timeoutMs: 15_000,
      until: (_out, err) => KCAT_AUTHORIZATION_TEXT.test(err),
    });
    assertKcatDeniedAtOnce(run, 'outpost → group consumer of deathstar-plans + empire-announce');
    const ours = (x: KafkaFlowRecord) => x.kafka.clientId === 'outpost-kcat-mixed';
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => ours(x) && x.verdict === 'DENIED' && x.kafka.topics.length === 2));
    const denied = flows.find((x) => ours(x) && x.verdict === 'DENIED' && x.kafka.topics.length === 2);
    assert.ok(denied, `a request naming both topics was denied as a whole: ${flows.filter(ours).map(describeFlow).join('\n')}`);
    assert.deepEqual([...denied.kafka.topics].sort(), ['deathstar-plans', 'empire-announce']);
    assert.equal(denied.kafka.errorCode, KAFKA_AUTHORIZATION_ERRORS.TOPIC_AUTHORIZATION_FAILED);
    // Nothing of either topic was read through a request that names both.
    assert.ok(!flows.some((x) => ours(x) && x.verdict === 'FORWARDED' && x.kafka.topics.includes('empire-announce') && x.kafka.apiKey !== API.Metadata), 'no request naming empire-announce besides Metadata was forwarded');
  });

  test('a clientID rule allows its client id and denies any other at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(AUDIT);
    const ok = await kcatProduce(h.bootstrap(KAFKA), 'imperial-auditor', 'audit-log', ['k:kcat inspection']);
    assertKcatOk(ok, 'client.id imperial-auditor produces audit-log');
    assert.equal(h.broker(KAFKA).records('audit-log').at(-1)?.value?.toString(), 'kcat inspection');
    const mark = h.flows.length;
    const rogue = await kcatProduce(h.bootstrap(KAFKA), 'rogue-auditor', 'audit-log', ['k:kcat cover-up']);
    assertKcatDeniedAtOnce(rogue, 'client.id rogue-auditor');
    assert.notEqual(h.broker(KAFKA).records('audit-log').at(-1)?.value?.toString(), 'kcat cover-up');
    const flows = (await h.flowsUntil(mark, (f) => f.some((x) => x.kafka.clientId === 'rogue-auditor'))).filter((x) => x.kafka.clientId === 'rogue-auditor');
    assert.ok(flows.length > 0 && flows.every((f) => f.verdict === 'DENIED'), `every request of the rogue id was denied: ${flows.map(describeFlow).join('\n')}`);
  });

  test('an apiVersion rule allows Produce at its version and denies librdkafka\'s newer one at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(LEGACY_CLIENT);
    const seenBefore = h.broker(KAFKA_LEGACY).requestsSeen().length;
    const ok = await kcatProduce(h.bootstrap(KAFKA_LEGACY), 'legacy-kcat', 'legacy-orders', ['k:order 66']);
    assertKcatOk(ok, `Produce v${LEGACY_PRODUCE_VERSION} to the legacy broker`);
    const produces = h.broker(KAFKA_LEGACY).requestsSeen().slice(seenBefore).filter((r) => r.apiKey === API.Produce);
    assert.deepEqual([...new Set(produces.map((r) => r.apiVersion))], [LEGACY_PRODUCE_VERSION]);
    const mark = h.flows.length;
    const denied = await kcatProduce(h.bootstrap(KAFKA), 'legacy-kcat', 'legacy-orders', ['k:order 67']);
    assertKcatDeniedAtOnce(denied, `Produce above v${LEGACY_PRODUCE_VERSION}`);
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.kafka.apiKey === API.Produce));
    const produce = flows.find((x) => x.kafka.apiKey === API.Produce);
    assert.ok(produce && produce.verdict === 'DENIED' && produce.kafka.apiVersion > LEGACY_PRODUCE_VERSION, `the denied Produce: ${flows.map(describeFlow).join('\n')}`);
  });

  test('a topicPrefix rule allows the topics under the prefix and denies the others at once', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(HQ);
    const ok = await kcatProduce(h.bootstrap(KAFKA), 'hq-kcat-fleet', 'fleet.star-destroyers', ['k:deployed']);
    assertKcatOk(ok, 'fleet.star-destroyers is under fleet.');
    assert.equal(h.broker(KAFKA).records('fleet.star-destroyers').at(-1)?.value?.toString(), 'deployed');
    const denied = await kcatProduce(h.bootstrap(KAFKA), 'hq-kcat-fleet', 'fleetwide', ['k:x']);
    assertKcatDeniedAtOnce(denied, 'fleetwide is not under fleet.', /Topic authorization failed/i);
  });

  test('a groupID rule stops another group at once with Group authorization failed', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(OUTPOST);
    const mark = h.flows.length;
    // A group consumer keeps running after an error it reports; stop it as soon as it reported one.
    const run = await kcatConsumeGroup(h.bootstrap(KAFKA), 'outpost-kcat-rebels', 'rebels', 'deathstar-plans', 1, {
      timeoutMs: 15_000,
      until: (_out, err) => /Group authorization failed/i.test(err),
    });
    assertKcatDeniedAtOnce(run, 'group rebels', /Group authorization failed/i);
    assert.equal(parseKcatMessages(run.stdout).length, 0, 'the rebels group read nothing');
    const flows = await h.flowsUntil(mark, (f) => f.some((x) => x.verdict === 'DENIED' && x.kafka.groups.includes('rebels')));
    const denied = flows.find((x) => x.verdict === 'DENIED' && x.kafka.groups.includes('rebels'));
    assert.ok(denied, `a DENIED record names the group: ${flows.map(describeFlow).join('\n')}`);
    assert.equal(denied.kafka.errorCode, KAFKA_AUTHORIZATION_ERRORS.GROUP_AUTHORIZATION_FAILED);
  });

  test('every kcat request yields one flow record with its topics, verdict and deciding rule', { timeout: TEST_TIMEOUT_MS }, async () => {
    h.loopbackPlays(HQ);
    const flowMark = h.flows.length;
    const seenMark = h.broker(KAFKA).requestsSeen().length;
    const run = await kcatProduce(h.bootstrap(KAFKA), 'hq-kcat-flows', 'deathstar-plans', ['a:1', 'b:2']);
    assertKcatOk(run, 'produce');
    const seenOf = () => h.broker(KAFKA).requestsSeen().slice(seenMark).filter((r) => r.clientId === 'hq-kcat-flows');
    const ours = (x: KafkaFlowRecord) => x.kafka.clientId === 'hq-kcat-flows';
    const all = (await h.flowsUntil(flowMark, (f) => f.filter((x) => ours(x) && x.verdict === 'FORWARDED').length >= seenOf().length)).filter(ours);
    const flows = all.filter((f) => f.verdict === 'FORWARDED');
    const key = (x: { apiKey: number; apiVersion: number }) => `${x.apiKey} v${x.apiVersion}`;
    assert.deepEqual(flows.map((f) => key(f.kafka)).sort(), seenOf().map(key).sort(), `one FORWARDED record per request the broker received:\n${all.map(describeFlow).join('\n')}`);
    // librdkafka sometimes opens with a "brokers only" Metadata request (an empty topic array): it
    // names no topic, needs no topic permission (policy/l7/match-kafka-rules.ts) and is forwarded.
    // No request of this run may be denied.
    assert.deepEqual(all.filter((x) => x.verdict !== 'FORWARDED').map(describeFlow), [], 'no kcat request is denied');
    for (const f of flows) {
      assert.ok(f.policy?.includes('empire-kafka'), `the deciding rule: ${describeFlow(f)}`);
      assert.equal(f.source.ip, '127.0.0.1');
      assert.equal(f.source.identity, h.identityOf(HQ), 'kcat from 127.0.0.1 carries the identity of the pod it plays');
    }
    assert.deepEqual(flows.find((f) => f.kafka.apiKey === API.Produce)?.kafka.topics, ['deathstar-plans']);
  });
});
