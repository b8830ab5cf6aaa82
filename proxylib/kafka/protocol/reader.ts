// Bounded reader over one Kafka frame. Every length is checked against the bytes left before
// anything is allocated or sliced; varints are bounded to their longest legal encoding.
import { KafkaProtocolError } from './errors.js';

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

export class KafkaReader {
  readonly buf: Buffer;
  pos: number;
  /** One past the last readable byte (narrowed while reading a tagged field's value). */
  end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(detail: string, at = this.pos): never {
    throw new KafkaProtocolError('MESHD_ERR_KAFKA_DECODE', detail, '', at);
  }

  need(n: number): void {
    if (n > this.end - this.pos) this.fail(`${n} byte(s) needed, ${this.end - this.pos} left`);
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  /** Unsigned varint of at most 32 bits (compact lengths, tagged field counts, tags, sizes). */
  uvarint(): number {
    const start = this.pos;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) this.fail('truncated varint', start);
      const b = this.buf[this.pos++]!;
      if (shift === 28 && b > 0x0f) this.fail('varint longer than 32 bits', start);
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return this.fail('varint longer than 5 bytes', start);
  }
  /** Zigzag signed varint of 32 bits (record fields). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /** Unsigned varlong of at most 64 bits. */
  uvarlong(): bigint {
    const start = this.pos;
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) this.fail('truncated varlong', start);
      const b = this.buf[this.pos++]!;
      if (shift === 63n && b > 1) this.fail('varlong longer than 64 bits', start);
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    return this.fail('varlong longer than 10 bytes', start);
  }
  /** Zigzag signed varlong (record fields). */
  varlong(): bigint {
    const u = this.uvarlong();
    return (u >> 1n) ^ -(u & 1n);
  }
  uuid(): string {
    this.need(16);
    const b = this.buf;
    const p = this.pos;
    this.pos += 16;
    // One expression of table lookups: faster than a loop of appends or a hex toString plus slices.
    return HEX[b[p]!]! + HEX[b[p + 1]!]! + HEX[b[p + 2]!]! + HEX[b[p + 3]!]! + '-' + HEX[b[p + 4]!]! + HEX[b[p + 5]!]! + '-' +
      HEX[b[p + 6]!]! + HEX[b[p + 7]!]! + '-' + HEX[b[p + 8]!]! + HEX[b[p + 9]!]! + '-' + HEX[b[p + 10]!]! + HEX[b[p + 11]!]! +
      HEX[b[p + 12]!]! + HEX[b[p + 13]!]! + HEX[b[p + 14]!]! + HEX[b[p + 15]!]!;
  }
  /** `n` bytes as UTF-8 text. */
  utf8(n: number): string {
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** `n` bytes as a Buffer sharing the frame's memory (no copy). */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}
