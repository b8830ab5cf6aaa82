import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../proxylib/index.js';
import { IdentityAllocator, LabelSet } from '../../policy/index.js';
import { starWarsRepository } from '../../test/agent/flows-harness.js';
import { chainEndpointOf, proxyRecordToFlow } from './proxy-flow.js';

const pods = new Map([
  ['10.200.0.11', 'empire/tiefighter'],
  ['10.200.0.10', 'empire/deathstar'],
  ['10.200.0.20', 'empire/kafka'],
]);
const enrich = {
  podOfIp: (ip: string) => pods.get(ip),
  identityLabels: (id: number) => (id === 1000 ? LabelSet.parse(['k8s:org=empire']) : undefined),
};
const base = {
  time: '2026-11-21T10:00:00.000Z',
  source: { ip: '10.200.0.11', port: 40000, identity: 1000 },
  destination: { ip: '10.200.0.10', port: 80 },
  listener: 'meshd-http-ingress',
  filterChain: 'fc0',
  latencyMs: 1.5,
};

describe('proxy records become flows', () => {
  test('an HTTP request reads as hubble prints it, with the deciding policy', () => {
    const r: FlowRecord = { ...base, type: 'http', protocol: 'http', verdict: 'DENIED', policy: 'empire/deathstar-landing', reason: 'rbac_denied', http: { version: 'HTTP/1.1', method: 'PUT', path: '/v1/exhaust-port', host: 'deathstar', status: 403 } };
    const f = proxyRecordToFlow(r, enrich);
    assert.equal(f.summary, 'PUT /v1/exhaust-port -> 403');
    assert.equal(f.verdict, 'DENIED');
    assert.equal(f.layer, 'proxy');
    assert.equal(f.protocol, 'http');
    assert.equal(f.direction, 'ingress');
    assert.equal(f.policy, 'empire/deathstar-landing');
    assert.equal(f.reason, 'rbac_denied');
    assert.equal(f.source.pod, 'empire/tiefighter');
    assert.deepEqual(f.source.labels, ['k8s:org=empire']);
    assert.equal(f.destination.pod, 'empire/deathstar');
    assert.equal(f.latencyMs, 1.5);
    assert.deepEqual((f.l7 as { path: string }).path, '/v1/exhaust-port');
  });

  test('a gRPC call keeps its protocol and shows the gRPC status', () => {
    const r: FlowRecord = { ...base, type: 'http', protocol: 'grpc', verdict: 'FORWARDED', http: { version: 'HTTP/2', method: 'POST', path: '/deathstar.Landing/Request', host: 'deathstar', status: 200, grpcStatus: 0 } };
    const f = proxyRecordToFlow(r, enrich);
    assert.equal(f.protocol, 'grpc');
    assert.equal(f.summary, 'POST /deathstar.Landing/Request -> 200 grpc-status=0');
  });

  test('a denied Kafka produce names the topic and the verdict', () => {
    const r: FlowRecord = {
      ...base,
      destination: { ip: '10.200.0.20', port: 9092 },
      listener: 'meshd-kafka-egress',
      type: 'kafka',
      verdict: 'DENIED',
      policy: 'empire/kafka-topics',
      kafka: { apiKey: 0, apiName: 'Produce', apiVersion: 9, correlationId: 4, clientId: 'outpost', topics: ['deathstar-plans'], groups: [], errorCode: 29 },
    };
    const f = proxyRecordToFlow(r, enrich);
    assert.equal(f.summary, 'kafka Produce topic=deathstar-plans DENIED');
    assert.equal(f.protocol, 'kafka');
    assert.equal(f.direction, 'egress');
    assert.equal(f.destination.pod, 'empire/kafka');
  });

  test('a DNS answer shows the name, type and addresses; a refused one its RCODE', () => {
    const allowed: FlowRecord = { ...base, destination: { ip: '10.200.0.2', port: 53 }, type: 'dns', protocol: 'udp', verdict: 'FORWARDED', dns: { id: 1, query: 'api.empire.gov', qtype: 'A', rcode: 'NOERROR', ips: ['1.2.3.4'], truncated: false, observer: { heldMs: 0.4, outcome: 'done' } } };
    assert.equal(proxyRecordToFlow(allowed, enrich).summary, 'dns A api.empire.gov -> 1.2.3.4');
    assert.equal(proxyRecordToFlow(allowed, enrich).protocol, 'dns');
    const refused: FlowRecord = { ...allowed, verdict: 'DENIED', dns: { ...allowed.dns, query: 'rebels.org', rcode: 'REFUSED', ips: [] } } as FlowRecord;
    assert.equal(proxyRecordToFlow(refused, enrich).summary, 'dns A rebels.org -> REFUSED');
  });

  test('a TCP connection shows the bytes both ways', () => {
    const r: FlowRecord = { ...base, type: 'tcp', verdict: 'FORWARDED', bytesSent: 10, bytesReceived: 20 };
    assert.equal(proxyRecordToFlow(r, enrich).summary, 'tcp sent=10 received=20');
  });

  test("a denial no RBAC policy matched is named after the endpoint's L7 policy, from the filter chain", () => {
    const repo = starWarsRepository();
    const allocator = new IdentityAllocator();
    const tiefighter = allocator.allocate(repo.getEndpoint('empire/tiefighter')!.identityLabels).id;
    const e = { podOfIp: () => undefined, identityLabels: (id: number) => allocator.lookupById(id)?.labels, endpointPolicy: (pod: string) => repo.endpointPolicy(pod) };
    const r: FlowRecord = {
      ...base,
      source: { ip: '10.200.0.11', port: 40000, identity: tiefighter },
      listener: 'meshd/tcp/15001',
      filterChain: 'empire/deathstar/ingress/tcp/80/http',
      type: 'http',
      protocol: 'http',
      verdict: 'DENIED',
      reason: 'rbac_denied',
      http: { version: 'HTTP/1.1', method: 'PUT', path: '/v1/exhaust-port', host: 'deathstar', status: 403 },
    };
    const f = proxyRecordToFlow(r, e);
    assert.equal(f.policy, 'empire/deathstar-landing');
    assert.equal(f.direction, 'ingress');
    // a record that names its policy keeps it
    assert.equal(proxyRecordToFlow({ ...r, policy: 'other/p' }, e).policy, 'other/p');
    assert.deepEqual(chainEndpointOf('empire/deathstar/egress/udp/53/dns', 'x'), { endpoint: 'empire/deathstar', direction: 'egress' });
    assert.deepEqual(chainEndpointOf('fc0', 'plain'), {});
  });
});
