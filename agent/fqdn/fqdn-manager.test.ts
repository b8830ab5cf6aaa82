// FqdnManager with the real policy chain (loader, Repository, IdentityAllocator with its state
// file, SelectorCache, translateEndpointPolicy through EndpointPolicyRegenerator); the kernel's
// maps are replaced by tables that record what they were given (the real-kernel version is
// test/dns/fqdn-pod.test.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECTION } from '../../bpf/index.js';
import type { PolicyMapContent } from '../../bpf/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import type { Policy } from '../../policy/index.js';
import type { DnsAnswerEvent } from '../../proxylib/index.js';
import { FQDN_STATE_FILE } from './fqdn-state-file.js';
import { FqdnManager } from './fqdn-manager.js';
import type { FqdnManagerOptions } from './fqdn-manager.js';
import { EndpointPolicyRegenerator } from './policy-regenerator.js';

const root = mkdtempSync(join(tmpdir(), 'meshd-fqdn-manager-'));
const allocators: IdentityAllocator[] = [];
// Allocators save in the background; every write must be done before the directory goes.
after(async () => {
  await Promise.allSettled(allocators.map((a) => a.flush()));
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;

const POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: egress-api, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
    - toFQDNs: [{ matchName: api.example.com }, { matchPattern: "*.cdn.test" }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]
`;

function policies(yaml: string): Policy[] {
  const loaded = loadPolicyText('p.yaml', yaml);
  assert.deepEqual(loaded.problems, []);
  return loaded.policies;
}

class RecordingIpcache {
  readonly map = new Map<string, number>();
  upsert(prefix: string, identity: number): void {
    this.map.set(prefix, identity);
  }
  delete(prefix: string): boolean {
    return this.map.delete(prefix);
  }
  entries(): Array<[string, number]> {
    return [...this.map];
  }
}

/** One agent's worth of state; `stateDir` and `ipcache` survive into the next one to model a restart. */
async function agent(opts: { stateDir?: string; ipcache?: RecordingIpcache; clock: { now: number }; yaml?: string } & Partial<FqdnManagerOptions>) {
  const stateDir = opts.stateDir ?? join(root, `agent-${dirs++}`);
  const ipcache = opts.ipcache ?? new RecordingIpcache();
  const { allocator } = await IdentityAllocator.open(stateDir);
  allocators.push(allocator);
  const selectorCache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
  const repository = new Repository();
  const ep = repository.upsertEndpoint({ name: 'client', namespace: 'default', labels: { app: 'client' }, ips: ['10.244.0.10'], namedPorts: [] });
  selectorCache.addIdentity(allocator.allocate(ep.identityLabels).id, ep.identityLabels);
  const loaded = policies(opts.yaml ?? POLICY);
  for (const p of loaded) repository.upsertPolicy(p);
  const installed = new Map<number, PolicyMapContent>();
  const regenerator = new EndpointPolicyRegenerator({
    repository,
    selectorCache,
    datapath: { replacePolicy: (id, content) => void installed.set(id, content) },
    endpointIdOf: (name) => (name === 'default/client' ? 7 : undefined),
    proxyPortOf: () => undefined,
  });
  const { manager, warnings } = await FqdnManager.open({
    gcIntervalMs: 0,
    ...opts,
    stateDir,
    allocator,
    selectorCache,
    ipcache,
    policyUpdater: regenerator,
    policies: loaded,
    now: () => opts.clock.now,
  });
  regenerator.regenerateAll();
  /** Egress peers the client's installed trie allows (besides "any"). */
  const allowedPeers = () => new Set((installed.get(7)?.entries ?? []).filter((e) => e.key.direction === DIRECTION.egress && e.key.peerIdentity !== 0).map((e) => e.key.peerIdentity));
  return { manager, warnings, ipcache, allocator, stateDir, allowedPeers, repository, regenerator };
}

function answer(queryName: string, addresses: Array<[string, number]>, chain: string[] = []): DnsAnswerEvent {
  return {
    endpoint: 'default/client',
    endpointIps: ['10.244.0.10'],
    sourceIp: '10.244.0.10',
    queryName,
    names: [queryName, ...chain],
    addresses: addresses.map(([ip, ttl]) => ({ ip, ttl, name: chain.at(-1) ?? queryName })),
    rcode: 'NOERROR',
  };
}

describe('FqdnManager', () => {
  test('an answer for a selected name puts ip/32 with a local identity in the ipcache and the client policy before onAnswer resolves', async () => {
    const clock = { now: 1_000_000 };
    const a = await agent({ clock });
    await a.manager.onAnswer(answer('API.Example.com.', [['192.0.2.1', 60], ['2001:db8::1', 60]]));
    const v4 = a.ipcache.map.get('192.0.2.1/32');
    const v6 = a.ipcache.map.get('2001:db8::1/128');
    assert.ok(v4 !== undefined && v4 >= 16_777_216, `local identity, got ${v4}`);
    assert.ok(v6 !== undefined && v6 !== v4);
    assert.deepEqual(a.allowedPeers(), new Set([v4, v6]));
    assert.deepEqual(a.allocator.lookupById(v4)!.labels.toStrings().filter((l) => l.startsWith('fqdn:')), ['fqdn:api.example.com']);
    await a.manager.close();
  });

  test('IPs of a name no selector matches never enter the ipcache', async () => {
    const a = await agent({ clock: { now: 0 } });
    await a.manager.onAnswer(answer('other.example.com', [['192.0.2.50', 60]]));
    assert.equal(a.ipcache.map.size, 0);
    assert.deepEqual(a.allowedPeers(), new Set());
    assert.equal(a.manager.snapshot().names[0]?.name, 'other.example.com', 'the name is still learned, for a policy added later');
    await a.manager.close();
  });

  test('a CNAME chain attributes the IPs to every name, so a selector on the target or on the query name works (Cilium 20191)', async () => {
    const a = await agent({ clock: { now: 0 } });
    await a.manager.onAnswer(answer('www.shop.test', [['198.51.100.4', 60]], ['edge.cdn.test']));
    const id = a.ipcache.map.get('198.51.100.4/32');
    assert.ok(id !== undefined, 'the wildcard *.cdn.test on the CNAME target selects the IP');
    assert.deepEqual(a.allowedPeers(), new Set([id]));
    await a.manager.onAnswer(answer('api.example.com', [['198.51.100.5', 60]], ['lb.elsewhere.test']));
    assert.ok(a.ipcache.map.has('198.51.100.5/32'), 'the query name api.example.com selects the IP the CNAME target resolved to');
    await a.manager.close();
  });

  test('after the TTL an IP leaves the ipcache and the policy; before it, it stays', async () => {
    const clock = { now: 0 };
    const a = await agent({ clock });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 30]]));
    clock.now = 29_999;
    assert.deepEqual(await a.manager.collectGarbage(), { expired: [], removed: [] });
    assert.ok(a.ipcache.map.has('192.0.2.1/32'));
    clock.now = 30_000;
    assert.deepEqual(await a.manager.collectGarbage(), { expired: ['192.0.2.1'], removed: ['192.0.2.1'] });
    assert.equal(a.ipcache.map.size, 0);
    assert.deepEqual(a.allowedPeers(), new Set());
    await a.manager.close();
  });

  test('a minimum TTL keeps an IP answered with TTL 0', async () => {
    const clock = { now: 0 };
    const a = await agent({ clock, minTtlSeconds: 5 });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 0]]));
    clock.now = 4_999;
    await a.manager.collectGarbage();
    assert.ok(a.ipcache.map.has('192.0.2.1/32'));
    clock.now = 5_000;
    await a.manager.collectGarbage();
    assert.equal(a.ipcache.map.size, 0);
    await a.manager.close();
  });

  test('the idle grace period keeps an expired IP for that long, and a recent unconnected-UDP flow keeps it longer', async () => {
    const clock = { now: 0 };
    const lastUse = new Map<string, number>();
    const a = await agent({ clock, idleGracePeriodMs: 2_000, udpFlowIdleMs: 10_000, flowActivity: { lastUse: (ips) => new Map([...lastUse].filter(([ip]) => ips.has(ip))) } });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 1], ['192.0.2.2', 1]]));
    lastUse.set('192.0.2.2', 500);
    clock.now = 2_999;
    assert.deepEqual(await a.manager.collectGarbage(), { expired: ['192.0.2.1', '192.0.2.2'], removed: [] });
    assert.equal(a.manager.snapshot().zombies.length, 2);
    clock.now = 3_000; // expiry 1 s + grace 2 s
    assert.deepEqual((await a.manager.collectGarbage()).removed, ['192.0.2.1']);
    assert.ok(a.ipcache.map.has('192.0.2.2/32'), 'the UDP flow seen at 0.5 s counts as open until 10.5 s, plus the grace');
    clock.now = 12_500;
    assert.deepEqual((await a.manager.collectGarbage()).removed, ['192.0.2.2']);
    assert.equal(a.ipcache.map.size, 0);
    await a.manager.close();
  });

  test('an IP evicted by the per-name cap leaves the ipcache like an expired one', async () => {
    const a = await agent({ clock: { now: 0 }, maxIpsPerName: 1 });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 60]]));
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.2', 60]]));
    await a.manager.collectGarbage();
    assert.deepEqual([...a.ipcache.map.keys()], ['192.0.2.2/32']);
    await a.manager.close();
  });

  test('removing the toFQDNs policy takes learned IPs out of the ipcache, and adding it back puts them in again', async () => {
    const a = await agent({ clock: { now: 0 } });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 60]]));
    a.manager.updatePolicies([]);
    assert.equal(a.ipcache.map.size, 0);
    a.manager.updatePolicies(policies(POLICY));
    assert.ok(a.ipcache.map.has('192.0.2.1/32'));
    assert.deepEqual(a.allowedPeers(), new Set([a.ipcache.map.get('192.0.2.1/32')]));
    await a.manager.close();
  });

  test('an IP inside a policy CIDR carries that cidr label too, so a toCIDR rule still selects it', async () => {
    const yaml = `${POLICY}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: egress-cidr, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
    - toCIDR: [192.0.2.0/24]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]
`;
    const a = await agent({ clock: { now: 0 }, yaml });
    await a.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 60]]));
    const id = a.ipcache.map.get('192.0.2.1/32')!;
    assert.ok(a.allocator.lookupById(id)!.labels.toStrings().includes('cidr:192.0.2.0/24'));
    assert.ok(a.allowedPeers().has(id));
    await a.manager.close();
  });

  test('a restarted agent restores the cache before any answer: same identities, ipcache entries back, expired ones deleted (Cilium 30984)', async () => {
    const clock = { now: 0 };
    const first = await agent({ clock });
    await first.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 300]]));
    await first.manager.onAnswer(answer('x.cdn.test', [['192.0.2.2', 10]]));
    const before = new Map(first.ipcache.map);
    await first.manager.close();
    await first.allocator.flush();

    // The kernel's ipcache outlives the agent; the new one starts with what it held, plus an
    // fqdn entry learned after the last save (its identity is in identities.json).
    first.ipcache.map.set('192.0.2.77/32', before.get('192.0.2.2/32')!);
    clock.now = 20_000;
    const second = await agent({ clock, stateDir: first.stateDir, ipcache: first.ipcache });
    assert.deepEqual(second.warnings, []);
    assert.equal(second.ipcache.map.get('192.0.2.1/32'), before.get('192.0.2.1/32'), 'same identity number');
    assert.equal(second.ipcache.map.has('192.0.2.2/32'), false, 'expired while the agent was down');
    assert.equal(second.ipcache.map.has('192.0.2.77/32'), false, 'an fqdn entry no saved IP explains');
    assert.deepEqual(second.allowedPeers(), new Set([before.get('192.0.2.1/32')]));
    assert.equal(second.manager.snapshot().names.find((n) => n.name === 'api.example.com')?.ips[0]?.expiresAtMs, 300_000);
    await second.manager.close();
  });

  test('a corrupt state file is moved aside with a warning and the manager starts empty', async () => {
    const stateDir = join(root, 'corrupt');
    const clock = { now: 0 };
    const first = await agent({ clock, stateDir });
    await first.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 300]]));
    await first.manager.close();
    writeFileSync(join(stateDir, FQDN_STATE_FILE), '{"version":1,"names":[');
    const second = await agent({ clock, stateDir, ipcache: new RecordingIpcache() });
    assert.equal(second.warnings.length, 1);
    assert.equal(second.warnings[0]!.code, 'MESHD_ERR_FQDN_STATE_CORRUPT');
    assert.match(second.warnings[0]!.message, /moved to .*corrupt-/);
    assert.ok(readdirSync(stateDir).some((f) => f.startsWith(`${FQDN_STATE_FILE}.corrupt-`)));
    await second.manager.onAnswer(answer('api.example.com', [['192.0.2.1', 300]]));
    assert.ok(second.ipcache.map.has('192.0.2.1/32'));
    await second.manager.close();
    assert.ok(existsSync(join(stateDir, FQDN_STATE_FILE)));
  });

  test('options out of range are refused with MESHD_ERR_FQDN_INVALID_OPTION', async () => {
    await assert.rejects(agent({ clock: { now: 0 }, maxIpsPerName: 0 }), { code: 'MESHD_ERR_FQDN_INVALID_OPTION', message: /maxIpsPerName/ });
    await assert.rejects(agent({ clock: { now: 0 }, minTtlSeconds: -1 }), { code: 'MESHD_ERR_FQDN_INVALID_OPTION' });
  });
});
