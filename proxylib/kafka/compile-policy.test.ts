// The Kafka filter's compiler and its decisions without sockets: configs written as proto3 JSON
// (what an xDS server sends), problems at their proto paths, the proto's decision order (deny rule,
// default deny, allow-everything rules, request rules), identity and port scoping, opaque requests
// and unresolved topic ids.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileListener, Problems } from '../config/index.js';
import { KAFKA_ERROR, opaqueRequestFacts, type KafkaRequestFacts } from './api/index.js';
import { compileKafkaPolicyConfig, KAFKA_POLICY_TYPE, type KafkaPolicyConfig } from './compile-policy.js';
import { decideConnection, type KafkaRequestDecider, type KafkaRequestSubject } from './decide.js';
import { KafkaFilter } from './kafka-filter.js';
import './register.js';

type Json = Record<string, unknown>;

function policyJson(extra: Json = {}): Json {
  return {
    stat_prefix: 'kafka',
    endpoint: 'default/broker',
    direction: 'INGRESS',
    upstream: { cluster: 'original-dst' },
    endpoint_ips: ['10.0.0.1'],
    destination_ports: { start: 9092, end: 9092 },
    ...extra,
  };
}

function compile(json: Json): { config: KafkaPolicyConfig | undefined; problems: string[] } {
  const p = new Problems();
  const message = messageFromJson(envoy.KafkaPolicySchema, json);
  const config = compileKafkaPolicyConfig(message, { path: 'typed_config', problems: p });
  return { config, problems: p.items.map((i) => `${i.path}: ${i.message}`) };
}

function compiled(json: Json): KafkaPolicyConfig {
  const r = compile(json);
  assert.deepEqual(r.problems, []);
  assert.ok(r.config);
  return r.config;
}

function accepted(config: KafkaPolicyConfig, identity: number, port = 9092): KafkaRequestDecider {
  const d = decideConnection(config, identity, port);
  assert.equal(d.kind, 'accept', `expected the connection to be accepted, got ${JSON.stringify(d)}`);
  return d.kind === 'accept' ? d.requests : assert.fail();
}

function facts(topics: string[] | 'all', extra: Partial<KafkaRequestFacts> = {}): KafkaRequestFacts {
  return { topics, unresolvedTopicIds: [], groups: [], transactionalIds: [], expectsResponse: true, ...extra };
}

function req(apiKey: number, f: KafkaRequestFacts, extra: Partial<KafkaRequestSubject> = {}): KafkaRequestSubject {
  return { apiKey, apiVersion: 9, clientId: 'client', facts: f, opaque: false, ...extra };
}

