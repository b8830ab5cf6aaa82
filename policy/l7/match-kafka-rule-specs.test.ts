import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaRule } from '../model.js';
import type { KafkaRequestFacts, KafkaRuleSpec } from './index.js';
import { KAFKA_GROUP_API_KEYS, KAFKA_TOPIC_API_KEYS, kafkaRuleSpecOf, matchKafkaRuleSpecs, matchKafkaRules } from './index.js';

const position = { file: 'test.yaml', line: 1, col: 1 };
const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const FIND_COORDINATOR = 10;
const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const DESCRIBE_GROUPS = 15;
const API_VERSIONS = 18;

const request = (fields: Partial<KafkaRequestFacts> = {}): KafkaRequestFacts => ({ apiKey: PRODUCE, apiVersion: 9, clientID: 'client', topics: ['orders'], ...fields });
const match = (rules: KafkaRuleSpec[], fields: Partial<KafkaRequestFacts>) => matchKafkaRuleSpecs(rules, request(fields));
const allowed = (rules: KafkaRuleSpec[], fields: Partial<KafkaRequestFacts>) => match(rules, fields).allowed;

test('a rule becomes a spec with the API key resolved and only the fields it sets', () => {
  assert.deepEqual(kafkaRuleSpecOf({ position }), {});
  const spec = kafkaRuleSpecOf({ position, apiKey: 'listoffsets', apiVersion: 4, clientID: 'c', topicPrefix: 'orders.', groupID: 'billing' });
  assert.deepEqual(spec, { apiKeys: new Set([2]), apiVersion: 4, clientID: 'c', topicPrefix: 'orders.', groupID: 'billing' });
  assert.deepEqual(kafkaRuleSpecOf({ position, role: 'consume', topic: 'orders' }), { role: 'consume', topic: 'orders' });
  // A name the loader would have refused allows no key rather than every key.
  assert.equal(matchKafkaRuleSpecs([kafkaRuleSpecOf({ position, apiKey: 'nope' })], request()).allowed, false);
});

test('matchKafkaRules on policy rules decides as matchKafkaRuleSpecs on their specs', () => {
  const rules: KafkaRule[] = [
    { position, role: 'consume', topic: 'orders', groupID: 'billing' },
    { position, apiKey: 'offsetcommit', topicPrefix: 'audit.' },
  ];
  for (const req of [
    request({ apiKey: OFFSET_COMMIT, topics: ['orders', 'audit.eu'], groups: ['billing'] }),
    request({ apiKey: OFFSET_COMMIT, topics: ['orders'], groups: ['other'] }),
    request({ apiKey: FETCH, topics: ['orders', 'x'] }),
  ]) {
    assert.deepEqual(matchKafkaRules(rules, req), matchKafkaRuleSpecs(rules.map(kafkaRuleSpecOf), req));
  }
});

test('a spec’s API key set allows the keys in it; an empty set or none allows every key', () => {
  const both = [{ apiKeys: new Set([PRODUCE, FETCH]) }];
  assert.equal(allowed(both, { apiKey: PRODUCE }), true);
  assert.equal(allowed(both, { apiKey: FETCH }), true);
  assert.equal(allowed(both, { apiKey: METADATA }), false);
  assert.equal(allowed([{ apiKeys: new Set<number>() }], { apiKey: 44, topics: [] }), true);
  // role and apiKeys together: the key must be in both.
  assert.equal(allowed([{ role: 'produce', apiKeys: new Set([PRODUCE, FETCH]) }], { apiKey: FETCH }), false);
  assert.equal(allowed([{ role: 'produce', apiKeys: new Set([PRODUCE, FETCH]) }], { apiKey: PRODUCE }), true);
});

test('the produce role covers InitProducerId and the consume role OffsetForLeaderEpoch', () => {
  assert.equal(allowed([{ role: 'produce', topic: 'orders' }], { apiKey: 22, topics: [] }), true);
  assert.equal(allowed([{ role: 'consume', topic: 'orders' }], { apiKey: 23, topics: ['orders'] }), true);
  assert.equal(allowed([{ role: 'consume', topic: 'orders' }], { apiKey: 23, topics: ['payments'] }), false);
  assert.equal(allowed([{ role: 'produce' }], { apiKey: 23, topics: ['orders'] }), false);
});

