// Pods resolve as applications do — glibc's getaddrinfo (Python's socket.getaddrinfo) against the
// nameserver of their resolv.conf on port 53 — through the kernel's redirect to the built-in DNS
// proxy, with FqdnManager learning the answers; then connect to what they got. IPv4 and IPv6
// (AAAA answers, /128 ipcache entries, connect6). Needs root and BPF; fails with the missing
// piece's name otherwise. The world is test/dns/pod-resolver-harness.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timedConnect } from '../datapath/datapath-harness.js';
import { withPodResolver } from './pod-resolver-harness.js';

const T = { timeout: 180_000 };

describe('getaddrinfo from a pod through the DNS proxy and toFQDNs', () => {
  test('an allowed name resolves and connects, a denied one fails with EAI_AGAIN from REFUSED, a CNAME and a wildcard name resolve and connect', T, async () => {
    await withPodResolver(async (w) => {
      const agent = await w.startAgent();
      const proxy = await w.startProxy(agent.observer);
      const { answer, other, cname, wild } = w.addresses;
      const pod = w.cluster.pods[0]!;

      // Nothing learned yet: the kernel denies the answer's address.
      assert.equal((await timedConnect(pod, answer, w.serverPort)).code, 'EPERM');

      const allowed = await w.getaddrinfo('api.allowed.test', 4, w.serverPort);
      assert.equal(allowed.resolved, true, JSON.stringify(allowed));
      assert.deepEqual(allowed.addresses, [answer]);
      assert.equal(allowed.connect, 'OK', 'the first connect after getaddrinfo returned is allowed');

      // REFUSED from the proxy: glibc gives up on the server (attempts:1) and getaddrinfo says
      // "temporary failure" — quickly, not after the 2 s timeout, so it was an answer.
      const deniedBefore = proxy.stats()['dns.queries.denied.dns_name_denied'] ?? 0;
      const denied = await w.getaddrinfo('denied.test', 4);
      assert.equal(denied.resolved, false, JSON.stringify(denied));
      assert.equal(denied.error, 'EAI_AGAIN', JSON.stringify(denied));
      assert.ok(denied.ms < 1500, `failed after ${denied.ms} ms: an answer, not a timeout`);
      assert.ok((proxy.stats()['dns.queries.denied.dns_name_denied'] ?? 0) > deniedBefore, 'the proxy refused it');
      // dig sees the same answer as REFUSED.
      assert.equal((await w.dig('denied.test')).status, 'REFUSED');
      assert.deepEqual((await timedConnect(pod, other, w.serverPort)).codes, ['EPERM'], 'an IP no allowed answer returned');

      // A CNAME chain: getaddrinfo follows it (canonical name = the target), the IP is learned for
      // the target's wildcard selector.
      const viaCname = await w.getaddrinfo('shop.alias.test', 4, w.serverPort);
      assert.equal(viaCname.resolved, true, JSON.stringify(viaCname));
      assert.deepEqual(viaCname.addresses, [cname]);
      assert.equal(viaCname.canonname, 'edge.cdn.test');
      assert.equal(viaCname.connect, 'OK');

      // A wildcard DNS rule and toFQDNs pattern.
      const wildcard = await w.getaddrinfo('eu.wild.test', 4, w.serverPort);
      assert.equal(wildcard.resolved, true, JSON.stringify(wildcard));
      assert.deepEqual(wildcard.addresses, [wild]);
      assert.equal(wildcard.connect, 'OK');

      // Every answer was learned before it was released.
      for (const name of ['api.allowed.test', 'shop.alias.test', 'eu.wild.test']) {
        const seen = agent.observed.find((o) => o.event.queryName === name);
        assert.ok(seen, `the learning side saw ${name}`);
        assert.ok(seen.kernelIdentities.every((id) => id >= 16_777_216), `${name}: local identities ${seen.kernelIdentities}`);
      }
    });
  });

  test('an AAAA answer is learned as a /128 and a connect to it over IPv6 is allowed, while an IPv6 address no allowed answer returned is denied', T, async () => {
    await withPodResolver(async (w) => {
      const agent = await w.startAgent();
      await w.startProxy(agent.observer);
      const { answer6, other6 } = w.addresses;
      const pod = w.cluster.pods[0]!;
      const { dp } = w.cluster;

      assert.equal((await timedConnect(pod, answer6, w.serverPort)).code, 'EPERM', 'nothing learned yet');

      const v6 = await w.getaddrinfo('v6.allowed.test', 6, w.serverPort);
      assert.equal(v6.resolved, true, JSON.stringify(v6));
      assert.deepEqual(v6.addresses, [answer6]);
      assert.equal(v6.connect, 'OK', 'connect6 to the learned address');
      const seen = agent.observed.find((o) => o.event.queryName === 'v6.allowed.test');
      assert.ok(seen, 'the learning side saw the AAAA answer');
      assert.deepEqual(seen.event.addresses.map((a) => a.ip), [answer6]);
      assert.ok(dp.ipcache.identityOf(answer6) >= 16_777_216, `a local identity for ${answer6}`);
      assert.ok(agent.manager.identityOf(answer6) !== undefined);

      // An AAAA answer the DNS rule allows but no toFQDNs selector takes: resolved, not allowed.
      const unselected = await w.getaddrinfo('v6denied.test', 6, w.serverPort);
      assert.equal(unselected.resolved, true, JSON.stringify(unselected));
      assert.deepEqual(unselected.addresses, [other6]);
      assert.equal(unselected.connect, 'EPERM', 'the kernel denies an IPv6 address no selected answer returned');
      assert.deepEqual((await timedConnect(pod, other6, w.serverPort)).codes, ['EPERM']);
      // And an IPv6 address that no answer ever returned (connect6 decides before routing).
      const never6 = answer6.replace(/20$/, '99');
      assert.deepEqual((await timedConnect(pod, never6, w.serverPort)).codes, ['EPERM'], `${never6}, never answered`);
      // And over dig: the AAAA record passes the proxy unchanged.
      const digged = await w.dig('v6.allowed.test', 'AAAA');
      assert.equal(digged.status, 'NOERROR', digged.raw);
      assert.deepEqual(digged.answers.map((a) => a.data), [answer6]);
    });
  });
});
