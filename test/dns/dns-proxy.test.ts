// The DNS proxy end to end: a real dnsmasq as the resolver, the built-in proxy configured over xDS
// with DNS over UDP (a UDP listener with DnsPolicy listener filters) and over TCP (a DnsPolicy
// network filter) on the same port, and dig / node's dns.Resolver as clients. Not redirected: the
// listeners' static cluster names dnsmasq (what a plain listener without the datapath does).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { subscribeFlows, type DnsAnswerEvent, type DnsFlowRecord, type FlowRecord } from '../../proxylib/index.js';
import { ProxyHarness, envoyMessages, staticClusterJson } from '../proxy/harness.js';
import { dig, dnsPolicyJson, freeDnsPort, requireTools, startDnsmasq, tcpDnsListenerJson, udpDnsListenerJson, withTimeoutMs, type Dnsmasq } from './dns-harness.js';

const T = { timeout: 60_000 };
const MAX_DELAY_MS = 300;

const RECORDS = [
  '--host-record=api.allowed.test,10.1.2.3,fd00::1',
  '--cname=www.allowed.test,api.allowed.test',
  '--cname=chain.allowed.test,www.allowed.test',
  '--address=/wild.test/10.9.9.9',
  '--address=/deep.test/10.8.8.8',
  '--host-record=denied.test,10.6.6.6',
  // Three 200-byte TXT records: more than 512 bytes, so a query without EDNS0 gets TC over UDP.
  ...['x', 'y', 'z'].map((c) => `--txt-record=big.test,${c.repeat(200)}`),
];

const NAMES = [{ match_name: 'api.allowed.test' }, { match_name: 'www.allowed.test' }, { match_name: 'chain.allowed.test' }, { match_name: 'big.test' }, { match_pattern: '*.wild.test' }, { match_pattern: '**.deep.test' }];

