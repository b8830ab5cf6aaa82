// The UDP exchange with a resolver (a real UDP socket in the test playing one): answers that do not
// carry the query's id, QR or question are ignored and the right one is taken; silence is a timeout;
// concurrent queries on the pooled sockets each get their own answer; close() closes every socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import { UpstreamFailure } from './query-handler.js';
import { answersQuery, questionEndOf, UdpUpstreamPool } from './udp-exchange.js';

async function resolver(onQuery: (q: Buffer, reply: (b: Buffer) => void) => void): Promise<{ address: string; port: number; close(): void }> {
  // A burst of hundreds of datagrams overflows the default receive buffer on loopback.
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  s.on('message', (q, rinfo) => onQuery(q, (b) => s.send(b, rinfo.port, rinfo.address)));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return { address: '127.0.0.1', port: s.address().port, close: () => s.close() };
}

/** A pool per test, closed after it; `exchange` as the query handler calls it. */
function poolForTest(): { exchange(q: Buffer, r: { address: string; port: number }, timeoutMs: number): Promise<Buffer>; pool: UdpUpstreamPool } {
  const pool = new UdpUpstreamPool();
  return { pool, exchange: (q, r, timeoutMs) => pool.exchange(q, questionEndOf(q), r, timeoutMs) };
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
  const { pool, exchange } = poolForTest();
  try {
    const got = dnsPacket.decode(await exchange(query(4242, 'a.test'), r, 2000));
    assert.equal((got.answers?.[0] as { data?: string }).data, '192.0.2.1');
    assert.equal(got.id, 4242);
  } finally {
    pool.close();
    r.close();
  }
});

test('a resolver that stays silent is an upstream_timeout after the timeout', async () => {
  const r = await resolver(() => {});
  const { pool, exchange } = poolForTest();
  try {
    const started = performance.now();
    await assert.rejects(exchange(query(1, 'a.test'), r, 200), (err: unknown) => err instanceof UpstreamFailure && err.reason === 'upstream_timeout');
    assert.ok(performance.now() - started >= 190);
  } finally {
    pool.close();
    r.close();
  }
});

test('hundreds of concurrent queries with the same client id each get their own answer', async () => {
  const r = await resolver((q, reply) => {
    const name = (dnsPacket.decode(q).questions?.[0]?.name ?? '').toString();
    // Answer in reverse arrival order, later: answers must be matched by id and question, not order.
    setTimeout(() => reply(answer(q.readUInt16BE(0), name, `10.0.${Number(name.split('.')[0]!.slice(1)) >> 8}.${Number(name.split('.')[0]!.slice(1)) & 255}`)), 20 - (Number(name.split('.')[0]!.slice(1)) % 20));
  });
  const { pool, exchange } = poolForTest();
  try {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => exchange(query(7, `q${i}.test`), r, 3000)));
    results.forEach((b, i) => {
      const d = dnsPacket.decode(b);
      assert.equal((d.answers?.[0] as { data?: string }).data, `10.0.${i >> 8}.${i & 255}`);
    });
  } finally {
    pool.close();
    r.close();
  }
});

test('close() closes every pooled socket, fails the queries in flight with upstream_reset and refuses new ones', async () => {
  const r = await resolver(() => {});
  const { pool, exchange } = poolForTest();
  try {
    const inFlight = Array.from({ length: 20 }, (_, i) => exchange(query(i, `q${i}.test`), r, 5000));
    assert.ok(pool.openSockets > 0 && pool.openSockets <= 4, `${pool.openSockets} sockets open`);
    pool.close();
    assert.equal(pool.openSockets, 0);
    for (const q of inFlight) await assert.rejects(q, (err: unknown) => err instanceof UpstreamFailure && err.reason === 'upstream_reset');
    await assert.rejects(exchange(query(99, 'late.test'), r, 1000), (err: unknown) => err instanceof UpstreamFailure && err.reason === 'upstream_reset');
  } finally {
    pool.close();
    r.close();
  }
});

test('an answer matches its query by id, QR and question whatever the name’s case; another type does not', () => {
  const q = query(5, 'Api.Test');
  const end = questionEndOf(q);
  assert.ok(answersQuery(answer(5, 'aPI.tEST', '192.0.2.1'), q, end));
  assert.ok(!answersQuery(answer(6, 'api.test', '192.0.2.1'), q, end));
  assert.ok(!answersQuery(answer(5, 'api.test', '192.0.2.1', 'query'), q, end));
  const aaaa = dnsPacket.encode({ type: 'response', id: 5, questions: [{ type: 'AAAA', name: 'api.test' }] });
  assert.ok(!answersQuery(aaaa, q, end));
  // FORMERR-style answers without a question match by id alone.
  assert.ok(answersQuery(dnsPacket.encode({ type: 'response', id: 5, flags: 1 }), q, end));
});
