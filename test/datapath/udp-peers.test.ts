// The unconnected-UDP record (meshd_udp_peers_v1) read back: a pod's datagram shows up in
// Datapath.udpPeers() and in readPinnedUdpPeers() with its peer and a wall-clock time, and the
// agent's UdpPeerActivity answers from it, given a pin root or the Datapath.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPinnedUdpPeers } from '../../bpf/index.js';
import { UdpPeerActivity } from '../../agent/index.js';
import { probe, startPodServer, withCluster } from './datapath-harness.js';

test('a pod\'s unconnected datagrams are listed by udpPeers with peer and time, and UdpPeerActivity reports their last use', { timeout: 60_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members, pinRoot }) => {
    const server = members[1]!;
    const udp4 = await startPodServer(pods[1]!, 'udp4', 7001);
    const udp6 = await startPodServer(pods[1]!, 'udp6', 7001);
    try {
      assert.deepEqual(dp.udpPeers(), [], 'nothing sent yet');
      const before = Date.now();
      for (const address of [server.ipv4, server.ipv6]) {
        const r = await probe(pods[0]!, ['udp', address, '7001', 'x']);
        assert.equal(r.ok, true, JSON.stringify(r));
      }
      // Connected UDP is judged once at connect and is not recorded.
      assert.equal((await probe(pods[0]!, ['udp', server.ipv4, '7001', 'x', 'connected'])).ok, true);
      const after = Date.now();

      const all = dp.udpPeers();
      // The server pod's replies come from its unconnected sockets too: one per client port.
      const client = members[0]!;
      assert.equal(all.filter((p) => p.address === client.ipv4 || p.address === client.ipv6).length, 3, JSON.stringify(all, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
      const peers = all.filter((p) => p.address === server.ipv4 || p.address === server.ipv6).sort((a, b) => a.family - b.family);
      assert.deepEqual(
        peers.map((p) => [p.family, p.address, p.port]),
        [
          [4, server.ipv4, 7001],
          [6, server.ipv6, 7001],
        ],
        'the client\'s two unconnected sends, not the connected one',
      );
      for (const p of peers) {
        assert.ok(p.cookie > 0n);
        // Clock conversion at millisecond resolution; a little slack for rounding.
        assert.ok(p.lastSendAt >= before - 5 && p.lastSendAt <= after + 5, `lastSendAt ${p.lastSendAt} in [${before}, ${after}]`);
      }
      const pinned = readPinnedUdpPeers(pinRoot).filter((p) => p.address === server.ipv4 || p.address === server.ipv6).sort((a, b) => a.family - b.family);
      assert.deepEqual(pinned.map(({ lastSendAt: _, ...p }) => p), peers.map(({ lastSendAt: _, ...p }) => p), 'the pinned reader sees the same entries');

      for (const activity of [new UdpPeerActivity(pinRoot), new UdpPeerActivity(dp)]) {
        const lastUse = activity.lastUse(new Set([server.ipv4, server.ipv6, '192.0.2.1']));
        assert.deepEqual([...lastUse.keys()].sort(), [server.ipv4, server.ipv6].sort());
        for (const at of lastUse.values()) assert.ok(at >= before - 5 && at <= after + 5);
      }
      assert.throws(() => readPinnedUdpPeers(`${pinRoot}-absent`), { code: 'MESHD_ERR_DATAPATH_NOT_LOADED' });
    } finally {
      udp4.stop();
      udp6.stop();
    }
  });
});