test('apiVersion and clientID still gate rules that name topics and groups', () => {
  const rules = [{ apiKeys: new Set([JOIN_GROUP]), apiVersion: 5, clientID: 'billing-app', groupID: 'billing' }];
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, apiVersion: 5, clientID: 'billing-app', topics: [], groups: ['billing'] }), true);
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, apiVersion: 6, clientID: 'billing-app', topics: [], groups: ['billing'] }), false);
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, apiVersion: 5, clientID: 'other', topics: [], groups: ['billing'] }), false);
  const { clientID: _, ...noClient } = request({ apiKey: JOIN_GROUP, apiVersion: 5, topics: [], groups: ['billing'] });
  assert.equal(matchKafkaRuleSpecs(rules, noClient).allowed, false);
});

// ---- topics ---------------------------------------------------------------------------------

test('a multi-topic request needs every topic covered, by one rule or several', () => {
  const rules = [{ topic: 'orders' }, { topic: 'audit' }];
  assert.deepEqual(match(rules, { topics: ['orders', 'audit'] }), { allowed: true, matchedRuleIndexes: [0, 1], deniedTopics: [], deniedGroups: [] });
  assert.deepEqual(match(rules, { topics: ['secrets', 'orders', 'payments', 'secrets'] }), {
    allowed: false,
    matchedRuleIndexes: [0],
    deniedTopics: ['secrets', 'payments'],
    deniedGroups: [],
  });
});

test('a topic prefix covers the topics that start with it, and only those', () => {
  const rules = [{ topicPrefix: 'orders.' }];
  assert.deepEqual(match(rules, { topics: ['orders.eu', 'orders.us'] }), { allowed: true, matchedRuleIndexes: [0], deniedTopics: [], deniedGroups: [] });
  assert.equal(allowed(rules, { topics: ['orders.'] }), true);
  for (const topic of ['orders', 'ordersX', 'xorders.eu', 'Orders.eu']) assert.equal(allowed(rules, { topics: [topic] }), false, topic);
  assert.deepEqual(match(rules, { topics: ['orders.eu', 'payments'] }), { allowed: false, matchedRuleIndexes: [0], deniedTopics: ['payments'], deniedGroups: [] });
});

test('prefix and exact rules together cover a mixed request', () => {
  const rules = [{ topic: 'audit' }, { topicPrefix: 'orders.' }];
  assert.deepEqual(match(rules, { topics: ['orders.eu', 'audit', 'orders.us'] }), { allowed: true, matchedRuleIndexes: [0, 1], deniedTopics: [], deniedGroups: [] });
});

test('a spec with both topic and prefix needs both to match', () => {
  assert.equal(allowed([{ topic: 'orders.eu', topicPrefix: 'orders.' }], { topics: ['orders.eu'] }), true);
  assert.equal(allowed([{ topic: 'orders.eu', topicPrefix: 'audit.' }], { topics: ['orders.eu'] }), false);
});

test('a request for all topics is covered only by a rule without a topic or prefix', () => {
  assert.deepEqual(match([{ topicPrefix: 'o' }, { topic: 'orders' }], { apiKey: METADATA, topics: 'all' }), {
    allowed: false,
    matchedRuleIndexes: [],
    deniedTopics: [],
    deniedGroups: [],
  });
  assert.deepEqual(match([{ topic: 'orders' }, { role: 'produce' }], { apiKey: METADATA, topics: 'all' }), {
    allowed: true,
    matchedRuleIndexes: [1],
    deniedTopics: [],
    deniedGroups: [],
  });
});

test('a Metadata request with an empty topic list (brokers only) needs no topic permission; other keys naming no topic still do', () => {
  const rules = [{ role: 'produce' as const, topic: 'orders' }];
  assert.deepEqual(match(rules, { apiKey: METADATA, topics: [] }), { allowed: true, matchedRuleIndexes: [0], deniedTopics: [], deniedGroups: [] });
  // Still a rule must apply: the request's key must be allowed.
  assert.equal(allowed([{ apiKeys: new Set([PRODUCE]), topic: 'orders' }], { apiKey: METADATA, topics: [] }), false);
  assert.equal(allowed(rules, { apiKey: METADATA, topics: 'all' }), false);
  // A Fetch naming no topic may read an incremental fetch session: it stays denied by topic rules.
  assert.equal(allowed([{ role: 'consume' as const, topic: 'orders' }], { apiKey: FETCH, topics: [] }), false);
});

