// Fast policy updates: Datapath.updatePolicy writes only the difference into the installed trie
// (no RCU grace period), Datapath.replacePolicies swaps many tries with one batch, and
// Datapath.readPolicy reads the live trie back. Real pods, real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateEndpointPolicy, type PolicyMapContent, type PolicyMapEntry } from '../../bpf/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { cnp, probe, startPodServer, timedConnect, withCluster, type PodMember } from './datapath-harness.js';

/** The client's trie for `yaml` when only `known` members have identities in the selector cache
 *  (an unknown server is what a toFQDNs rule looks like before its name was answered). */
function contentFor(yaml: string, members: readonly PodMember[], app: string, known: readonly PodMember[]): PolicyMapContent {
  const loaded = loadPolicyText('t.yaml', yaml);
  assert.deepEqual(loaded.problems, []);
  const repo = new Repository();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  for (const m of members) {
    const ep = repo.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] });
    if (known.includes(m)) cache.addIdentity(m.identity, ep.identityLabels);
  }
  for (const p of loaded.policies) repo.upsertPolicy(p);
  return translateEndpointPolicy(repo.endpointPolicy(`default/${app}`)!, { identitiesOf: (s) => cache.register(s).selections(), proxyPortOf: () => undefined });
}

const sortEntries = (entries: readonly PolicyMapEntry[]): string[] =>
  entries
    .map(({ key: k, value: v }) => `${k.direction} ${k.peerIdentity} ${k.protocol} ${k.port}/${k.portPrefixBits} → flags ${v.flags} proxy ${v.proxyPort} span ${v.l7Span}`)
    .sort();

const CLIENT_TO_SERVER = cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`);

test('updatePolicy adds and removes a peer in place, without a swap, and readPolicy shows the live entries', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members }) => {
    const server = await startPodServer(pods[1]!, 'tcp', 7000);
    try {
      const [client] = pods;
      const target = members[1]!.ipv4;
      const without = contentFor(CLIENT_TO_SERVER, members, 'client', [members[0]!]);
      const withServer = contentFor(CLIENT_TO_SERVER, members, 'client', members);
      assert.ok(withServer.entries.length > without.entries.length, 'the server identity adds entries');

      assert.deepEqual(dp.updatePolicy(1, without), { mode: 'swap', swapReason: 'no-trie', added: without.entries.length, changed: 0, deleted: 0 });
      assert.equal((await timedConnect(client!, target, 7000)).code, 'EPERM', 'no allow before the peer is known');
      assert.deepEqual(sortEntries(dp.readPolicy(1)!), sortEntries(without.entries));

      const add = dp.updatePolicy(1, withServer);
      assert.equal(add.mode, 'in-place', JSON.stringify(add));
      assert.equal(add.added, withServer.entries.length - without.entries.length);
      assert.equal(add.deleted, 0);
      assert.deepEqual(sortEntries(dp.readPolicy(1)!), sortEntries(withServer.entries), 'the kernel trie holds exactly the new content');
      assert.equal((await probe(client!, ['tcp', target, '7000'])).ok, true, 'the in-place allow is enforced at once');
      assert.equal((await timedConnect(client!, target, 7001)).code, 'EPERM', 'and nothing more');

      assert.equal(dp.updatePolicy(1, withServer).mode, 'unchanged');
      const remove = dp.updatePolicy(1, without);
      assert.equal(remove.mode, 'in-place', JSON.stringify(remove));
      assert.equal(remove.deleted, add.added);
      assert.equal((await timedConnect(client!, target, 7000)).code, 'EPERM', 'the removed peer is denied again');
      assert.deepEqual(sortEntries(dp.readPolicy(1)!), sortEntries(without.entries));

      // A rule for any peer changes the any-peer probe: swapped, never written entry by entry.
      const anyPeer = contentFor(
        CLIENT_TO_SERVER +
          cnp('client', `  egress:
    - toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`),
        members,
        'client',
        [members[0]!],
      );
      const swap = dp.updatePolicy(1, anyPeer);
      assert.equal(swap.mode, 'swap');
      assert.equal(swap.swapReason, 'any-peer-or-default-changed');
      assert.equal((await probe(client!, ['tcp', target, '7000'])).ok, true, 'the swapped-in any-peer allow is enforced');
      assert.equal(dp.readPolicy(2), undefined, 'an endpoint without a trie reads as undefined');
    } finally {
      server.stop();
    }
  });
});

test('an in-place update costs well under a millisecond, a swap a grace period', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, members }) => {
    const without = contentFor(CLIENT_TO_SERVER, members, 'client', [members[0]!]);
    const withServer = contentFor(CLIENT_TO_SERVER, members, 'client', members);
    dp.replacePolicy(1, without);
    const inPlace = timeEach(40, (i) => assert.equal(dp.updatePolicy(1, i % 2 === 0 ? withServer : without).mode, 'in-place'));
    const swaps = timeEach(6, (i) => dp.replacePolicy(1, i % 2 === 0 ? withServer : without));
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    assert.ok(med(inPlace) < 1, `in-place median ${med(inPlace).toFixed(3)} ms`);
    assert.ok(med(inPlace) * 5 < med(swaps), `in-place median ${med(inPlace).toFixed(3)} ms vs swap median ${med(swaps).toFixed(3)} ms`);
  });
});

test('replacePolicies swaps many endpoints with one batch: every trie lands, for one grace period', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members }) => {
    const server = await startPodServer(pods[1]!, 'tcp', 7000);
    try {
      const withServer = contentFor(CLIENT_TO_SERVER, members, 'client', members);
      const serverContent = contentFor(cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]`), members, 'server', members);
      dp.replacePolicies([
        { endpointId: 1, content: withServer },
        { endpointId: 2, content: serverContent },
      ]);
      assert.deepEqual(sortEntries(dp.readPolicy(1)!), sortEntries(withServer.entries));
      assert.deepEqual(sortEntries(dp.readPolicy(2)!), sortEntries(serverContent.entries));
      assert.equal((await probe(pods[0]!, ['tcp', members[1]!.ipv4, '7000'])).ok, true);
      assert.equal((await timedConnect(pods[0]!, members[1]!.ipv4, 7001)).code, 'EPERM');

      // Many endpoints (ids without attachment are fine for the policy map): one batch vs one by one.
      const count = 24;
      const ids = Array.from({ length: count }, (_, i) => 1000 + i);
      const [batchMs] = timeEach(1, () => dp.replacePolicies(ids.map((endpointId) => ({ endpointId, content: withServer }))));
      for (const id of ids) assert.deepEqual(sortEntries(dp.readPolicy(id)!), sortEntries(withServer.entries), `endpoint ${id}`);
      const [oneByOneMs] = timeEach(1, () => {
        for (const id of ids) dp.replacePolicy(id, withServer);
      });
      assert.ok(batchMs! * 3 < oneByOneMs!, `batch of ${count}: ${batchMs!.toFixed(1)} ms, one by one: ${oneByOneMs!.toFixed(1)} ms`);
      for (const id of ids) dp.removePolicy(id);
      // After a batch the in-place path knows the installed tries.
      assert.equal(dp.updatePolicy(1, contentFor(CLIENT_TO_SERVER, members, 'client', [members[0]!])).mode, 'in-place');
    } finally {
      server.stop();
    }
  });
});

function timeEach(n: number, fn: (i: number) => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

