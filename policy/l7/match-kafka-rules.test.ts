import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaRule } from '../model.js';
import type { KafkaRequestFacts } from './index.js';
import {
  KAFKA_API_KEYS,
  KAFKA_API_NAMES,
  KAFKA_ROLE_API_KEYS,
  KAFKA_TOPIC_API_KEYS,
  kafkaApiKeyFromName,
  kafkaApiKeyName,
  matchKafkaRules,
  parseKafkaApiKeyArg,
} from './index.js';

const position = { file: 'test.yaml', line: 1, col: 1 };
const rule = (fields: Partial<KafkaRule> = {}): KafkaRule => ({ position, ...fields });
const request = (fields: Partial<KafkaRequestFacts> = {}): KafkaRequestFacts => ({
  apiKey: 0,
  apiVersion: 3,
  clientID: 'client',
  topics: ['orders'],
  ...fields,
});
const allowed = (rules: KafkaRule[], fields: Partial<KafkaRequestFacts>): boolean =>
  matchKafkaRules(rules, request(fields)).allowed;

test('the API key table names keys 0 to 33 in Cilium’s spelling', () => {
  assert.equal(Object.keys(KAFKA_API_KEYS).length, 34);
  assert.deepEqual(Object.values(KAFKA_API_KEYS), [...Array(34).keys()]);
  assert.equal(KAFKA_API_KEYS.offsets, 2);
  assert.equal(KAFKA_API_KEYS.findcoordinator, 10);
  assert.equal(KAFKA_API_KEYS.alterconfigs, 33);
});

test('API key names resolve case-insensitively and unknown names resolve to nothing', () => {
  assert.equal(kafkaApiKeyFromName('Produce'), 0);
  assert.equal(kafkaApiKeyFromName('APIVERSIONS'), 18);
  assert.equal(kafkaApiKeyFromName('toString'), undefined);
  assert.equal(kafkaApiKeyFromName('__proto__'), undefined);
  assert.equal(kafkaApiKeyFromName('list-offsets'), undefined);
  assert.equal(kafkaApiKeyName(9), 'offsetfetch');
  assert.equal(kafkaApiKeyName(88), undefined);
  assert.equal(kafkaApiKeyName(-1), undefined);
});

test('every current Kafka API is accepted by its name lower-cased, and Cilium’s offsets stays', () => {
  assert.equal(kafkaApiKeyFromName('offsets'), 2);
  assert.equal(kafkaApiKeyFromName('listoffsets'), 2);
  assert.equal(kafkaApiKeyFromName('ListOffsets'), 2);
  assert.equal(kafkaApiKeyFromName('saslauthenticate'), 36);
  assert.equal(kafkaApiKeyFromName('incrementalalterconfigs'), 44);
  assert.equal(kafkaApiKeyFromName('describeproducers'), 61);
  assert.equal(kafkaApiKeyFromName('ConsumerGroupHeartbeat'), 68);
  assert.equal(kafkaApiKeyFromName('readsharegroupstatesummary'), 87);
  assert.equal(KAFKA_API_NAMES.length, 88);
  for (const [key, name] of KAFKA_API_NAMES.entries()) assert.equal(kafkaApiKeyFromName(name.toLowerCase()), key, name);
  // Display names keep Cilium's spelling where it had one.
  assert.equal(kafkaApiKeyName(2), 'offsets');
  assert.equal(kafkaApiKeyName(36), 'saslauthenticate');
  assert.equal(kafkaApiKeyName(87), 'readsharegroupstatesummary');
});

test('a CLI API key argument is a name or a non-negative int16', () => {
  assert.equal(parseKafkaApiKeyArg('fetch'), 1);
  assert.equal(parseKafkaApiKeyArg('Metadata'), 3);
  assert.equal(parseKafkaApiKeyArg('36'), 36);
  assert.equal(parseKafkaApiKeyArg('0'), 0);
  assert.equal(parseKafkaApiKeyArg('32768'), undefined);
  assert.equal(parseKafkaApiKeyArg('-1'), undefined);
  assert.equal(parseKafkaApiKeyArg('1.5'), undefined);
  assert.equal(parseKafkaApiKeyArg(''), undefined);
  assert.equal(parseKafkaApiKeyArg('nope'), undefined);
});

