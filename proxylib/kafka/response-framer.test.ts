// The upstream response framer on its own: responses cut at every possible place (down to one byte
// per chunk) come out byte for byte, each begun, peeked, collected or streamed as the sink asked,
// and a size that cannot hold a correlation id stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchResponseSessionId } from './kafka-connection.js';
import { KafkaResponseFramer, type ResponseHandling } from './response-framer.js';

function response(correlationId: number, body: Buffer): Buffer {
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(4 + body.length, 0);
  out.writeInt32BE(correlationId, 4);
  body.copy(out, 8);
  return out;
}

function run(stream: Buffer, chunkSizes: (i: number) => number, handling: (correlationId: number) => ResponseHandling) {
  const events: string[] = [];
  const out: Buffer[] = [];
  const framer = new KafkaResponseFramer({
    begin: (size, correlationId) => {
      events.push(`begin ${correlationId} ${size}`);
      return handling(correlationId);
    },
    bytes: (chunk) => out.push(Buffer.from(chunk)),
    // The peek shows at least what was asked (all of a chunk already in hand may come with it).
    peeked: (head) => events.push(head.length >= 64 ? 'peeked 64+' : `peeked ${head.length}`),
    end: (whole) => {
      events.push(`end ${whole === undefined ? 'streamed' : whole.length}`);
      if (whole) out.push(whole);
    },
    invalid: (detail) => events.push(`invalid ${detail}`),
  });
  let off = 0;
  for (let i = 0; off < stream.length; i++) {
    const n = Math.max(1, chunkSizes(i));
    framer.push(stream.subarray(off, off + n));
    off += n;
  }
  return { events, out: Buffer.concat(out), idle: framer.idle, buffered: framer.buffered };
}

test('responses split anywhere come out whole and in order, streamed, collected or peeked as asked', () => {
  const bodies = [Buffer.alloc(0), Buffer.from('a small answer'), Buffer.alloc(300, 7)];
  const stream = Buffer.concat(bodies.map((b, i) => response(i + 1, b)));
  const modes: Record<number, ResponseHandling> = { 1: 'stream', 2: 'collect', 3: { peek: 64 } };
  for (const chunking of [() => 1, () => 3, () => 7, (i: number) => (i % 2 === 0 ? 5 : 64), () => stream.length]) {
    const r = run(stream, chunking, (c) => modes[c]!);
    assert.ok(r.out.equals(stream), 'every byte, once, in order');
    assert.deepEqual(r.events, ['begin 1 4', 'end streamed', 'begin 2 18', 'end 22', 'begin 3 304', 'peeked 64+', 'end streamed']);
    assert.equal(r.idle, true);
    assert.equal(r.buffered, 0);
  }
});

test('a peek longer than the response shows all of it', () => {
  const stream = response(9, Buffer.from('tiny'));
  const r = run(stream, () => 2, () => ({ peek: 64 }));
  assert.ok(r.out.equals(stream));
  assert.deepEqual(r.events, ['begin 9 8', 'peeked 4', 'end streamed']);
});

test('a size that cannot hold a correlation id, or a refused response, stops the framer', () => {
  const bad = Buffer.alloc(8);
  bad.writeInt32BE(2, 0);
  assert.deepEqual(run(bad, () => 8, () => 'stream').events, ['invalid response size 2 cannot hold a correlation id']);
  const refused = run(Buffer.concat([response(1, Buffer.from('x')), response(2, Buffer.from('y'))]), () => 100, () => ({ error: 'no' }));
  assert.deepEqual(refused.events, ['begin 1 5']);
  assert.equal(refused.out.length, 0);
});

test("a Fetch answer's session id is read behind the response header's tagged fields", () => {
  // v12+: header tagged fields (one field: tag 0, 2 bytes), throttle 0, error 0, session 4242.
  const flexible = Buffer.from([0x01, 0x00, 0x02, 0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x92]);
  assert.equal(fetchResponseSessionId(flexible, 12), 4242);
  const classic = Buffer.from([0, 0, 0, 5, 0, 0, 0, 0, 0x10, 0x92]);
  assert.equal(fetchResponseSessionId(classic, 11), 4242);
  assert.equal(fetchResponseSessionId(classic.subarray(0, 9), 11), undefined, 'too short');
  assert.equal(fetchResponseSessionId(Buffer.from([0x05]), 12), undefined, 'tagged fields beyond the bytes');
});

test('a streamed response whose prefix is in the chunk goes out as one view of it, not prefix and rest apart', () => {
  const stream = Buffer.concat([response(1, Buffer.from('first answer')), response(2, Buffer.alloc(100, 3))]);
  const pieces: Buffer[] = [];
  const framer = new KafkaResponseFramer({
    begin: () => 'stream',
    bytes: (chunk) => pieces.push(chunk),
    peeked: () => {},
    end: () => {},
    invalid: (detail) => assert.fail(detail),
  });
  framer.push(stream.subarray(0, 40));
  framer.push(stream.subarray(40));
  assert.ok(Buffer.concat(pieces).equals(stream));
  assert.deepEqual(
    pieces.map((p) => p.length),
    [20, 20, 100 + 8 - 20],
    'the first answer whole, the second one as its chunks arrived',
  );
  assert.ok(pieces.every((p) => p.buffer === stream.buffer), 'views, no copies');
});