describe('the Kafka policy compiler', () => {
  test('a policy written as the translation writes it compiles, with identities, port ranges and rule specs', () => {
    const config = compiled(
      policyJson({
        default_deny: true,
        deny_rules: [{ name: 'deny-bad', remotes: { identities: [666] } }],
        rules: [
          { name: 'produce-orders', remotes: { identities: [1001, 1002] }, ports: { start: 9092, end: 9093 }, requests: [{ role: 'produce', topic: 'orders' }] },
          { name: 'everything', remotes: { any: true }, l3l4_only: true },
        ],
      }),
    );
    assert.equal(config.direction, 'ingress');
    assert.equal(config.upstreamCluster, 'original-dst');
    assert.equal(config.maxFrameBytes, 104_857_600);
    assert.deepEqual([...config.rules[0]!.identities], [1001, 1002]);
    assert.deepEqual(config.rules[0]!.ports, { start: 9092, end: 9093 });
    assert.deepEqual(config.rules[0]!.specs, [{ role: 'produce', topic: 'orders' }]);
    assert.equal(config.rules[1]!.allowsEveryRequest, true);
    assert.equal(config.denyRules[0]!.name, 'deny-bad');
  });

  test('what the filter cannot run is a problem at its proto path', () => {
    const r = compile({
      endpoint: 'default/broker',
      rules: [
        { name: 'a', remotes: { any: true }, ports: { start: 9000, end: 80 }, requests: [{ role: 'admin' }, { role: 'produce', api_keys: [0] }, { api_keys: [40000] }] },
        { name: 'a' },
      ],
    });
    assert.equal(r.config, undefined);
    assert.deepEqual(r.problems, [
      'typed_config.stat_prefix: must not be empty',
      'typed_config.direction: must be INGRESS or EGRESS',
      'typed_config.upstream.cluster: must name the cluster allowed traffic goes through',
      'typed_config.rules[0].requests[0].role: unknown role "admin" (produce or consume)',
      'typed_config.rules[0].requests[1]: role and api_keys are exclusive',
      'typed_config.rules[0].requests[2].api_keys[0]: API key 40000 is not an int16',
      'typed_config.rules[0].ports: start 9000 is after end 80',
      'typed_config.rules[1].name: duplicate rule name "a"',
      'typed_config.rules[1].remotes: is required',
    ]);
  });

  test("meshd's extensions compile: topic prefixes, group ids and the frame limit", () => {
    const config = compiled(
      policyJson({
        max_frame_bytes: 4096,
        rules: [{ name: 'r', remotes: { any: true }, requests: [{ api_keys: [1], topic_prefix: 'orders.' }, { api_keys: [8], group_id: 'billing' }] }],
      }),
    );
    assert.equal(config.maxFrameBytes, 4096);
    assert.deepEqual(config.rules[0]!.specs, [{ apiKeys: new Set([1]), topicPrefix: 'orders.' }, { apiKeys: new Set([8]), groupID: 'billing' }]);
    const decider = accepted(config, 1);
    assert.equal(decider.decide(req(1, facts(['orders.eu', 'orders.us']), { apiVersion: 12 })).allowed, true);
    assert.equal(decider.decide(req(1, facts(['orders.eu', 'payments']), { apiVersion: 12 })).allowed, false);
    const group = decider.decide(req(8, facts(['t'], { groups: ['marketing'] })));
    assert.ok(!group.allowed && group.reason === 'kafka_denied_group' && group.errorCode === KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED);
    assert.equal(decider.decide(req(8, facts(['t'], { groups: ['billing'] }))).allowed, true);

    const bad = compile(policyJson({ max_frame_bytes: 10, rules: [{ name: 'r', remotes: { any: true }, requests: [{ topic: 'a', topic_prefix: 'a' }] }] }));
    assert.deepEqual(bad.problems, [
      'typed_config.max_frame_bytes: must be 0 (default 104857600) or between 64 and 2147483647',
      'typed_config.rules[0].requests[0]: topic and topic_prefix are exclusive',
    ]);
    // Unresolved topic ids take part in matching under names outside Kafka's topic characters: a
    // rule that could cover them (`<`) would let unknown ids through, so the config is refused.
    const odd = compile(policyJson({ rules: [{ name: 'r', remotes: { any: true }, requests: [{ topic_prefix: '<' }, { topic: 'a/b' }] }] }));
    assert.deepEqual(odd.problems, [
      'typed_config.rules[0].requests[0].topic_prefix: "<" is not a Kafka topic prefix (1–255 of letters, digits, ".", "_", "-")',
      'typed_config.rules[0].requests[1].topic: "a/b" is not a Kafka topic name (1–255 of letters, digits, ".", "_", "-")',
    ]);
  });

  test('fields of a newer proto than the proxy knows are refused with their number', () => {
    const message = messageFromJson(envoy.KafkaPolicySchema, policyJson());
    // Field 99 of KafkaPolicy, varint 1, as a newer server would send it.
    message.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([0x98, 0x06, 0x01]) }];
    const p = new Problems();
    assert.equal(compileKafkaPolicyConfig(message, { path: 'typed_config', problems: p }), undefined);
    assert.deepEqual(
      p.items.map((i) => i.path),
      ['typed_config.<field 99>'],
    );
  });

  test('a listener whose chain ends in the Kafka filter compiles into a runnable meshd filter once proxylib/kafka is loaded', () => {
    const listener = messageFromJson(envoy.ListenerSchema, {
      name: 'kafka',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [{ filters: [{ name: 'meshd.filters.kafka', typed_config: { '@type': `type.googleapis.com/${KAFKA_POLICY_TYPE}`, ...policyJson({ rules: [{ name: 'r', remotes: { any: true } }] }) } }] }],
    });
    const r = compileListener(listener);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const terminal = r.value.filterChains[0]?.networkFilters[0];
    assert.equal(terminal?.kind, 'meshd');
    assert.ok(terminal?.kind === 'meshd' && terminal.config instanceof KafkaFilter);

    const bad = compileListener(
      messageFromJson(envoy.ListenerSchema, {
        name: 'kafka',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{ filters: [{ name: 'meshd.filters.kafka', typed_config: { '@type': `type.googleapis.com/${KAFKA_POLICY_TYPE}`, ...policyJson({ direction: 'DIRECTION_UNSPECIFIED' }) } }] }],
      }),
    );
    assert.ok(!bad.ok);
    assert.deepEqual(
      bad.problems.map((p) => p.path),
      ['filter_chains[0].filters[0].typed_config.direction'],
    );
  });
});