test('roles expand to Cilium’s produce and consume key sets plus InitProducerId and OffsetForLeaderEpoch', () => {
  assert.deepEqual([...KAFKA_ROLE_API_KEYS.produce].sort((a, b) => a - b), [0, 3, 18, 22]);
  assert.deepEqual([...KAFKA_ROLE_API_KEYS.consume].sort((a, b) => a - b), [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 23]);
  assert.equal(KAFKA_TOPIC_API_KEYS.has(37), true);
  assert.equal(KAFKA_TOPIC_API_KEYS.has(10), false);
});

test('the topic key list keeps every key Cilium had', () => {
  for (const key of [0, 1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 21, 23, 24, 27, 28, 34, 35, 37]) assert.equal(KAFKA_TOPIC_API_KEYS.has(key), true, `key ${key}`);
});

test('an empty rule list allows every request', () => {
  assert.deepEqual(matchKafkaRules([], request({ apiKey: 20, topics: ['x'] })), {
    allowed: true,
    matchedRuleIndexes: [],
    deniedTopics: [],
    deniedGroups: [],
  });
});

test('an empty rule allows every request', () => {
  assert.equal(allowed([rule()], { apiKey: 33, topics: [] }), true);
  assert.equal(allowed([rule()], { apiKey: 3, topics: 'all' }), true);
});

test('the produce role allows Produce, Metadata and ApiVersions but not Fetch', () => {
  const rules = [rule({ role: 'produce', topic: 'orders' })];
  assert.equal(allowed(rules, { apiKey: 0 }), true);
  assert.equal(allowed(rules, { apiKey: 3 }), true);
  assert.equal(allowed(rules, { apiKey: 18, topics: [] }), true);
  assert.equal(allowed(rules, { apiKey: 1 }), false);
  assert.equal(allowed(rules, { apiKey: 2 }), false);
});

test('the consume role allows group coordination but not Produce', () => {
  const rules = [rule({ role: 'consume', topic: 'orders' })];
  for (const apiKey of [1, 2, 3, 8, 9]) assert.equal(allowed(rules, { apiKey }), true, `key ${apiKey}`);
  for (const apiKey of [10, 11, 12, 13, 14, 18]) {
    assert.equal(allowed(rules, { apiKey, topics: [] }), true, `key ${apiKey}`);
  }
  assert.equal(allowed(rules, { apiKey: 0 }), false);
  assert.equal(allowed(rules, { apiKey: 19 }), false);
});

test('a single apiKey rule allows only that key, named case-insensitively', () => {
  const rules = [rule({ apiKey: 'Fetch' })];
  assert.equal(allowed(rules, { apiKey: 1 }), true);
  assert.equal(allowed(rules, { apiKey: 0 }), false);
  assert.equal(allowed([rule({ apiKey: 'no-such-key' })], { apiKey: 0 }), false);
});

test('apiVersion must be equal when the rule sets it', () => {
  const rules = [rule({ apiKey: 'produce', apiVersion: 3 })];
  assert.equal(allowed(rules, { apiVersion: 3 }), true);
  assert.equal(allowed(rules, { apiVersion: 2 }), false);
  assert.equal(allowed(rules, { apiVersion: 4 }), false);
  assert.equal(allowed([rule({ apiVersion: 0 })], { apiVersion: 0 }), true);
  assert.equal(allowed([rule({ apiVersion: 0 })], { apiVersion: 1 }), false);
});

