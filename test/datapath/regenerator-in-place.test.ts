// The DNS learning path end to end on the kernel: a selector gains an identity (a learned IP's
// identity, here a pod's) → EndpointPolicyRegenerator.selectionsChanged → Datapath.updatePolicies
// writes the new peer's entries into the installed trie in place, without a grace period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyMapContent, PolicyUpdateResult } from '../../bpf/index.js';
import { EndpointPolicyRegenerator } from '../../agent/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { cnp, probe, startPodServer, timedConnect, withCluster } from './datapath-harness.js';

test('a selection change reaches the kernel in place, without a grace period, and is enforced', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members }) => {
    const server = await startPodServer(pods[1]!, 'tcp', 7000);
    try {
      const repository = new Repository();
      const selectorCache = new SelectorCache();
      for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
      const endpoints = members.map((m) => repository.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] }));
      selectorCache.addIdentity(members[0]!.identity, endpoints[0]!.identityLabels);
      const loaded = loadPolicyText('t.yaml', cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`));
      for (const p of loaded.policies) repository.upsertPolicy(p);

      const results: PolicyUpdateResult[] = [];
      const regenerator = new EndpointPolicyRegenerator({
        repository,
        selectorCache,
        // The real datapath; results recorded to see which path each write took.
        datapath: {
          replacePolicy: (id: number, c: PolicyMapContent) => dp.replacePolicy(id, c),
          updatePolicies: (items) => {
            const r = dp.updatePolicies(items);
            results.push(...r);
            return r;
          },
        },
        endpointIdOf: (name) => members.find((m) => `default/${m.app}` === name)?.endpointId,
        proxyPortOf: () => undefined,
      });
      const changed = new Set<string>();
      selectorCache.onChange((key) => void changed.add(key));

      regenerator.regenerateAll();
      assert.deepEqual(results.map((r) => r.mode), ['swap', 'swap'], 'the first policies are swapped in (no trie yet)');
      assert.equal((await timedConnect(pods[0]!, members[1]!.ipv4, 7000)).code, 'EPERM', 'the server is not selected yet');

      // The server's identity appears (for toFQDNs: the identity of a learned IP).
      selectorCache.addIdentity(members[1]!.identity, endpoints[1]!.identityLabels);
      assert.ok(changed.size > 0);
      results.length = 0;
      const t0 = process.hrtime.bigint();
      regenerator.selectionsChanged(changed);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.deepEqual(results.map((r) => r.mode), ['in-place'], JSON.stringify(results));
      assert.ok(ms < 8, `selection change → kernel took ${ms.toFixed(3)} ms`);
      assert.equal((await probe(pods[0]!, ['tcp', members[1]!.ipv4, '7000'])).ok, true, 'the new peer is allowed');

      // And it goes again (a learned IP expires).
      changed.clear();
      selectorCache.removeIdentity(members[1]!.identity);
      results.length = 0;
      regenerator.selectionsChanged(changed);
      assert.deepEqual(results.map((r) => r.mode), ['in-place']);
      assert.equal((await timedConnect(pods[0]!, members[1]!.ipv4, 7000)).code, 'EPERM', 'the removed peer is denied again');
    } finally {
      server.stop();
    }
  });
});
