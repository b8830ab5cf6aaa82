// The encoded keys against the kernel's own LPM tries (maps created here, nothing attached):
// the policy trie's longest-prefix answers are the ones decideFromEntries assumes, and the
// ipcache table's lookups, batches and replaceAll behave as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap } from '../addon/index.js';
import { BPF_F_NO_PREALLOC, IPPROTO, POLICY_PREFIX_FULL } from './constants.js';
import { STRUCT_LAYOUTS, decodePolicyValue, encodePolicyKey, encodePolicyValue } from './codecs.js';
import { IpcacheTable } from './ipcache-table.js';
import { decideFromEntries, type PolicyMapEntry } from './policy-entries.js';
import { POLICY_FLAGS, POLICY_L7_SPAN_NONE } from './constants.js';

function withMap<T>(o: Parameters<typeof BpfMap.create>[0], fn: (m: BpfMap) => T): T {
  if (process.getuid?.() !== 0) throw new Error('creating BPF maps needs root (CAP_BPF)');
  const map = BpfMap.create(o);
  try {
    return fn(map);
  } finally {
    map.close();
  }
}

test("the kernel's LPM trie finds the entry decideFromEntries expects for every port", () => {
  const v = (flags: number, proxyPort = 0, l7Span = POLICY_L7_SPAN_NONE) => ({ flags, proxyPort, l7Span });
  const entries: PolicyMapEntry[] = [
    { key: { peerIdentity: 0, direction: 1, protocol: IPPROTO.TCP, port: 0, portPrefixBits: 0 }, value: v(POLICY_FLAGS.allow) },
    { key: { peerIdentity: 0, direction: 1, protocol: IPPROTO.TCP, port: 8000, portPrefixBits: 13 }, value: v(POLICY_FLAGS.l7, 15001, 7) },
    { key: { peerIdentity: 0, direction: 1, protocol: IPPROTO.TCP, port: 8004, portPrefixBits: 16 }, value: v(POLICY_FLAGS.deny) },
    { key: { peerIdentity: 1000, direction: 1, protocol: IPPROTO.TCP, port: 8000, portPrefixBits: 14 }, value: v(POLICY_FLAGS.allow) },
    { key: { peerIdentity: 1000, direction: 0, protocol: IPPROTO.UDP, port: 53, portPrefixBits: 16 }, value: v(POLICY_FLAGS.allow) },
  ];
  withMap(
    { type: 'lpm_trie', keySize: STRUCT_LAYOUTS.policy_key.size, valueSize: STRUCT_LAYOUTS.policy_value.size, maxEntries: entries.length, flags: BPF_F_NO_PREALLOC },
    (trie) => {
      trie.updateBatch(entries.map((e) => encodePolicyKey(e.key)), entries.map((e) => encodePolicyValue(e.value)));
      for (const peer of [1000, 0]) {
        for (const direction of [0, 1]) {
          for (const port of [1, 53, 7999, 8000, 8003, 8004, 8005, 8007, 8008, 65535]) {
            for (const protocol of [IPPROTO.TCP, IPPROTO.UDP]) {
              const key = encodePolicyKey({ peerIdentity: peer, direction, protocol, port, portPrefixBits: 16 });
              assert.equal(key.readUInt32LE(0), POLICY_PREFIX_FULL);
              const raw = trie.lookup(key);
              const expected = entries
                .filter((e) => e.key.peerIdentity === peer && e.key.direction === direction && e.key.protocol === protocol)
                .filter((e) => port >>> (16 - e.key.portPrefixBits) === e.key.port >>> (16 - e.key.portPrefixBits))
                .sort((a, b) => b.key.portPrefixBits - a.key.portPrefixBits)[0];
              assert.deepEqual(raw && decodePolicyValue(raw), expected?.value, `peer ${peer} dir ${direction} proto ${protocol} port ${port}`);
            }
          }
        }
      }
      // And the combination over both probes, as bpf/lib/policy.h does it.
      assert.equal(decideFromEntries(entries, { direction: 'egress', peerIdentity: 1000, protocol: IPPROTO.TCP, port: 8004 }).verdict, 'denied');
      assert.equal(decideFromEntries(entries, { direction: 'egress', peerIdentity: 1000, protocol: IPPROTO.TCP, port: 8001 }).verdict, 'allowed', 'a plain allow of the peer beats the L7 entry of any peer');
      assert.deepEqual(decideFromEntries(entries, { direction: 'egress', peerIdentity: 1001, protocol: IPPROTO.TCP, port: 8005 }), { verdict: 'redirected', dropReason: 0, proxyPort: 15001 });
    },
  );
});

test('the ipcache table answers longest-prefix lookups, world on a miss, and replaceAll leaves exactly the new set', () => {
  withMap(
    { type: 'lpm_trie', keySize: STRUCT_LAYOUTS.ipcache_key.size, valueSize: STRUCT_LAYOUTS.ipcache_value.size, maxEntries: 64, flags: BPF_F_NO_PREALLOC },
    (map) => {
      const ipcache = new IpcacheTable(map);
      ipcache.upsert('10.244.0.0/16', 6);
      ipcache.upsert('10.244.0.12', 1000);
      ipcache.upsert('fd44:244::/48', 6);
      assert.equal(ipcache.identityOf('10.244.0.12'), 1000);
      assert.equal(ipcache.identityOf('10.244.7.7'), 6);
      assert.equal(ipcache.identityOf('::ffff:10.244.7.7'), 6, 'v4-mapped is IPv4');
      assert.equal(ipcache.identityOf('fd44:244::99'), 6);
      assert.equal(ipcache.identityOf('8.8.8.8'), 9);
      assert.equal(ipcache.identityOf('2001:db8::1'), 10);
      assert.equal(ipcache.identityOf('0.0.0.0'), 9, 'an IPv4 prefix never matches as IPv6 and back');

      const r = ipcache.replaceAll([
        ['10.244.0.12/32', 1000],
        ['10.244.0.13/32', 1001],
        ['fd44:244::/48', 7],
      ]);
      assert.deepEqual(r, { upserted: 2, deleted: 1 });
      assert.deepEqual(ipcache.entries().sort(), [
        ['10.244.0.12/32', 1000],
        ['10.244.0.13/32', 1001],
        ['fd44:244::/48', 7],
      ]);
      assert.equal(ipcache.delete('10.244.0.13/32'), true);
      assert.equal(ipcache.delete('10.244.0.13/32'), false);
    },
  );
});