describe('the Kafka filter decisions', () => {
  test('a deny rule refuses the connection before any rule is looked at; no covering rule refuses under default deny', () => {
    const config = compiled(
      policyJson({
        default_deny: true,
        deny_rules: [{ name: 'deny-1002', remotes: { identities: [1002] } }],
        rules: [{ name: 'all', remotes: { any: true }, l3l4_only: true, ports: { start: 9092, end: 9092 } }],
      }),
    );
    assert.deepEqual(decideConnection(config, 1002, 9092), { kind: 'refuse', reason: 'kafka_deny_rule', policy: 'deny-1002' });
    assert.equal(decideConnection(config, 1001, 9092).kind, 'accept');
    // The only rule covers port 9092: another port has no covering rule.
    assert.deepEqual(decideConnection(config, 1001, 9093), { kind: 'refuse', reason: 'kafka_default_deny', policy: undefined });
    const open = compiled(policyJson({ default_deny: false }));
    assert.equal(accepted(open, 1001).decide(req(0, facts(['x']))).allowed, true);
  });

  test('rules apply to the identities they name; allow-everything rules allow every request; the requests of all covering rules form one list', () => {
    const config = compiled(
      policyJson({
        default_deny: true,
        rules: [
          { name: 'orders', remotes: { identities: [1001] }, requests: [{ role: 'produce', topic: 'orders' }] },
          { name: 'audit', remotes: { identities: [1001, 1002] }, requests: [{ role: 'produce', topic: 'audit' }] },
          { name: 'visibility', remotes: { identities: [1003] }, visibility_only: true, requests: [{ topic: 'never' }] },
        ],
      }),
    );
    const a = accepted(config, 1001);
    assert.deepEqual(a.decide(req(0, facts(['orders', 'audit']))), { allowed: true, policy: 'orders,audit' });
    const denied = a.decide(req(0, facts(['orders', 'secret'])));
    assert.equal(denied.allowed, false);
    assert.ok(!denied.allowed && denied.reason === 'kafka_denied_topic' && denied.errorCode === KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED);
    assert.deepEqual(!denied.allowed && denied.deniedTopics, ['secret']);
    // 1002 is covered only by "audit".
    assert.equal(accepted(config, 1002).decide(req(0, facts(['orders']))).allowed, false);
    assert.deepEqual(accepted(config, 1003).decide(req(0, facts(['anything']))), { allowed: true, policy: 'visibility' });
    assert.equal(decideConnection(config, 9, 9092).kind, 'refuse', 'the world is not covered');
  });

  test('a request whose body cannot be decoded is allowed only by rules that constrain neither topics nor groups', () => {
    const topicsOnly = compiled(policyJson({ rules: [{ name: 't', remotes: { any: true }, requests: [{ topic: 'orders' }] }] }));
    const d = accepted(topicsOnly, 1).decide(req(90, opaqueRequestFacts(), { opaque: true }));
    assert.ok(!d.allowed && d.reason === 'kafka_denied_unknown_request');
    const keyRule = compiled(policyJson({ rules: [{ name: 'k', remotes: { any: true }, requests: [{ topic: 'orders' }, { api_keys: [90] }] }] }));
    assert.deepEqual(accepted(keyRule, 1).decide(req(90, opaqueRequestFacts(), { opaque: true })), { allowed: true, policy: 'k' });
    // A Produce of an unknown version: its topics are unknown, so the topic rule cannot allow it.
    assert.equal(accepted(keyRule, 1).decide(req(0, opaqueRequestFacts(), { opaque: true, apiVersion: 99 })).allowed, false);
  });

  test('a topic id the proxy cannot name denies with UNKNOWN_TOPIC_ID only when topics decide', () => {
    const consume = compiled(policyJson({ rules: [{ name: 'c', remotes: { any: true }, requests: [{ role: 'consume', topic: 'orders' }] }] }));
    const d = accepted(consume, 1).decide(req(1, facts(['orders'], { unresolvedTopicIds: ['6a4f3c1e-0000-4000-8000-000000000001'] }), { apiVersion: 13 }));
    assert.ok(!d.allowed);
    assert.equal(d.reason, 'kafka_unknown_topic_id');
    assert.equal(d.errorCode, KAFKA_ERROR.UNKNOWN_TOPIC_ID);
    assert.deepEqual(d.unknownTopicIds, ['6a4f3c1e-0000-4000-8000-000000000001']);
    assert.deepEqual(d.deniedTopics, []);
    const anyTopic = compiled(policyJson({ rules: [{ name: 'any', remotes: { any: true }, requests: [{ role: 'consume' }] }] }));
    assert.equal(accepted(anyTopic, 1).decide(req(1, facts([], { unresolvedTopicIds: ['6a4f3c1e-0000-4000-8000-000000000001'] }), { apiVersion: 13 })).allowed, true);
  });

  test('denials say which header fact no rule accepts', () => {
    const config = compiled(policyJson({ rules: [{ name: 'r', remotes: { any: true }, requests: [{ api_keys: [3], api_version: 12, client_id: 'good' }] }] }));
    const decider = accepted(config, 1);
    const reason = (s: KafkaRequestSubject) => {
      const d = decider.decide(s);
      return d.allowed ? 'allowed' : `${d.reason}/${d.errorCode}`;
    };
    assert.equal(reason(req(19, facts(['t']))), `kafka_denied_api_key/${KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED}`);
    assert.equal(reason(req(3, facts(['t']), { apiVersion: 11 })), `kafka_denied_api_version/${KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED}`);
    assert.equal(reason(req(3, facts(['t']), { apiVersion: 12, clientId: 'bad' })), `kafka_denied_client_id/${KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED}`);
    assert.equal(reason(req(3, facts(['t']), { apiVersion: 12, clientId: 'good' })), 'allowed');
    assert.equal(reason(req(18, facts([]), { apiVersion: 3 })), `kafka_denied_api_key/${KAFKA_ERROR.CLUSTER_AUTHORIZATION_FAILED}`);
  });
});