test('clientID must be exactly equal when the rule sets it', () => {
  const rules = [rule({ clientID: 'billing' })];
  assert.equal(allowed(rules, { clientID: 'billing' }), true);
  assert.equal(allowed(rules, { clientID: 'Billing' }), false);
  assert.equal(allowed(rules, { clientID: 'billing-2' }), false);
  assert.equal(allowed(rules, { clientID: undefined }), false);
  assert.equal(allowed([rule({ clientID: '' })], { clientID: undefined }), true);
});

test('a topic rule allows a request for its topic only', () => {
  const rules = [rule({ topic: 'orders' })];
  assert.equal(allowed(rules, { topics: ['orders'] }), true);
  assert.deepEqual(matchKafkaRules(rules, request({ topics: ['payments'] })), {
    allowed: false,
    matchedRuleIndexes: [],
    deniedTopics: ['payments'],
    deniedGroups: [],
  });
});

test('a multi-topic request is denied when one of its topics is not allowed', () => {
  const rules = [rule({ role: 'produce', topic: 'orders' }), rule({ role: 'produce', topic: 'audit' })];
  assert.deepEqual(matchKafkaRules(rules, request({ topics: ['orders', 'audit'] })), {
    allowed: true,
    matchedRuleIndexes: [0, 1],
    deniedTopics: [],
    deniedGroups: [],
  });
  assert.deepEqual(matchKafkaRules(rules, request({ topics: ['orders', 'secrets', 'audit'] })), {
    allowed: false,
    matchedRuleIndexes: [0, 1],
    deniedTopics: ['secrets'],
    deniedGroups: [],
  });
});

test('a topic only counts as covered by a rule whose other fields also match', () => {
  const rules = [rule({ apiKey: 'produce', topic: 'orders' }), rule({ apiKey: 'fetch', topic: 'audit' })];
  assert.deepEqual(matchKafkaRules(rules, request({ apiKey: 0, topics: ['orders', 'audit'] })), {
    allowed: false,
    matchedRuleIndexes: [0],
    deniedTopics: ['audit'],
    deniedGroups: [],
  });
});

test('a rule without a topic covers every topic of the request', () => {
  const rules = [rule({ topic: 'orders' }), rule({ clientID: 'admin' })];
  assert.deepEqual(matchKafkaRules(rules, request({ clientID: 'admin', topics: ['orders', 'x', 'y'] })), {
    allowed: true,
    matchedRuleIndexes: [1],
    deniedTopics: [],
    deniedGroups: [],
  });
});

test('repeated topics in a request need one rule', () => {
  assert.equal(allowed([rule({ topic: 'orders' })], { topics: ['orders', 'orders'] }), true);
});

test('a Metadata request for all topics is denied by topic-scoped rules', () => {
  const topicScoped = [rule({ role: 'produce', topic: 'orders' })];
  assert.deepEqual(matchKafkaRules(topicScoped, request({ apiKey: 3, topics: 'all' })), {
    allowed: false,
    matchedRuleIndexes: [],
    deniedTopics: [],
    deniedGroups: [],
  });
  assert.equal(allowed([rule({ role: 'produce' })], { apiKey: 3, topics: 'all' }), true);
});

test('a topic-key request with no topics is only allowed by rules without a topic', () => {
  // CreateTopics (19) is a topic key whose body Cilium's parser does not decode.
  assert.equal(allowed([rule({ apiKey: 'createtopics', topic: 'orders' })], { apiKey: 19, topics: [] }), false);
  assert.equal(allowed([rule({ apiKey: 'createtopics' })], { apiKey: 19, topics: [] }), true);
  assert.equal(allowed([rule({ topic: 'orders' })], { apiKey: 37, topics: [] }), false);
});

test('the topic of a rule is ignored for keys whose requests carry no topic', () => {
  const rules = [rule({ role: 'consume', topic: 'orders' })];
  assert.equal(allowed(rules, { apiKey: 11, topics: [] }), true);
  assert.equal(allowed([rule({ topic: 'orders' })], { apiKey: 36, topics: [] }), true);
});
