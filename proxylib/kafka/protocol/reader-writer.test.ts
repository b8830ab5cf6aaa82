import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaReader, KafkaWriter, KafkaProtocolError, KAFKA_APIS, defaultMessage } from './index.js';

function written(write: (w: KafkaWriter) => void): string {
  const w = new KafkaWriter(1);
  write(w);
  return w.finish().toString('hex');
}
const reader = (hex: string): KafkaReader => new KafkaReader(Buffer.from(hex, 'hex'));

describe('kafka reader and writer', () => {
  test('unsigned varints use 7 bits per byte, low bits first', () => {
    const cases: Array<[number, string]> = [[0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [300, 'ac02'], [16384, '808001'], [0xffffffff, 'ffffffff0f']];
    for (const [v, hex] of cases) {
      assert.equal(written((w) => w.uvarint(v)), hex, String(v));
      const r = reader(hex);
      assert.equal(r.uvarint(), v);
      assert.equal(r.remaining, 0);
    }
  });

  test('signed varints and varlongs are zigzag encoded as in record batches', () => {
    const cases: Array<[number, string]> = [[0, '00'], [-1, '01'], [1, '02'], [-2, '03'], [63, '7e'], [-64, '7f'], [64, '8001'], [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f']];
    for (const [v, hex] of cases) {
      assert.equal(written((w) => w.varint(v)), hex, String(v));
      assert.equal(reader(hex).varint(), v);
      assert.equal(written((w) => w.varlong(BigInt(v))), hex, `${v}n`);
      assert.equal(reader(hex).varlong(), BigInt(v));
    }
    const max = 2n ** 63n - 1n;
    assert.equal(written((w) => w.varlong(max)), 'feffffffffffffffff01');
    assert.equal(reader('feffffffffffffffff01').varlong(), max);
    assert.equal(reader('ffffffffffffffffff01').varlong(), -(2n ** 63n));
  });

  test('fixed-width integers are big-endian; uuids are lowercase canonical strings', () => {
    assert.equal(written((w) => { w.int8(-1); w.int16(-2); w.int32(-3); w.int64(-4n); w.uint16(65535); w.uint32(4294967295); w.float64(1.5); w.bool(true); }),
      'ff' + 'fffe' + 'fffffffd' + 'fffffffffffffffc' + 'ffff' + 'ffffffff' + '3ff8000000000000' + '01');
    const r = reader('ff' + 'fffe' + 'fffffffd' + 'fffffffffffffffc' + 'ffff' + 'ffffffff' + '3ff8000000000000' + '01');
    assert.deepEqual([r.int8(), r.int16(), r.int32(), r.int64(), r.uint16(), r.uint32(), r.float64(), r.bool()], [-1, -2, -3, -4n, 65535, 4294967295, 1.5, true]);
    const id = '0123456789ABCDEF0011223344556677';
    assert.equal(reader(id).uuid(), '01234567-89ab-cdef-0011-223344556677');
    assert.equal(written((w) => w.uuid('01234567-89AB-cdef-0011-223344556677')), id.toLowerCase());
    assert.throws(() => written((w) => w.uuid('not-a-uuid')), (e: unknown) => e instanceof KafkaProtocolError && e.code === 'MESHD_ERR_KAFKA_ENCODE');
  });

  test('reads past the end are decode errors with the offset', () => {
    const r = reader('0001');
    r.int8();
    assert.throws(() => r.int32(), (e: unknown) => e instanceof KafkaProtocolError && e.code === 'MESHD_ERR_KAFKA_DECODE' && e.offset === 1);
    assert.throws(() => reader('').bytes(1), /1 byte\(s\) needed, 0 left/);
  });

  test('every schema default parses to a value of its type (no NaN, no unparsed strings)', () => {
    const check = (v: unknown, where: string): void => {
      if (typeof v === 'number') assert.ok(!Number.isNaN(v), where);
      else if (Array.isArray(v)) v.forEach((x, i) => check(x, `${where}[${i}]`));
      else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) for (const [k, x] of Object.entries(v)) check(x, `${where}.${k}`);
    };
    for (const [apiKey, info] of KAFKA_APIS) {
      for (let v = info.minVersion; v <= info.maxVersion; v++) {
        check(defaultMessage('request', apiKey, v), `${info.name}Request v${v}`);
        check(defaultMessage('response', apiKey, v), `${info.name}Response v${v}`);
      }
    }
    const fetch = defaultMessage('request', 1, 4);
    assert.equal(fetch.maxBytes, 0x7fffffff);
    assert.equal(fetch.replicaId, -1);
    assert.equal(defaultMessage('request', 3, 12).allowAutoTopicCreation, true);
    assert.equal(defaultMessage('response', 18, 3).finalizedFeaturesEpoch, -1n);
  });
});
