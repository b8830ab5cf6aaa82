// The UDP exchange with a resolver (a real UDP socket in the test playing one): answers that do not
// carry the query's id, QR or question are ignored and the right one is taken; silence is a timeout;
// concurrent queries on the pooled sockets each get their own answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import { UpstreamFailure } from './query-handler.js';
import { exchangeUdp } from './udp-exchange.js';

async function resolver(onQuery: (q: Buffer, reply: (b: Buffer) => void) => void): Promise<{ address: string; port: number; close(): void }> {
  // A burst of hundreds of datagrams overflows the default receive buffer on loopback.
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  s.on('message', (q, rinfo) => onQuery(q, (b) => s.send(b, rinfo.port, rinfo.address)));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return { address: '127.0.0.1', port: s.address().port, close: () => s.close() };
}

const query = (id: number, name: string) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
const answer = (id: number, name: string, ip: string, type: 'response' | 'query' = 'response') =>
  dnsPacket.encode({ type, id, questions: [{ type: 'A', name }], answers: type === 'response' ? [{ type: 'A', name, ttl: 5, data: ip }] : [] });

test('answers with another id, without QR or for another question are ignored; the matching one is taken', async () => {
  const r = await resolver((q, reply) => {
    const id = q.readUInt16BE(0);
    reply(answer(id ^ 1, 'a.test', '192.0.2.66'));
    reply(answer(id, 'a.test', '192.0.2.67', 'query'));
    reply(answer(id, 'b.test', '192.0.2.68'));
    reply(answer(id, 'A.TEST', '192.0.2.1'));
  });
  try {
    const got = dnsPacket.decode(await exchangeUdp(query(4242, 'a.test'), r, 2000));
    assert.equal((got.answers?.[0] as { data?: string }).data, '192.0.2.1');
    assert.equal(got.id, 4242);
  } finally {
    r.close();
  }
});

test('a resolver that stays silent is an upstream_timeout after the timeout', async () => {
  const r = await resolver(() => {});
  try {
    const started = performance.now();
    await assert.rejects(exchangeUdp(query(1, 'a.test'), r, 200), (err: unknown) => err instanceof UpstreamFailure && err.reason === 'upstream_timeout');
    assert.ok(performance.now() - started >= 190);
  } finally {
    r.close();
  }
});

test('hundreds of concurrent queries with the same client id each get their own answer', async () => {
  const r = await resolver((q, reply) => {
    const name = (dnsPacket.decode(q).questions?.[0]?.name ?? '').toString();
    // Answer in reverse arrival order, later: answers must be matched by id and question, not order.
    setTimeout(() => reply(answer(q.readUInt16BE(0), name, `10.0.${Number(name.split('.')[0]!.slice(1)) >> 8}.${Number(name.split('.')[0]!.slice(1)) & 255}`)), 20 - (Number(name.split('.')[0]!.slice(1)) % 20));
  });
  try {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => exchangeUdp(query(7, `q${i}.test`), r, 3000)));
    results.forEach((b, i) => {
      const d = dnsPacket.decode(b);
      assert.equal((d.answers?.[0] as { data?: string }).data, `10.0.${i >> 8}.${i & 255}`);
    });
  } finally {
    r.close();
  }
});
