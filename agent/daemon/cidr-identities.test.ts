import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityAllocator, RESERVED_IDENTITIES, SelectorCache, loadPolicyText, type Policy } from '../../policy/index.js';
import { CidrIdentities, type CidrIpcache } from './cidr-identities.js';

function policies(cidrs: string[]): Policy[] {
  const loaded = loadPolicyText(
    'p.yaml',
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: p, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: a } }
  egress:
    - toCIDR: [${cidrs.map((c) => `"${c}"`).join(', ')}]
`,
  );
  assert.deepEqual(loaded.problems, []);
  return loaded.policies;
}

function memoryIpcache(initial: Array<[string, number]> = []): CidrIpcache & { map: Map<string, number> } {
  const map = new Map(initial);
  return { map, upsert: (p, id) => void map.set(p, id), delete: (p) => map.delete(p), entries: () => [...map] };
}

test('every policy prefix gets a local identity in the selector cache and the ipcache, selected by its own and its containing prefixes', async () => {
  const { allocator } = await IdentityAllocator.open();
  const selectorCache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
  const ipcache = memoryIpcache([['10.244.0.10/32', 1000]]);
  const cidr = new CidrIdentities({ allocator, selectorCache, ipcache });
  cidr.update(policies(['10.0.0.0/8', '10.1.0.0/16', '10.244.0.10/32']));
  const ten = ipcache.map.get('10.0.0.0/8')!;
  const tenOne = ipcache.map.get('10.1.0.0/16')!;
  assert.ok(ten >= 16_777_216 && tenOne >= 16_777_216 && ten !== tenOne);
  assert.equal(ipcache.map.get('10.244.0.10/32'), 1000, "a pod's address keeps the pod's identity");
  const selectsTen = selectorCache.register({ requirements: [{ source: 'cidr', key: '10.0.0.0/8', operator: 'Exists', values: [] }] });
  assert.deepEqual([...selectsTen.selections()].sort(), [ten, tenOne].sort(), '10.1.0.0/16 is inside 10.0.0.0/8');

  cidr.update(policies(['10.0.0.0/8']));
  assert.equal(ipcache.map.has('10.1.0.0/16'), false, 'a prefix no policy names is removed');
  assert.equal(selectorCache.labelsOf(tenOne), undefined);
  assert.notEqual(ipcache.map.get('10.0.0.0/8'), undefined);
});

test("a restarted agent removes a previous agent's CIDR entries that no policy names any more, and keeps the numbers of the others", async () => {
  const { allocator } = await IdentityAllocator.open();
  const selectorCache = new SelectorCache();
  const ipcache = memoryIpcache();
  new CidrIdentities({ allocator, selectorCache, ipcache }).update(policies(['192.168.0.0/16', '172.16.0.0/12']));
  const kept = ipcache.map.get('192.168.0.0/16');
  // Same allocator (as restored from identities.json), a new CidrIdentities (a new agent), fewer prefixes.
  new CidrIdentities({ allocator, selectorCache: new SelectorCache(), ipcache }).update(policies(['192.168.0.0/16']));
  assert.deepEqual([...ipcache.map.keys()], ['192.168.0.0/16']);
  assert.equal(ipcache.map.get('192.168.0.0/16'), kept);
});
