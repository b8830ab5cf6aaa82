// The listeners' handover without pods or BPF: with port handover on (BuiltinProxy option
// portHandover, `meshd proxy --port-handover`), a second built-in proxy binds a running one's DNS
// listener address and port (UDP: SO_REUSEADDR; TCP: SO_REUSEPORT through bpf/addon's
// meshd_reuseport), the first one closes, and clients that keep querying all along get their
// answers; without it a second proxy's bind fails; two listeners of ONE proxy on the same port are
// a bind failure either way; a connection accepted but not read yet when the drain starts is still
// served. dnsmasq on loopback is the resolver (a STATIC cluster).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { ProxyHarness, envoyMessages } from '../proxy/harness.js';
import { reusePortAvailable } from '../../bpf/index.js';
import type { BuiltinProxy } from '../../proxylib/index.js';
import { dnsPolicyJson, freeDnsPort, requireTools, startDnsmasq, tcpDnsListenerJson, udpDnsListenerJson } from './dns-harness.js';

const T = { timeout: 60_000 };

function resolverCluster(port: number): Record<string, unknown> {
  return {
    name: 'resolver',
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: 'resolver', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

/** One A query on a fresh socket (a new source port each time, as a stub resolver); 1 s, one try. */
async function query(port: number, id: number): Promise<'ok' | string> {
  const s = dgram.createSocket('udp4');
  try {
    const answer = new Promise<Buffer>((resolve) => s.on('message', (m) => resolve(m)));
    s.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.allowed.test' }] }), port, '127.0.0.1');
    const got = await Promise.race([answer, sleep(1000).then(() => undefined)]);
    if (!got) return 'timeout';
    const decoded = dnsPacket.decode(got);
    const rcode = got[3]! & 0x0f; // dns-packet's types do not declare the decoded rcode
    return decoded.id === id && rcode === 0 && (decoded.answers ?? []).length > 0 ? 'ok' : `rcode ${rcode}`;
  } finally {
    s.close();
  }
}

/** One A query over TCP on a fresh connection (2-byte length framing); 2 s. */
async function queryTcp(port: number, id: number): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const done = (r: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), 2000);
    s.on('connect', () => s.write(dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.allowed.test' }] })));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const answer = buf.subarray(2, 2 + buf.readUInt16BE(0));
      done(answer.readUInt16BE(0) === id && (answer[3]! & 0x0f) === 0 ? 'ok' : `rcode ${answer[3]! & 0x0f}`);
    });
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    // The proxy closed the connection without an answer.
    s.on('end', () => done('closed without answer'));
  });
}

/**
 * Four clients querying in a closed loop (bounded by count and by stop()) through `ask`, each with
 * its own query ids; every answer other than 'ok' is a failure.
 */
