// The DNS listeners across configuration changes and connection edges: a policy update reaches the
// next query (over UDP, and on a TCP connection that stays open), a removed UDP listener still
// answers the queries it holds, a TCP client that half-closes after its query gets its answer, and
// an IPv6 UDP listener.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { TYPE_URL } from '../../xds/index.js';
import { ProxyHarness, envoyMessages, staticClusterJson } from '../proxy/harness.js';
import { dig, dnsPolicyJson, freeDnsPort, requireTools, startDnsmasq, tcpDnsListenerJson, udpDnsListenerJson, withTimeoutMs, type Dnsmasq } from './dns-harness.js';

const T = { timeout: 60_000 };

describe('DNS listeners across updates and connection edges', () => {
  let h: ProxyHarness;
  let dnsmasq: Dnsmasq;
  let port: number;
  let hold: () => Promise<void> = async () => {};

  const snapshot = (opts: { allowDenied: boolean; withUdp: boolean }) => {
    const names = [{ match_name: 'api.allowed.test' }, ...(opts.allowDenied ? [{ match_name: 'denied.test' }] : [])];
    const policy = dnsPolicyJson({ endpoint_ips: ['127.0.0.1', '::1'], rules: [{ name: opts.allowDenied ? 'widened' : 'narrow', remotes: { any: true }, names }] });
    return envoyMessages({
      listeners: [
        ...(opts.withUdp ? [udpDnsListenerJson('dns-udp', [policy], '127.0.0.1', port)] : []),
        tcpDnsListenerJson('dns-tcp', policy, '127.0.0.1', port),
        udpDnsListenerJson('dns-udp6', [policy], '::1'),
      ],
      clusters: [staticClusterJson('resolver', [{ host: dnsmasq.address, port: dnsmasq.port }])],
    });
  };

  before(async () => {
    await requireTools();
    h = await ProxyHarness.start({ nodeId: 'dns-updates' });
    try {
      dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3', '--host-record=denied.test,10.6.6.6']);
      port = await freeDnsPort();
      h.setSnapshot(snapshot({ allowDenied: false, withUdp: true }));
      await h.startProxy({ dnsAnswerObserver: { onAnswer: () => hold() }, dnsResponseMaxDelayMs: 2000 });
    } catch (err) {
      await h.close();
      throw err;
    }
  });

  after(async () => {
    await h?.close();
  });

  const server = () => ({ address: '127.0.0.1', port });

  test('an IPv6 UDP listener answers a client on ::1', T, async () => {
    const at = h.proxy.listenerAddress('dns-udp6');
    assert.ok(at);
    const r = await dig({ address: '::1', port: at.port }, 'api.allowed.test');
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.equal((await dig({ address: '::1', port: at.port }, 'denied.test')).status, 'REFUSED');
  });

  test('a TCP client that half-closes after its query still gets the answer', T, async () => {
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      socket.end(dnsPacket.streamEncode({ type: 'query', id: 77, questions: [{ type: 'A', name: 'api.allowed.test' }] }));
      const [answer] = await withTimeoutMs(5000, 'the answer', readAnswers(socket, 1));
      assert.equal(answer?.id, 77);
      assert.equal((answer?.answers?.[0] as { data?: string } | undefined)?.data, '10.1.2.3');
    } finally {
      socket.destroy();
    }
  });

  test('a policy update reaches the next query over UDP and on a TCP connection that stays open', T, async () => {
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const answers = collectAnswers(socket);
      socket.write(dnsPacket.streamEncode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'denied.test' }] }));
      assert.equal((await answers.next()).rcode, 'REFUSED');
      assert.equal((await dig(server(), 'denied.test')).status, 'REFUSED');

      const version = h.setSnapshot(snapshot({ allowDenied: true, withUdp: true }));
      await h.waitForAck(TYPE_URL.listener, version);

      assert.equal((await dig(server(), 'denied.test')).status, 'NOERROR');
      socket.write(dnsPacket.streamEncode({ type: 'query', id: 2, questions: [{ type: 'A', name: 'denied.test' }] }));
      const after = await answers.next();
      assert.equal(after.id, 2);
      assert.equal(after.rcode, 'NOERROR');
    } finally {
      socket.destroy();
    }
  });

  test('a removed UDP listener still answers the query it holds, then stops listening', T, async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let seen = (): void => {};
    const observed = new Promise<void>((resolve) => (seen = resolve));
    hold = async () => {
      seen();
      await held;
    };
    const client = dgram.createSocket('udp4');
    try {
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
      const reply = once(client, 'message');
      client.send(dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'api.allowed.test' }] }), port, '127.0.0.1');
      await withTimeoutMs(5000, 'the observer call', observed);

      const version = h.setSnapshot(snapshot({ allowDenied: true, withUdp: false }));
      await h.waitForAck(TYPE_URL.listener, version);
      await sleep(100);
      release();
      const [msg] = (await withTimeoutMs(5000, 'the held answer', reply)) as [Buffer];
      const answer = dnsPacket.decode(msg);
      assert.equal(answer.id, 9);
      assert.equal((answer.answers?.[0] as { data?: string } | undefined)?.data, '10.1.2.3');

      await sleep(200);
      assert.equal(h.proxy.listenerAddress('dns-udp'), undefined, 'the listener is gone');
      // Nothing answers on the port any more (the TCP listener on it still does).
      const late = Promise.race([once(client, 'message').then(() => 'answered'), sleep(500).then(() => 'silent')]);
      client.send(dnsPacket.encode({ type: 'query', id: 10, questions: [{ type: 'A', name: 'api.allowed.test' }] }), port, '127.0.0.1');
      assert.equal(await late, 'silent');
    } finally {
      hold = async () => {};
      release();
      client.close();
    }
  });
});

function readAnswers(socket: Socket, count: number): Promise<dnsPacket.DecodedPacket[]> {
  const it = collectAnswers(socket);
  return (async () => {
    const out: dnsPacket.DecodedPacket[] = [];
    for (let i = 0; i < count; i++) out.push(await it.next());
    return out;
  })();
}

/** Answers of a DNS-over-TCP connection, one `next()` per answer (bounded by the caller's timeout). */
function collectAnswers(socket: Socket): { next(): Promise<dnsPacket.DecodedPacket & { rcode?: string }> } {
  let buffered = Buffer.alloc(0);
  const ready: dnsPacket.DecodedPacket[] = [];
  const waiters: Array<(p: dnsPacket.DecodedPacket) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const len = buffered.readUInt16BE(0);
      const p = dnsPacket.decode(buffered.subarray(2, 2 + len));
      buffered = buffered.subarray(2 + len);
      const w = waiters.shift();
      if (w) w(p);
      else ready.push(p);
    }
  });
  return {
    next: () => withTimeoutMs(5000, 'a DNS answer over TCP', new Promise((resolve) => {
      const p = ready.shift();
      if (p) resolve(p);
      else waiters.push(resolve);
    })),
  };
}
