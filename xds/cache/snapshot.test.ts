import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot } from './snapshot.js';
import { makeResource } from './resource.js';
import { create } from '@bufbuild/protobuf';
import { TYPE_URL, packAny } from '../codec/index.js';
import { ListenerSchema } from '../generated/envoy/config/listener/v3/listener_pb.js';
import { KafkaPolicySchema } from '../generated/meshd/filters/kafka/v1/kafka_pb.js';
import { DnsPolicySchema } from '../generated/meshd/filters/dns/v1/dns_pb.js';
import { FakeCluster, FakeEndpoints, FakeListener, FakeRoute, fakeSecret, fakeService, mergeServices } from '../../test/xds/fixtures.js';

describe('Snapshot', () => {
  test('a listener → route → EDS cluster → endpoints chain is consistent', () => {
    assert.deepEqual(Snapshot.fromMessages(fakeService('a')).consistencyProblems(), []);
  });

  test('every problem is listed: missing and unreferenced routes, missing and unreferenced endpoints, missing clusters and secrets', () => {
    const s = Snapshot.fromMessages({
      listeners: [new FakeListener('l1').withRds('missing-route', 'missing-secret').build(), new FakeListener('l2', 2).withTcpProxy('missing-tcp-cluster').build()],
      routes: [new FakeRoute('orphan-route').toCluster('c1').build()],
      clusters: [new FakeCluster('c1').withUpstreamTls('missing-upstream-secret').build(), new FakeCluster('c2').withServiceName('svc-2').build()],
      endpoints: [new FakeEndpoints('orphan-endpoints').at('10.0.0.1', 1).build()],
    });
    const problems = s.consistencyProblems();
    const expect = [
      /listener "l1" filter_chains\[0\]\.filters\[0\] refers to route configuration "missing-route"/,
      /route configuration "orphan-route" is not referred to by any listener/,
      /cluster "c1" \(EDS\) needs endpoints "c1"/,
      /cluster "c2" \(EDS\) needs endpoints "svc-2"/,
      /endpoints "orphan-endpoints" are not referred to/,
      /tcp_proxy routes to cluster "missing-tcp-cluster"/,
      /refers to secret "missing-secret"/,
      /refers to secret "missing-upstream-secret"/,
    ];
    for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(problems, null, 1)}`);
    assert.equal(problems.length, expect.length);
  });

  test('a route naming a missing cluster and a gRPC api_listener naming a missing route are problems', () => {
    const s = Snapshot.fromMessages({
      listeners: [new FakeListener('grpc').asApiListener('r').build()],
      routes: [new FakeRoute('r').toCluster('nowhere').build()],
    });
    assert.deepEqual(s.consistencyProblems(), ['route configuration "r" virtual host "r-vh" routes to cluster "nowhere", which the snapshot does not have']);
    const t = Snapshot.fromMessages({ listeners: [new FakeListener('grpc').asApiListener('absent').build()] });
    assert.match(t.consistencyProblems()[0]!, /api_listener refers to route configuration "absent"/);
  });

  test('the upstream clusters of meshd\'s Kafka filter and UDP DNS listener filter must be in the snapshot', () => {
    const kafka = packAny(KafkaPolicySchema, create(KafkaPolicySchema, { upstream: { cluster: 'kafka-upstream' } }));
    const dns = packAny(DnsPolicySchema, create(DnsPolicySchema, { upstream: { cluster: 'dns-upstream' } }));
    const listener = create(ListenerSchema, {
      name: 'meshd',
      filterChains: [{ filters: [{ name: 'meshd.filters.kafka', configType: { case: 'typedConfig', value: kafka } }] }],
      listenerFilters: [{ name: 'meshd.filters.dns', configType: { case: 'typedConfig', value: dns } }],
    });
    assert.deepEqual(Snapshot.fromMessages({ listeners: [listener] }).consistencyProblems(), [
      'listener "meshd" filter_chains[0].filters[0] upstream routes to cluster "kafka-upstream", which the snapshot does not have',
      'listener "meshd" listener_filters[0] upstream routes to cluster "dns-upstream", which the snapshot does not have',
    ]);
    const withClusters = Snapshot.fromMessages({ listeners: [listener], clusters: [new FakeCluster('kafka-upstream').static().build(), new FakeCluster('dns-upstream').static().build()] });
    assert.deepEqual(withClusters.consistencyProblems(), []);
  });

  test('secrets referenced by TLS transport sockets that are present make the snapshot consistent', () => {
    const s = Snapshot.fromMessages(
      mergeServices({
        listeners: [new FakeListener('l').withRds('r', 'cert').build()],
        routes: [new FakeRoute('r').toCluster('c').build()],
        clusters: [new FakeCluster('c').static().withUpstreamTls('ca').build()],
        secrets: [fakeSecret('cert'), fakeSecret('ca')],
      }),
    );
    assert.deepEqual(s.consistencyProblems(), []);
  });

  test('a snapshot built from encoded bytes is checked the same way as one built from messages', () => {
    const fromMessages = Snapshot.fromMessages({ listeners: [new FakeListener('l').withRds('absent').build()] });
    const raw = new Snapshot({ resources: { [TYPE_URL.listener]: [...fromMessages.resources(TYPE_URL.listener).values()] } });
    assert.deepEqual(raw.consistencyProblems(), fromMessages.consistencyProblems());
  });

  test('equal bodies get equal versions; a changed body changes its version and its type version only', () => {
    const a = Snapshot.fromMessages(mergeServices(fakeService('a'), fakeService('b', 2)));
    const b = Snapshot.fromMessages(mergeServices(fakeService('a'), fakeService('b', 2, ['10.9.9.9', 9])));
    assert.equal(a.resources(TYPE_URL.endpoint).get('a-cluster')!.version, b.resources(TYPE_URL.endpoint).get('a-cluster')!.version);
    assert.notEqual(a.resources(TYPE_URL.endpoint).get('b-cluster')!.version, b.resources(TYPE_URL.endpoint).get('b-cluster')!.version);
    assert.notEqual(a.typeVersion(TYPE_URL.endpoint), b.typeVersion(TYPE_URL.endpoint));
    assert.equal(a.typeVersion(TYPE_URL.listener), b.typeVersion(TYPE_URL.listener));
  });

  test('duplicate and unnamed resources are refused with MESHD_ERR_XDS_INVALID_RESOURCE listing each', () => {
    const r = makeResource(TYPE_URL.cluster, 'c', new Uint8Array([1]));
    assert.throws(
      () => new Snapshot({ resources: { [TYPE_URL.cluster]: [r, r, makeResource(TYPE_URL.cluster, '', new Uint8Array())] } }),
      (err: { code?: string; problems?: string[] }) => err.code === 'MESHD_ERR_XDS_INVALID_RESOURCE' && err.problems?.length === 2,
    );
  });
});