describe('DNS proxy with dnsmasq as the resolver', () => {
  let h: ProxyHarness;
  let dnsmasq: Dnsmasq;
  let port: number;
  let blackhole: dgram.Socket;
  const proxyAt = (name: string) => {
    const a = h.proxy.listenerAddress(name);
    assert.ok(a, `listener ${name} is bound`);
    return a;
  };
  // The observer the learning side would be; each test sets what it does.
  let onAnswer: (e: DnsAnswerEvent) => Promise<void> | void = () => {};
  const events: DnsAnswerEvent[] = [];
  const flows: DnsFlowRecord[] = [];
  let unsubscribe = (): void => {};

  before(async () => {
    await requireTools();
    h = await ProxyHarness.start({ nodeId: 'dns-e2e' });
    try {
      dnsmasq = await startDnsmasq(h.cleanup, RECORDS);
      blackhole = dgram.createSocket('udp4');
      blackhole.bind(0, '127.0.0.1');
      await once(blackhole, 'listening');
      h.cleanup.add(async () => {
        blackhole.close();
      });
      port = await freeDnsPort();
      const main = dnsPolicyJson({ rules: [{ name: 'allow test names', remotes: { any: true }, names: NAMES }] });
      h.setSnapshot(
        envoyMessages({
          listeners: [
            udpDnsListenerJson('dns-udp', [main], '127.0.0.1', port),
            tcpDnsListenerJson('dns-tcp', main, '127.0.0.1', port),
            udpDnsListenerJson('dns-nxdomain', [dnsPolicyJson({ deny_response_code: 'DENY_RESPONSE_CODE_NAME_ERROR' })]),
            udpDnsListenerJson('dns-any', [dnsPolicyJson({ rules: [{ name: 'visibility', remotes: { any: true }, names: [{ match_pattern: '*' }] }] })]),
            udpDnsListenerJson('dns-timeout', [dnsPolicyJson({ upstream: { cluster: 'blackhole' }, upstream_timeout: '0.3s' })]),
            tcpDnsListenerJson('dns-tcp-timeout', dnsPolicyJson({ upstream: { cluster: 'blackhole-tcp' }, upstream_timeout: '0.3s' })),
            udpDnsListenerJson('dns-other-endpoint', [dnsPolicyJson({ endpoint_ips: ['127.0.0.2'] })]),
          ],
          clusters: [
            staticClusterJson('resolver', [{ host: dnsmasq.address, port: dnsmasq.port }]),
            staticClusterJson('blackhole', [{ host: '127.0.0.1', port: blackhole.address().port }]),
            // A TCP port that accepts and never answers: dnsmasq's UDP-only twin would refuse.
            staticClusterJson('blackhole-tcp', [{ host: '127.0.0.1', port: await silentTcpPort(h) }]),
          ],
        }),
      );
      await h.startProxy({
        dnsAnswerObserver: { onAnswer: (e) => (events.push(e), onAnswer(e)) },
        dnsResponseMaxDelayMs: MAX_DELAY_MS,
      });
      unsubscribe = subscribeFlows((r: FlowRecord) => {
        if (r.type === 'dns') flows.push(r);
      });
    } catch (err) {
      await h.close();
      throw err;
    }
  });

  after(async () => {
    unsubscribe();
    await h?.close();
  });

  const server = () => ({ address: '127.0.0.1', port });

  test('an allowed name resolves through the proxy with the answer dnsmasq gives directly', T, async () => {
    const direct = await dig(dnsmasq, 'api.allowed.test');
    const proxied = await dig(server(), 'api.allowed.test');
    assert.equal(direct.status, 'NOERROR', direct.raw);
    assert.equal(proxied.status, 'NOERROR', proxied.raw);
    assert.deepEqual(proxied.answers, direct.answers);
    assert.deepEqual(proxied.flags.sort(), direct.flags.sort());
    const aaaa = await dig(server(), 'api.allowed.test', 'AAAA');
    assert.deepEqual(aaaa.answers.map((a) => a.data), ['fd00::1']);
  });

  test("node's dns.Resolver gets the allowed name's addresses and EREFUSED for a denied one", T, async () => {
    const resolver = new Resolver({ timeout: 3000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await resolver.resolve4('api.allowed.test'), ['10.1.2.3']);
    assert.deepEqual(await resolver.resolve6('api.allowed.test'), ['fd00::1']);
    await assert.rejects(resolver.resolve4('denied.test'), (err: NodeJS.ErrnoException) => err.code === 'EREFUSED');
  });

  test('a denied name gets REFUSED with the question echoed, and never reaches the resolver', T, async () => {
    const before = flows.length;
    const r = await dig(server(), 'denied.test');
    assert.equal(r.status, 'REFUSED', r.raw);
    assert.match(r.raw, /;denied\.test\.\s+IN\s+A/);
    assert.equal(r.answers.length, 0);
    const flow = flows.slice(before).find((f) => f.dns.query === 'denied.test');
    assert.ok(flow, 'a flow record for the query');
    assert.equal(flow.verdict, 'DENIED');
    assert.equal(flow.reason, 'dns_name_denied');
    assert.equal(flow.dns.rcode, 'REFUSED');
    assert.equal(flow.upstream, undefined);
  });

  test('deny_response_code NAME_ERROR answers a denied name with NXDOMAIN', T, async () => {
    const r = await dig(proxyAt('dns-nxdomain'), 'denied.test');
    assert.equal(r.status, 'NXDOMAIN', r.raw);
    assert.equal((await dig(proxyAt('dns-nxdomain'), 'api.allowed.test')).status, 'NOERROR');
  });

  test('names match case-insensitively, with or without the trailing dot', T, async () => {
    for (const name of ['API.Allowed.TEST', 'api.allowed.test.']) {
      const r = await dig(server(), name);
      assert.equal(r.status, 'NOERROR', `${name}: ${r.raw}`);
      assert.deepEqual(r.answers.map((a) => a.data), ['10.1.2.3']);
    }
  });

  test('`*.wild.test` covers one label, `**.deep.test` one or more, neither the bare suffix', T, async () => {
    const cases: Array<[string, string]> = [
      ['a.wild.test', 'NOERROR'],
      ['wild.test', 'REFUSED'],
      ['a.b.wild.test', 'REFUSED'],
      ['a.deep.test', 'NOERROR'],
      ['a.b.c.deep.test', 'NOERROR'],
      ['deep.test', 'REFUSED'],
    ];
    for (const [name, status] of cases) assert.equal((await dig(server(), name)).status, status, name);
  });

  test('a bare `*` pattern allows every name', T, async () => {
    // (dnsmasq itself refuses names it has no record for: it has no upstream.)
    for (const name of ['denied.test', 'api.allowed.test', 'wild.test', 'x.y.deep.test']) {
      const r = await dig(proxyAt('dns-any'), name);
      assert.equal(r.status, 'NOERROR', `${name}: ${r.raw}`);
    }
  });

  test('the observer gets the query name, every CNAME of the chain and the addresses with their owner', T, async () => {
    events.length = 0;
    const r = await dig(server(), 'chain.allowed.test');
    assert.equal(r.status, 'NOERROR', r.raw);
    const event = events.find((e) => e.queryName === 'chain.allowed.test');
    assert.ok(event, JSON.stringify(events));
    assert.deepEqual(event.names, ['chain.allowed.test', 'www.allowed.test', 'api.allowed.test']);
    assert.deepEqual(event.addresses, [{ ip: '10.1.2.3', ttl: 300, name: 'api.allowed.test' }]);
    assert.equal(event.endpoint, 'default/client');
    assert.deepEqual(event.endpointIps, ['127.0.0.1']);
    assert.equal(event.sourceIp, '127.0.0.1');
    assert.equal(event.rcode, 'NOERROR');
  });

  test('the answer is held until the observer resolves', T, async () => {
    let released = false;
    onAnswer = async () => {
      await sleep(120);
      released = true;
    };
    try {
      const started = performance.now();
      const r = await dig(server(), 'api.allowed.test');
      const elapsed = performance.now() - started;
      assert.equal(r.status, 'NOERROR');
      assert.equal(released, true, 'the client saw the answer only after the observer finished');
      assert.ok(elapsed >= 120, `answered after ${elapsed} ms`);
    } finally {
      onAnswer = () => {};
    }
  });

  test('an observer slower than the max delay does not hold the answer longer, and the release is counted', T, async () => {
    let finish = (): void => {};
    onAnswer = () => new Promise<void>((resolve) => (finish = resolve));
    const countBefore = h.proxy.stats()['dns.answers.released_by_max_delay'] ?? 0;
    try {
      const flowsBefore = flows.length;
      const started = performance.now();
      const r = await dig(server(), 'api.allowed.test');
      const elapsed = performance.now() - started;
      assert.equal(r.status, 'NOERROR');
      assert.ok(elapsed >= MAX_DELAY_MS - 5 && elapsed < MAX_DELAY_MS + 1500, `answered after ${elapsed} ms`);
      assert.equal(h.proxy.stats()['dns.answers.released_by_max_delay'], countBefore + 1);
      const flow = flows.slice(flowsBefore).find((f) => f.dns.query === 'api.allowed.test');
      assert.equal(flow?.dns.observer?.outcome, 'timeout');
    } finally {
      finish();
      onAnswer = () => {};
    }
  });

  test('EDNS0 passes through: the OPT of the answer is the resolver’s; the proxy’s own replies carry OPT only when asked', T, async () => {
    const direct = await dig(dnsmasq, 'api.allowed.test', 'A', ['+bufsize=1400']);
    const proxied = await dig(server(), 'api.allowed.test', 'A', ['+bufsize=1400']);
    assert.equal(proxied.ednsUdp, direct.ednsUdp);
    assert.equal((await dig(server(), 'api.allowed.test', 'A', ['+noedns'])).ednsUdp, undefined);
    const refusedWithEdns = await dig(server(), 'denied.test', 'A', ['+bufsize=1400']);
    assert.equal(refusedWithEdns.ednsUdp, 1232);
    const refusedWithout = await dig(server(), 'denied.test', 'A', ['+noedns']);
    assert.equal(refusedWithout.ednsUdp, undefined);
  });

  test('a truncated UDP answer keeps TC, and dig then retries over TCP through the proxy', T, async () => {
    const truncated = await dig(server(), 'big.test', 'TXT', ['+noedns', '+ignore']);
    assert.ok(truncated.flags.includes('tc'), truncated.raw);
    const retried = await dig(server(), 'big.test', 'TXT', ['+noedns']);
    assert.equal(retried.status, 'NOERROR', retried.raw);
    assert.equal(retried.answers.length, 3, retried.raw);
    assert.match(retried.raw, /\(TCP\)/);
  });

  test('DNS over TCP: allowed, denied, and several pipelined queries on one connection', T, async () => {
    assert.deepEqual((await dig(server(), 'api.allowed.test', 'A', ['+tcp'])).answers.map((a) => a.data), ['10.1.2.3']);
    assert.equal((await dig(server(), 'denied.test', 'A', ['+tcp'])).status, 'REFUSED');

    const queries = [
      { id: 101, name: 'api.allowed.test' },
      { id: 102, name: 'denied.test' },
      { id: 103, name: 'a.wild.test' },
    ];
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      // All three in one write: the proxy must split the stream and answer each.
      socket.write(Buffer.concat(queries.map((q) => dnsPacket.streamEncode({ type: 'query', id: q.id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: q.name }] }))));
      const answers = await withTimeoutMs(5000, 'three answers', readTcpAnswers(socket, 3));
      const byId = new Map(answers.map((a) => [a.id, a]));
      assert.deepEqual([...byId.keys()].sort(), [101, 102, 103]);
      assert.equal((byId.get(101)!.answers?.[0] as { data?: string } | undefined)?.data, '10.1.2.3');
      assert.equal((byId.get(102) as { rcode?: string }).rcode, 'REFUSED');
      assert.equal((byId.get(103)!.answers?.[0] as { data?: string } | undefined)?.data, '10.9.9.9');
    } finally {
      socket.destroy();
    }
  });

  test('a malformed query with a readable header gets FORMERR with its id; shorter datagrams and responses are dropped', T, async () => {
    const client = dgram.createSocket('udp4');
    try {
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
      const received: Buffer[] = [];
      client.on('message', (m) => received.push(m));
      // Header claims one question; the question is cut short.
      const cut = Buffer.from('beef0100000100000000000003616263', 'hex');
      client.send(cut, port, '127.0.0.1');
      client.send(Buffer.from('0102030405', 'hex'), port, '127.0.0.1');
      // A response (QR set) sent to the proxy.
      client.send(dnsPacket.encode({ type: 'response', id: 7, flags: 0, questions: [{ type: 'A', name: 'api.allowed.test' }] }), port, '127.0.0.1');
      await sleep(500);
      assert.equal(received.length, 1, `one answer only: ${received.map((b) => b.toString('hex')).join(', ')}`);
      const formerr = dnsPacket.decode(received[0]!) as { id?: number; rcode?: string };
      assert.equal(formerr.id, 0xbeef);
      assert.equal(formerr.rcode, 'FORMERR');
      // Still serving.
      assert.equal((await dig(server(), 'api.allowed.test')).status, 'NOERROR');
    } finally {
      client.close();
    }
  });

  test('thousands of mutated datagrams and a garbage TCP stream leave the proxy serving (bounded)', T, async () => {
    const client = dgram.createSocket('udp4');
    try {
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
      client.on('message', () => {});
      const seed = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'a.wild.test' }] });
      const started = Date.now();
      for (let i = 0; i < 3000 && Date.now() - started < 10_000; i++) {
        const b = Buffer.from(seed);
        for (let j = 0; j < 1 + (i % 4); j++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
        client.send(i % 7 === 0 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b, port, '127.0.0.1');
        if (i % 200 === 0) await sleep(5);
      }
      const tcp = connect(port, '127.0.0.1');
      tcp.on('error', () => {});
      await once(tcp, 'connect');
      tcp.write(Buffer.from('0005ffffffffff0000ffff', 'hex'));
      tcp.end(Buffer.alloc(300, 0x41));
      await sleep(300);
      tcp.destroy();
      assert.equal((await dig(server(), 'api.allowed.test')).status, 'NOERROR');
      assert.equal((await dig(server(), 'api.allowed.test', 'A', ['+tcp'])).status, 'NOERROR');
    } finally {
      client.close();
    }
  });

  test('a resolver that does not answer in upstream_timeout gets the client SERVFAIL, over UDP and TCP', T, async () => {
    const started = performance.now();
    const r = await dig(proxyAt('dns-timeout'), 'api.allowed.test');
    assert.equal(r.status, 'SERVFAIL', r.raw);
    assert.ok(performance.now() - started < 2500);
    const overTcp = await dig(proxyAt('dns-tcp-timeout'), 'api.allowed.test', 'A', ['+tcp']);
    assert.equal(overTcp.status, 'SERVFAIL', overTcp.raw);
    const flow = flows.find((f) => f.listener === 'dns-timeout' && f.reason === 'upstream_timeout');
    assert.ok(flow, 'the flow record says why');
    assert.equal(flow.verdict, 'ERROR');
  });

  test('a client no policy of the UDP listener is for gets SERVFAIL', T, async () => {
    const r = await dig(proxyAt('dns-other-endpoint'), 'api.allowed.test');
    assert.equal(r.status, 'SERVFAIL', r.raw);
  });

  test('one flow record per query with name, type, rcode, addresses, verdict and rule', T, async () => {
    const before = flows.length;
    await dig(server(), 'a.wild.test', 'A');
    const flow = flows.slice(before).find((f) => f.dns.query === 'a.wild.test');
    assert.ok(flow);
    assert.equal(flow.protocol, 'udp');
    assert.equal(flow.verdict, 'FORWARDED');
    assert.equal(flow.policy, 'allow test names');
    assert.equal(flow.dns.qtype, 'A');
    assert.equal(flow.dns.rcode, 'NOERROR');
    assert.deepEqual(flow.dns.ips, ['10.9.9.9']);
    assert.deepEqual(flow.upstream, { cluster: 'resolver', address: dnsmasq.address, port: dnsmasq.port });
    assert.ok((h.proxy.stats()['dns.queries.forwarded'] ?? 0) > 0);
  });
});

/** A TCP server that accepts and never answers (registered for cleanup). */
async function silentTcpPort(h: ProxyHarness): Promise<number> {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  h.cleanup.add(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as import('node:net').AddressInfo).port;
}

function readTcpAnswers(socket: import('node:net').Socket, count: number): Promise<dnsPacket.DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const out: dnsPacket.DecodedPacket[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        out.push(dnsPacket.decode(buffered.subarray(2, 2 + len)));
        buffered = buffered.subarray(2 + len);
      }
      if (out.length >= count) resolve(out);
    });
    socket.on('error', reject);
    socket.on('close', () => (out.length >= count ? resolve(out) : reject(new Error(`connection closed after ${out.length} answers`))));
  });
}
