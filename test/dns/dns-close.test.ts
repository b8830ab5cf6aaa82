// Closing the proxy closes every UDP socket the DNS proxy opened: the listener's and the pooled
// upstream sockets to the resolver (which belong to the data plane, not to the process). Counted from
// /proc: the process's socket inodes that /proc/net/udp{,6} list, so unref'd sockets count too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ProxyHarness, envoyMessages, staticClusterJson } from '../proxy/harness.js';
import { dig, dnsPolicyJson, requireTools, startDnsmasq, udpDnsListenerJson } from './dns-harness.js';

/** UDP sockets this process has open. */
function openUdpSockets(): number {
  const udpInodes = new Set<string>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) udpInodes.add(inode);
    }
  }
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed while listing
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && udpInodes.has(m[1]!)) count++;
  }
  return count;
}

test('closing the proxy leaves no UDP socket of the DNS proxy open, upstream pool included', { timeout: 60_000 }, async () => {
  await requireTools();
  const h = await ProxyHarness.start({ nodeId: 'dns-close' });
  try {
    const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3']);
    h.setSnapshot(
      envoyMessages({
        listeners: [udpDnsListenerJson('dns-udp', [dnsPolicyJson()])],
        clusters: [staticClusterJson('resolver', [{ host: dnsmasq.address, port: dnsmasq.port }])],
      }),
    );
    const before = openUdpSockets();
    const proxy = await h.startProxy();
    const at = proxy.listenerAddress('dns-udp');
    assert.ok(at, 'the UDP listener is bound');
    // Several queries at once, so the pool opens more than one upstream socket.
    const answers = await Promise.all(Array.from({ length: 8 }, () => dig(at, 'api.allowed.test')));
    for (const a of answers) assert.equal(a.status, 'NOERROR', a.raw);
    const during = openUdpSockets();
    assert.ok(during >= before + 2, `the listener and at least one upstream socket are open (${before} before, ${during} now)`);
    await proxy.close();
    assert.equal(openUdpSockets(), before, 'every UDP socket the proxy opened is closed');
  } finally {
    await h.close();
  }
});
