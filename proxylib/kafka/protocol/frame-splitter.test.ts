import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaFrameSplitter, KafkaProtocolError, DEFAULT_MAX_FRAME_BYTES, kafkaFrameWithSize } from './index.js';

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

describe('kafka frame splitter', () => {
  test('frames come out whole across arbitrary chunk boundaries', () => {
    const payloads = [0, 1, 3, 4, 5, 100, 4096, 20_000].map((n, i) => Buffer.alloc(n, i + 1));
    const stream = Buffer.concat(payloads.map(frame));
    let seed = 7;
    for (let round = 0; round < 90; round++) {
      const splitter = new KafkaFrameSplitter(1 << 20);
      const out: Buffer[] = [];
      for (let pos = 0; pos < stream.length;) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const len = round % 3 === 0 ? 1 + (seed % 7) : 1 + (seed % 9000);
        out.push(...splitter.push(stream.subarray(pos, pos + len)));
        pos += len;
      }
      assert.equal(out.length, payloads.length);
      out.forEach((f, i) => {
        assert.ok(f.equals(payloads[i]!), `frame ${i} in round ${round}`);
        assert.ok(kafkaFrameWithSize(f).equals(frame(payloads[i]!)), `frame ${i} with its size in round ${round}`);
      });
      assert.equal(splitter.buffered, 0);
    }
  });

  test('a frame in one chunk is returned as a view, without copying', () => {
    const chunk = frame(Buffer.alloc(1000, 9));
    const [f] = new KafkaFrameSplitter(2000).push(chunk);
    assert.equal(f!.buffer, chunk.buffer);
  });

  test('pushParts hands out each frame, size field first, as views of the chunks it arrived in', () => {
    const payloads = [0, 1, 3, 4, 5, 100, 4096, 20_000].map((n, i) => Buffer.alloc(n, i + 1));
    const stream = Buffer.concat(payloads.map(frame));
    let seed = 11;
    for (let round = 0; round < 90; round++) {
      const splitter = new KafkaFrameSplitter(1 << 20);
      const chunks: Buffer[] = [];
      const out: Array<{ size: number; parts: Buffer[] }> = [];
      for (let pos = 0; pos < stream.length;) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const len = round % 3 === 0 ? 1 + (seed % 7) : 1 + (seed % 9000);
        // Each chunk in memory of its own, as a socket delivers them.
        const piece = stream.subarray(pos, pos + len);
        const chunk = Buffer.allocUnsafeSlow(piece.length);
        piece.copy(chunk);
        chunks.push(chunk);
        out.push(...splitter.pushParts(chunk));
        pos += len;
      }
      assert.equal(out.length, payloads.length);
      out.forEach((f, i) => {
        assert.equal(f.size, payloads[i]!.length);
        assert.ok(Buffer.concat(f.parts).equals(frame(payloads[i]!)), `frame ${i} in round ${round}`);
        for (const part of f.parts) {
          assert.ok(part.length > 0);
          assert.ok(chunks.some((c) => c.buffer === part.buffer), 'a part is a view of a received chunk, not a copy');
        }
      });
      assert.equal(splitter.buffered, 0);
    }
  });

  test('pushParts returns a frame in one chunk as one part', () => {
    const chunk = Buffer.concat([frame(Buffer.alloc(10, 1)), frame(Buffer.alloc(20, 2))]);
    const out = new KafkaFrameSplitter(100).pushParts(chunk);
    assert.deepEqual(
      out.map((f) => [f.size, f.parts.length, f.parts[0]!.buffer === chunk.buffer]),
      [
        [10, 1, true],
        [20, 1, true],
      ],
    );
  });

  test('buffered counts bytes of the incomplete frame', () => {
    const s = new KafkaFrameSplitter(100);
    assert.deepEqual(s.push(Buffer.from([0, 0])), []);
    assert.equal(s.buffered, 2);
    assert.deepEqual(s.push(Buffer.from([0, 3, 1])), []);
    assert.equal(s.buffered, 5);
    const [f] = s.push(Buffer.from([2, 3, 0]));
    assert.deepEqual([...f!], [1, 2, 3]);
    assert.equal(s.buffered, 1);
  });

  test('a negative size or one above the maximum is a frame error', () => {
    const isFrameError = (err: unknown): boolean => err instanceof KafkaProtocolError && err.code === 'MESHD_ERR_KAFKA_FRAME';
    assert.throws(() => new KafkaFrameSplitter(100).push(Buffer.from([0xff, 0xff, 0xff, 0xfe])), isFrameError);
    assert.throws(() => new KafkaFrameSplitter(100).push(Buffer.from([0, 0, 0, 101])), isFrameError);
    // The size is checked as soon as its 4 bytes are in, before the frame arrives.
    const s = new KafkaFrameSplitter(DEFAULT_MAX_FRAME_BYTES);
    s.push(Buffer.from([0x7f, 0xff]));
    assert.throws(() => s.push(Buffer.from([0xff, 0xff])), /above the maximum of 104857600/);
    assert.equal(DEFAULT_MAX_FRAME_BYTES, 104_857_600);
  });
});
