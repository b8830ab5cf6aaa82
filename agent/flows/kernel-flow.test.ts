import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { DatapathEvent } from '../../bpf/index.js';
import { IdentityAllocator } from '../../policy/index.js';
import { agentFlowEnrichment } from './enrichment.js';
import { kernelEventToFlow, kernelVerdict, monotonicToIso } from './kernel-flow.js';
import { starWarsRepository } from '../../test/agent/flows-harness.js';

const repo = starWarsRepository();
const allocator = new IdentityAllocator();
const ids = new Map(repo.listEndpoints().map((e) => [e.id, allocator.allocate(e.identityLabels).id]));
const endpoints = repo.listEndpoints().map((e, i) => ({ id: e.id, endpointId: 100 + i, ip: e.ips[0]! }));
const enrichment = agentFlowEnrichment({
  endpoints: { list: () => endpoints, byIp: (ip) => endpoints.find((e) => e.ip === ip) },
  identityLabels: (id) => allocator.lookupById(id)?.labels,
  repository: repo,
});
const ep = (id: string) => endpoints.find((e) => e.id === id)!;

function event(o: Partial<DatapathEvent> & Pick<DatapathEvent, 'direction' | 'verdict' | 'endpointId' | 'localIdentity' | 'peerIdentity' | 'source' | 'destination'>): DatapathEvent {
  return { timestampNs: process.hrtime.bigint(), cookie: 1n, family: 4, protocol: 'tcp', dropReason: 0, dropReasonName: '', proxyPort: 0, hook: 'connect', ...o };
}

describe('kernel events become flows', () => {
  test('verdicts map to flow verdicts, audit included', () => {
    assert.equal(kernelVerdict('denied'), 'DROPPED');
    assert.equal(kernelVerdict('redirected'), 'REDIRECTED');
    assert.equal(kernelVerdict('allowed'), 'FORWARDED');
    assert.equal(kernelVerdict('audit'), 'AUDIT');
  });

  test("an xwing's denied ingress to the deathstar names both pods, the labels and the deny policy", () => {
    const flow = kernelEventToFlow(
      event({
        direction: 'ingress',
        verdict: 'denied',
        hook: 'skb-ingress',
        dropReason: 133,
        dropReasonName: 'policy_denied',
        endpointId: ep('empire/deathstar').endpointId,
        localIdentity: ids.get('empire/deathstar')!,
        peerIdentity: ids.get('alliance/xwing')!,
        source: { address: '10.200.0.12', port: 40000 },
        destination: { address: '10.200.0.10', port: 80 },
      }),
      enrichment,
    );
    assert.equal(flow.verdict, 'DROPPED');
    assert.equal(flow.layer, 'kernel');
    assert.equal(flow.source.pod, 'alliance/xwing');
    assert.equal(flow.destination.pod, 'empire/deathstar');
    assert.ok(flow.source.labels?.includes('k8s:org=alliance'), String(flow.source.labels));
    assert.equal(flow.policy, 'empire/deathstar-landing');
    assert.equal(flow.reason, 'policy_denied');
    assert.match(flow.summary, /denied \(policy_denied\)/);
  });

  test("a tiefighter's connect redirected for the deathstar's ingress L7 rules names that policy", () => {
    // sock.bpf.c reports an ingress redirect of a local destination on the destination endpoint,
    // direction ingress, peer = the client.
    const flow = kernelEventToFlow(
      event({
        direction: 'ingress',
        verdict: 'redirected',
        proxyPort: 15002,
        endpointId: ep('empire/deathstar').endpointId,
        localIdentity: ids.get('empire/deathstar')!,
        peerIdentity: ids.get('empire/tiefighter')!,
        source: { address: '10.200.0.11', port: 0 },
        destination: { address: '10.200.0.10', port: 80 },
      }),
      enrichment,
    );
    assert.equal(flow.verdict, 'REDIRECTED');
    assert.equal(flow.direction, 'ingress');
    assert.equal(flow.source.pod, 'empire/tiefighter');
    assert.equal(flow.destination.pod, 'empire/deathstar');
    assert.equal(flow.policy, 'empire/deathstar-landing');
    assert.match(flow.summary, /redirected to proxy port 15002/);
  });

  test('an allowed egress connect names the egress policy that allowed it', () => {
    const flow = kernelEventToFlow(
      event({
        direction: 'egress',
        verdict: 'allowed',
        endpointId: ep('alliance/xwing').endpointId,
        localIdentity: ids.get('alliance/xwing')!,
        peerIdentity: ids.get('empire/tiefighter')!,
        source: { address: '10.200.0.12', port: 0 },
        destination: { address: '10.200.0.11', port: 8080 },
      }),
      enrichment,
    );
    assert.equal(flow.verdict, 'FORWARDED');
    assert.equal(flow.source.pod, 'alliance/xwing');
    assert.equal(flow.destination.pod, 'empire/tiefighter');
    assert.equal(flow.policy, 'alliance/alliance-egress');
  });

  test('an audit event names the policy that would have denied', () => {
    const flow = kernelEventToFlow(
      event({
        direction: 'ingress',
        verdict: 'audit' as DatapathEvent['verdict'],
        dropReasonName: 'policy_denied',
        endpointId: ep('empire/deathstar').endpointId,
        localIdentity: ids.get('empire/deathstar')!,
        peerIdentity: ids.get('empire/tiefighter')!,
        source: { address: '10.200.0.11', port: 40001 },
        destination: { address: '10.200.0.10', port: 22 },
      }),
      enrichment,
    );
    assert.equal(flow.verdict, 'AUDIT');
    assert.equal(flow.policy, 'default-deny');
  });

  test('an unknown endpoint and identity still give a flow, without pods or policy', () => {
    const flow = kernelEventToFlow(
      event({ direction: 'egress', verdict: 'allowed', endpointId: 9999, localIdentity: 70000, peerIdentity: 2, source: { address: '10.9.9.9', port: 1 }, destination: { address: '1.1.1.1', port: 443 } }),
      enrichment,
    );
    assert.equal(flow.verdict, 'FORWARDED');
    assert.equal(flow.source.pod, undefined);
    assert.ok(flow.destination.labels?.includes('reserved:world'));
    assert.equal(flow.policy, undefined);
  });

  test('monotonic timestamps become wall-clock times', () => {
    assert.equal(monotonicToIso(1_000_000_000n, 3_000_000_000n, Date.parse('2026-01-01T00:00:10.000Z')), '2026-01-01T00:00:08.000Z');
  });
});