function queryThroughout(ask: (id: number) => Promise<string>): { failures: string[]; sent(): number; stop(): Promise<void> } {
  const failures: string[] = [];
  let sent = 0;
  let running = true;
  const clients = Array.from({ length: 4 }, async (_, c) => {
    for (let i = 0; running && i < 2000; i++) {
      const r = await ask((c * 2000 + i) & 0xffff);
      sent++;
      if (r !== 'ok') failures.push(`client ${c} query ${i}: ${r}`);
    }
  });
  return {
    failures,
    sent: () => sent,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** The proxy's listeners bound on `port`, once at least one is (listeners bind asynchronously); 5 s at most. */
async function boundOn(proxy: BuiltinProxy, port: number): Promise<ReturnType<BuiltinProxy['listeners']>> {
  const deadline = Date.now() + 5000;
  let bound = proxy.listeners().filter((l) => l.bound.port === port);
  while (bound.length === 0 && Date.now() < deadline) {
    await sleep(20);
    bound = proxy.listeners().filter((l) => l.bound.port === port);
  }
  return bound;
}

describe('DNS listener handover between two proxies (UDP and TCP)', () => {
  test('a second proxy joins the listener port, the first closes, and a client querying throughout loses no query', T, async () => {
    await requireTools();
    const h = await ProxyHarness.start({ nodeId: 'udp-handover' });
    try {
      const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3']);
      const port = await freeDnsPort();
      h.setSnapshot(envoyMessages({ listeners: [udpDnsListenerJson('dns-udp', [dnsPolicyJson()], '127.0.0.1', port)], clusters: [resolverCluster(dnsmasq.port)] }));
      const first = await h.startProxy({ portHandover: true });
      const clients = queryThroughout((id) => query(port, id));
      await sleep(300);
      const second = await h.startProxy({ portHandover: true });
      await sleep(200);
      const firstCount = first.stats()['dns.queries'] ?? 0;
      await first.close();
      await sleep(300);
      await clients.stop();
      const { failures } = clients;
      const sent = clients.sent();
      assert.deepEqual(failures, []);
      assert.ok(sent > 100, `only ${sent} queries sent`);
      assert.ok(firstCount > 0 && (second.stats()['dns.queries'] ?? 0) > 0, 'both proxies answered');
    } finally {
      await h.close();
    }
  });

  test('over TCP: the second proxy listens on the same port (SO_REUSEPORT), the first closes, and no connection is refused, reset or left hanging', T, async (t) => {
    await requireTools();
    assert.ok(reusePortAvailable(), 'bpf/addon/build/Release/meshd_reuseport.node is missing: run make build');
    // Connections queued on (or half-open at) the closing listener move to the new one only with
    // net.ipv4.tcp_migrate_req=1; without it a client caught there hangs (measured: about one in a
    // few hundred here). A node running meshd sets it; this test sets it and puts the old value back.
    const MIGRATE = '/proc/sys/net/ipv4/tcp_migrate_req';
    const migrateBefore = readFileSync(MIGRATE, 'utf8').trim();
    writeFileSync(MIGRATE, '1');
    const h = await ProxyHarness.start({ nodeId: 'tcp-handover' });
    try {
      const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3']);
      const port = await freeDnsPort();
      h.setSnapshot(envoyMessages({ listeners: [tcpDnsListenerJson('dns-tcp', dnsPolicyJson(), '127.0.0.1', port)], clusters: [resolverCluster(dnsmasq.port)] }));
      const first = await h.startProxy({ portHandover: true });
      const clients = queryThroughout((id) => queryTcp(port, id));
      await sleep(300);
      const second = await h.startProxy({ portHandover: true });
      assert.deepEqual(second.listeners().map((l) => l.bound.port), [port], 'the second proxy listens on the same port');
      await sleep(200);
      await first.close();
      await sleep(300);
      await clients.stop();
      const { failures } = clients;
      const sent = clients.sent();
      // Every connection reached a proxy. A connection the old proxy accepted but had not read yet
      // when its drain started gets the listener manager's grace (UNREAD_DRAIN_GRACE_MS) to send
      // its query and is answered; one whose client stayed silent past the grace would still be
      // closed without an answer (a retry for the client), which the bound below tolerates.
      const closedByDrain = failures.filter((f) => f.endsWith('closed without answer'));
      assert.deepEqual(failures.filter((f) => !f.endsWith('closed without answer')), []);
      t.diagnostic(`${sent} queries over TCP, ${closedByDrain.length} closed by the old proxy's drain before being read`);
      assert.ok(closedByDrain.length <= Math.max(2, sent / 100), `${closedByDrain.length} of ${sent} closed by the drain`);
      assert.ok(sent > 50, `only ${sent} queries sent`);
    } finally {
      try {
        await h.close();
      } finally {
        writeFileSync(MIGRATE, migrateBefore);
      }
    }
  });

  test('without port handover a second proxy cannot bind the ports of a running one (UDP and TCP: EADDRINUSE)', T, async () => {
    await requireTools();
    const h = await ProxyHarness.start({ nodeId: 'no-handover' });
    try {
      const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3']);
      const port = await freeDnsPort();
      h.setSnapshot(
        envoyMessages({
          listeners: [udpDnsListenerJson('dns-udp', [dnsPolicyJson()], '127.0.0.1', port), tcpDnsListenerJson('dns-tcp', dnsPolicyJson(), '127.0.0.1', port)],
          clusters: [resolverCluster(dnsmasq.port)],
        }),
      );
      const first = await h.startProxy();
      assert.equal(first.listeners().filter((l) => l.bound.port === port).length, 2, 'the first proxy holds both');
      const second = await h.startProxy();
      assert.deepEqual(second.listeners(), [], 'the second proxy binds neither');
      assert.equal(second.stats()['listeners.bound'], 0);
      assert.equal(await query(port, 7), 'ok', 'the first proxy still answers over UDP');
      assert.equal(await queryTcp(port, 8), 'ok', 'and over TCP');
      await second.close();
      // With the option on both sides, the same second bind succeeds (the handover tests above).
    } finally {
      await h.close();
    }
  });

  test('a TCP connection accepted but not read yet when the drain starts is still answered (drain grace)', T, async () => {
    await requireTools();
    const h = await ProxyHarness.start({ nodeId: 'drain-grace' });
    try {
      const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3']);
      const port = await freeDnsPort();
      h.setSnapshot(envoyMessages({ listeners: [tcpDnsListenerJson('dns-tcp', dnsPolicyJson(), '127.0.0.1', port)], clusters: [resolverCluster(dnsmasq.port)] }));
      const proxy = await h.startProxy();
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('error', reject);
      });
      await sleep(100); // accepted by the proxy, nothing sent
      const closing = proxy.close();
      await sleep(200); // the drain has started; the query arrives now
      const answered = new Promise<string>((resolve) => {
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => resolve('timeout'), 3000);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            clearTimeout(timer);
            resolve((buf[5]! & 0x0f) === 0 && buf.readUInt16BE(2) === 4242 ? 'ok' : `rcode ${buf[5]! & 0x0f}`);
          }
        });
        s.once('close', () => {
          clearTimeout(timer);
          resolve('closed without answer');
        });
      });
      s.write(dnsPacket.streamEncode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.allowed.test' }] }));
      assert.equal(await answered, 'ok');
      s.destroy();

      // A client that never sends is still closed, after the grace.
      const t0 = Date.now();
      await closing;
      assert.ok(Date.now() - t0 < 4000, `close took ${Date.now() - t0} ms`);
    } finally {
      await h.close();
    }
  });

  test('during the drain, a connection that sends nothing is closed after the grace', T, async () => {
    const h = await ProxyHarness.start({ nodeId: 'drain-grace-silent' });
    try {
      const port = await freeDnsPort();
      h.setSnapshot(envoyMessages({ listeners: [tcpDnsListenerJson('dns-tcp', dnsPolicyJson(), '127.0.0.1', port)], clusters: [resolverCluster(9)] }));
      const proxy = await h.startProxy();
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      await once(s, 'connect');
      await sleep(100);
      const t0 = Date.now();
      const closed = once(s, 'close').then(() => Date.now() - t0);
      await proxy.close();
      const ms = await closed;
      assert.ok(ms >= 500 && ms < 2500, `closed ${ms} ms after the drain started (grace ${1000} ms)`);
    } finally {
      await h.close();
    }
  });

  test('two UDP listeners of one proxy on the same address and port: the second is a bind failure', T, async () => {
    const h = await ProxyHarness.start({ nodeId: 'udp-same-port' });
    try {
      const port = await freeDnsPort();
      h.setSnapshot(
        envoyMessages({
          listeners: [udpDnsListenerJson('dns-a', [dnsPolicyJson()], '127.0.0.1', port), udpDnsListenerJson('dns-b', [dnsPolicyJson()], '127.0.0.1', port)],
          clusters: [resolverCluster(9)],
        }),
      );
      const proxy = await h.startProxy();
      const bound = await boundOn(proxy, port);
      assert.equal(bound.length, 1, `one listener holds the port: ${JSON.stringify(proxy.listeners())}`);
      assert.ok(proxy.stats()['listeners.configured'] === 2);
    } finally {
      await h.close();
    }
  });

  test('two TCP listeners of one proxy on the same address and port: still one bound, although the sockets use SO_REUSEPORT', T, async () => {
    const h = await ProxyHarness.start({ nodeId: 'tcp-same-port' });
    try {
      const port = await freeDnsPort();
      h.setSnapshot(
        envoyMessages({
          listeners: [tcpDnsListenerJson('dns-tcp-a', dnsPolicyJson(), '127.0.0.1', port), tcpDnsListenerJson('dns-tcp-b', dnsPolicyJson(), '127.0.0.1', port)],
          clusters: [resolverCluster(9)],
        }),
      );
      const proxy = await h.startProxy();
      const bound = await boundOn(proxy, port);
      assert.equal(bound.length, 1, `one listener holds the port: ${JSON.stringify(proxy.listeners())}`);
    } finally {
      await h.close();
    }
  });
});