test('a key outside the topic list is not constrained by topic, and a key inside it always is', () => {
  const topicScoped = [{ topic: 'orders' }, { topicPrefix: 'audit.' }];
  for (let key = 0; key <= 87; key++) {
    // Rules without groupID leave groups alone: a group key naming no group is not refused for it.
    const verdict = allowed(topicScoped, { apiKey: key, topics: [], groups: [] });
    // The one exception: a Metadata request naming no topic asks for brokers only (test above).
    assert.equal(verdict, !KAFKA_TOPIC_API_KEYS.has(key) || key === METADATA, `key ${key} naming no topic`);
    if (KAFKA_TOPIC_API_KEYS.has(key)) assert.equal(allowed(topicScoped, { apiKey: key, topics: 'all', groups: [] }), false, `key ${key} for all topics`);
    if (!KAFKA_TOPIC_API_KEYS.has(key)) assert.equal(allowed(topicScoped, { apiKey: key, topics: ['secrets'] }), true, `key ${key} with a stray topic`);
  }
});

test('a key outside the group list is not constrained by groupID, and a key inside it always is', () => {
  const groupScoped = [{ groupID: 'billing' }];
  for (let key = 0; key <= 87; key++) {
    if (KAFKA_GROUP_API_KEYS.has(key)) {
      assert.equal(allowed(groupScoped, { apiKey: key, topics: [], groups: [] }), false, `key ${key} naming no group`);
      assert.equal(allowed(groupScoped, { apiKey: key, topics: [], groups: ['other'] }), false, `key ${key} for another group`);
      assert.equal(allowed(groupScoped, { apiKey: key, topics: [], groups: ['billing'] }), true, `key ${key} for the group`);
    } else {
      assert.equal(allowed(groupScoped, { apiKey: key, topics: ['orders'], groups: ['other'] }), true, `key ${key}`);
    }
  }
});

// ---- groups ---------------------------------------------------------------------------------

test('a group rule allows its group on group keys and names the groups it denies', () => {
  const rules = [{ groupID: 'billing' }];
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, topics: [], groups: ['billing'] }), true);
  assert.deepEqual(match(rules, { apiKey: HEARTBEAT, topics: [], groups: ['fraud'] }), { allowed: false, matchedRuleIndexes: [], deniedTopics: [], deniedGroups: ['fraud'] });
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, topics: [], groups: ['Billing'] }), false);
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, topics: [], groups: ['billing '] }), false);
  // Produce carries no group: the rule's groupID does not constrain it.
  assert.equal(allowed(rules, { apiKey: PRODUCE, topics: ['anything'], groups: ['ignored'] }), true);
});

test('a multi-group request needs every group covered', () => {
  const rules = [{ groupID: 'a' }, { groupID: 'b' }];
  assert.deepEqual(match(rules, { apiKey: DESCRIBE_GROUPS, topics: [], groups: ['a', 'b', 'a'] }), { allowed: true, matchedRuleIndexes: [0, 1], deniedTopics: [], deniedGroups: [] });
  assert.deepEqual(match(rules, { apiKey: DESCRIBE_GROUPS, topics: [], groups: ['c', 'a', 'd'] }), {
    allowed: false,
    matchedRuleIndexes: [0],
    deniedTopics: [],
    deniedGroups: ['c', 'd'],
  });
});

test('a group key naming no group (FindCoordinator for a transaction) is covered only by a rule without groupID', () => {
  assert.equal(allowed([{ groupID: 'billing' }], { apiKey: FIND_COORDINATOR, topics: [], groups: [] }), false);
  assert.equal(allowed([{ groupID: 'billing' }], { apiKey: FIND_COORDINATOR, topics: [] }), false);
  assert.equal(allowed([{ groupID: 'billing' }, { apiKeys: new Set([FIND_COORDINATOR]) }], { apiKey: FIND_COORDINATOR, topics: [] }), true);
});

test('rules without groupID leave groups unconstrained, as Cilium’s rules always did', () => {
  const rules = [{ role: 'consume' as const, topic: 'orders' }];
  assert.equal(allowed(rules, { apiKey: OFFSET_COMMIT, topics: ['orders'], groups: ['any-group'] }), true);
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, topics: [], groups: ['any-group'] }), true);
  assert.equal(allowed(rules, { apiKey: OFFSET_COMMIT, topics: ['orders'] }), true);
});

