// How EndpointPolicyRegenerator hands policies to the datapath: all endpoints of one call in one
// write (in place where the datapath can, else one batch swap), and only the endpoints whose
// selectors changed. The kernel side is tested in test/datapath/regenerator-in-place.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyMapContent } from '../../bpf/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { EndpointPolicyRegenerator, type PolicyWriter } from './policy-regenerator.js';

const POLICY = `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: to-db, namespace: default }
spec:
  endpointSelector: { matchLabels: { role: web } }
  egress:
    - toEndpoints: [{ matchLabels: { app: db } }]
      toPorts: [{ ports: [{ port: "5432", protocol: TCP }] }]
`;

type Items = ReadonlyArray<{ endpointId: number; content: PolicyMapContent }>;

function setup(writer: PolicyWriter) {
  const repository = new Repository();
  const selectorCache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
  const ids = new Map<string, number>();
  const add = (name: string, labels: Record<string, string>, identity: number, id: number) => {
    const ep = repository.upsertEndpoint({ name, namespace: 'default', labels, ips: [`10.244.0.${id}`], namedPorts: [] });
    selectorCache.addIdentity(identity, ep.identityLabels);
    ids.set(`default/${name}`, id);
    return ep;
  };
  add('web-1', { role: 'web' }, 1001, 11);
  add('web-2', { role: 'web' }, 1002, 12);
  add('other', { role: 'other' }, 1003, 13);
  const db = repository.upsertEndpoint({ name: 'db', namespace: 'default', labels: { app: 'db' }, ips: ['10.244.0.20'], namedPorts: [] });
  for (const p of loadPolicyText('p.yaml', POLICY).policies) repository.upsertPolicy(p);
  const regenerator = new EndpointPolicyRegenerator({ repository, selectorCache, datapath: writer, endpointIdOf: (n) => ids.get(n), proxyPortOf: () => undefined });
  const changed = new Set<string>();
  selectorCache.onChange((key) => void changed.add(key));
  return { regenerator, selectorCache, changed, dbLabels: db.identityLabels };
}

describe('EndpointPolicyRegenerator', () => {
  test('regenerateAll writes every endpoint of this node with one updatePolicies call', () => {
    const calls: Items[] = [];
    const { regenerator } = setup({ replacePolicy: () => assert.fail('replacePolicy is the last resort'), updatePolicies: (items) => void calls.push(items) });
    regenerator.regenerateAll();
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.map((i) => i.endpointId).sort(), [11, 12, 13]);
  });

  test('a selection change rewrites only the endpoints that use the selector, in one call', () => {
    const calls: Items[] = [];
    const { regenerator, selectorCache, changed, dbLabels } = setup({ replacePolicy: () => assert.fail('unexpected'), updatePolicies: (items) => void calls.push(items) });
    regenerator.regenerateAll();
    calls.length = 0;
    selectorCache.addIdentity(2001, dbLabels);
    regenerator.selectionsChanged(changed);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.map((i) => i.endpointId).sort(), [11, 12], 'the endpoint without the rule is left alone');
    assert.ok(calls[0]![0]!.content.entries.some((e) => e.key.peerIdentity === 2001), 'the new identity is in the content');
  });

  test('without updatePolicies it falls back to one replacePolicies batch, then to replacePolicy per endpoint', () => {
    const batches: Items[] = [];
    setup({ replacePolicy: () => assert.fail('unexpected'), replacePolicies: (items) => void batches.push(items) }).regenerator.regenerateAll();
    assert.equal(batches.length, 1);
    const single: number[] = [];
    setup({ replacePolicy: (id) => void single.push(id) }).regenerator.regenerateAll();
    assert.deepEqual(single.sort(), [11, 12, 13]);
  });
});
