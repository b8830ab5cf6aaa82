// Splits a Kafka byte stream into frames: each frame is an int32 size followed by that many bytes.
// Frames are returned without the size (kafkaFrameWithSize gives the view with it). Chunks are kept in a list and joined once per frame, so a
// large frame arriving in many small chunks is copied once, not once per chunk. pushParts does not join
// at all: it hands out each frame as the views of the chunks it arrived in, for a proxy that forwards
// those and decodes from a buffer it reuses (a fresh 1 MiB Buffer per request is what made the
// Kafka proxy's cost mostly garbage collection).
import { KafkaProtocolError } from './errors.js';

/** Kafka's socket.request.max.bytes default. */
export const DEFAULT_MAX_FRAME_BYTES = 104_857_600;

/**
 * The frame with its 4-byte size in front, without copying: the splitter always returns frames whose
 * size bytes directly precede them in the same memory (forward a frame unmodified with this).
 */
export function kafkaFrameWithSize(frame: Buffer): Buffer {
  return Buffer.from(frame.buffer, frame.byteOffset - 4, frame.length + 4);
}

/** One frame as it arrived: views of the received chunks, in order, its 4-byte size first. */
export interface KafkaFrameParts {
  /** Bytes after the size field. */
  size: number;
  /** Together 4 + size bytes; a frame that arrived in one chunk is one part. */
  parts: Buffer[];
}

export class KafkaFrameSplitter {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Size of the frame being collected, or -1 while its size prefix is incomplete. */
  #need = -1;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned in a frame (size prefixes included). */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): Buffer[] {
    return this.#split(chunk, false) as Buffer[];
  }

  /** As push, but each frame as the views of the chunks it arrived in, its size field first (nothing is copied). */
  pushParts(chunk: Buffer): KafkaFrameParts[] {
    return this.#split(chunk, true) as KafkaFrameParts[];
  }

  #split(chunk: Buffer, asParts: boolean): Buffer[] | KafkaFrameParts[] {
    const frames: Array<Buffer | KafkaFrameParts> = [];
    if (chunk.length === 0) return frames as Buffer[];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        const size = this.#peekSize();
        if (size < 0 || size > this.#maxFrameBytes) {
          throw new KafkaProtocolError(
            'MESHD_ERR_KAFKA_FRAME',
            size < 0 ? `negative frame size ${size}` : `frame of ${size} bytes is above the maximum of ${this.#maxFrameBytes}`,
            '',
            0,
            'the peer does not speak Kafka, or the limit (max_frame_bytes) is below what the client sends',
          );
        }
        this.#need = size;
      }
      if (this.#buffered < 4 + this.#need) break;
      if (asParts) frames.push({ size: this.#need, parts: this.#takeParts(4 + this.#need) });
      else frames.push(this.#take(4 + this.#need).subarray(4));
      this.#need = -1;
    }
    return frames as Buffer[] | KafkaFrameParts[];
  }

  #peekSize(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.#chunks, 4);
    return head.readInt32BE(0);
  }

  /** Removes and returns the first `n` buffered bytes (a view when they lie in one chunk). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const want = n - off;
      if (c.length <= want) {
        c.copy(out, off);
        off += c.length;
        this.#chunks.shift();
      } else {
        c.copy(out, off, 0, want);
        this.#chunks[0] = c.subarray(want);
        off += want;
      }
    }
    return out;
  }

  /** Removes the first `n` buffered bytes and returns them as views of the chunks they are in. */
  #takeParts(n: number): Buffer[] {
    this.#buffered -= n;
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= left) {
        parts.push(c);
        left -= c.length;
        this.#chunks.shift();
      } else {
        parts.push(c.subarray(0, left));
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return parts;
  }
}