test('role plus groupID: a consumer of one group reads any topic and joins only its group', () => {
  const rules = [{ role: 'consume' as const, groupID: 'billing' }];
  assert.equal(allowed(rules, { apiKey: FETCH, topics: ['orders', 'audit'] }), true);
  assert.equal(allowed(rules, { apiKey: METADATA, topics: 'all' }), true);
  for (const apiKey of [OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, 13, 14]) {
    assert.equal(allowed(rules, { apiKey, topics: apiKey === OFFSET_COMMIT || apiKey === OFFSET_FETCH ? ['orders'] : [], groups: ['billing'] }), true, `key ${apiKey}`);
    assert.deepEqual(match(rules, { apiKey, topics: [], groups: ['fraud'] }).deniedGroups, ['fraud'], `key ${apiKey}`);
  }
  assert.equal(allowed(rules, { apiKey: PRODUCE, topics: ['orders'] }), false);
  assert.equal(allowed(rules, { apiKey: API_VERSIONS, topics: [] }), true);
});

test('role, topic and groupID: the group may commit and fetch offsets of that topic only', () => {
  const rules = [{ role: 'consume' as const, topic: 'orders', groupID: 'billing' }];
  assert.equal(allowed(rules, { apiKey: OFFSET_COMMIT, topics: ['orders'], groups: ['billing'] }), true);
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['orders', 'audit'], groups: ['billing'] }), {
    allowed: false,
    matchedRuleIndexes: [0],
    deniedTopics: ['audit'],
    deniedGroups: [],
  });
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['orders'], groups: ['fraud'] }), {
    allowed: false,
    matchedRuleIndexes: [],
    deniedTopics: [],
    deniedGroups: ['fraud'],
  });
  // JoinGroup carries no topic: only the group is checked.
  assert.equal(allowed(rules, { apiKey: JOIN_GROUP, topics: [], groups: ['billing'] }), true);
  assert.equal(allowed(rules, { apiKey: FETCH, topics: ['orders'] }), true);
  assert.equal(allowed(rules, { apiKey: FETCH, topics: ['audit'] }), false);
});

test('a rule’s topic and groupID go together: another group’s rule lends no topic', () => {
  const rules = [
    { topic: 'a', groupID: 'g1' },
    { topic: 'b', groupID: 'g2' },
  ];
  assert.equal(allowed(rules, { apiKey: OFFSET_COMMIT, topics: ['a'], groups: ['g1'] }), true);
  assert.equal(allowed(rules, { apiKey: OFFSET_COMMIT, topics: ['b'], groups: ['g2'] }), true);
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['b'], groups: ['g1'] }), { allowed: false, matchedRuleIndexes: [], deniedTopics: ['b'], deniedGroups: [] });
  // OffsetFetch v8+ asks for several groups at once: each group must be allowed each topic.
  assert.deepEqual(match(rules, { apiKey: OFFSET_FETCH, topics: ['a'], groups: ['g1', 'g2'] }), {
    allowed: false,
    matchedRuleIndexes: [0],
    deniedTopics: ['a'],
    deniedGroups: [],
  });
  assert.deepEqual(match(rules, { apiKey: OFFSET_FETCH, topics: ['a', 'b'], groups: ['g1', 'g2', 'g3'] }), {
    allowed: false,
    matchedRuleIndexes: [0, 1],
    deniedTopics: ['a', 'b'],
    deniedGroups: ['g3'],
  });
});

test('a rule without groupID lends its topics to every group', () => {
  const rules = [{ topic: 'a', groupID: 'g1' }, { topic: 'b' }];
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['a', 'b'], groups: ['g1'] }), { allowed: true, matchedRuleIndexes: [0, 1], deniedTopics: [], deniedGroups: [] });
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['a', 'b'], groups: ['g2'] }), { allowed: false, matchedRuleIndexes: [1], deniedTopics: ['a'], deniedGroups: [] });
});

test('a group’s own rules and the rules for any group count in rule order', () => {
  const rules = [{ topic: 'x' }, { groupID: 'g', topicPrefix: 'p.' }, { topic: 'y', groupID: 'g' }];
  assert.deepEqual(match(rules, { apiKey: OFFSET_COMMIT, topics: ['y', 'p.1', 'x'], groups: ['g'] }), { allowed: true, matchedRuleIndexes: [0, 1, 2], deniedTopics: [], deniedGroups: [] });
});

test('a request naming many groups and topics is judged without building every pair', () => {
  const groups = Array.from({ length: 2000 }, (_, i) => `group-${i}`);
  const topics = Array.from({ length: 2000 }, (_, i) => `topic-${i}`);
  const rules = [{ topicPrefix: 'topic-', groupID: 'group-7' }, { topicPrefix: 'topic-' }];
  const started = performance.now();
  const m = match(rules, { apiKey: OFFSET_FETCH, topics, groups });
  assert.equal(m.allowed, true);
  assert.ok(performance.now() - started < 2000, 'bounded work');
});
