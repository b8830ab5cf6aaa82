import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  KafkaProtocolError,
  KafkaReader,
  KAFKA_APIS,
  sampleMessage,
} from './index.js';

function decodeError(run: () => unknown): KafkaProtocolError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof KafkaProtocolError, `not a KafkaProtocolError: ${String(err)}`);
    assert.equal(err.code, 'MESHD_ERR_KAFKA_DECODE');
    return err;
  }
  assert.fail('decoding succeeded');
}

const h = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
/** Metadata v0 request header with client id "c". */
const META_V0 = '0003 0000 00000001 0001 63';
/** Produce v9 request header with client id "c" (flexible). */
const PRODUCE_V9 = '0000 0009 00000001 0001 63 00';

function body(frameHex: string): () => unknown {
  const frame = h(frameHex);
  return () => {
    const hd = decodeRequestHeader(frame);
    return decodeRequestBody(hd.apiKey, hd.apiVersion, frame, hd.bodyOffset);
  };
}

describe('kafka codec bounds', () => {
  test('a string length beyond the frame is an error at that field', () => {
    const err = decodeError(body(`${META_V0} 00000001 7fff 6162`));
    assert.equal(err.path, 'topics[0].name');
    assert.match(err.message, /32767 byte\(s\) needed, 2 left/);
  });

  test('a huge array count fails before anything is allocated', () => {
    const started = process.hrtime.bigint();
    const err = decodeError(body(`${META_V0} 7fffffff 0001 61`));
    assert.equal(err.path, 'topics');
    assert.match(err.message, /array of 2147483647 element\(s\) cannot fit/);
    assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'rejected at once');
    // Compact arrays too: a varint count of 2^31.
    assert.equal(decodeError(body(`${PRODUCE_V9} 00 ffff 00000000 8080808008`)).path, 'topicData');
  });

  test('negative sizes are errors, not null or huge reads', () => {
    assert.match(decodeError(body(`${META_V0} fffffffe`)).message, /negative length -2/);
    assert.match(decodeError(body(`${META_V0} ffffffff`)).message, /null where the field is not nullable/);
    assert.equal(decodeError(body(`${META_V0} 00000001 fffb`)).path, 'topics[0].name');
    // Produce v3: records length -5.
    const err = decodeError(body(`0000 0003 00000001 0001 63 ffff 0001 00000000 00000001 0001 74 00000001 00000000 fffffffb`));
    assert.equal(err.path, 'topicData[0].partitionData[0].records');
    assert.equal(decodeError(() => decodeRequestHeader(h('0003 0001 00000001 fff0'))).path, 'header');
  });

  test('truncated and overlong varints are errors', () => {
    assert.match(decodeError(body(`${PRODUCE_V9} 80`)).message, /truncated varint/);
    assert.match(decodeError(body(`${PRODUCE_V9} ffffffffff01`)).message, /varint longer than/);
    const r = new KafkaReader(h('ffffffffffffffffffff7f'));
    assert.throws(() => r.uvarlong(), /varlong longer than/);
    const t = new KafkaReader(h('ff'));
    assert.throws(() => t.varlong(), /truncated varlong/);
  });

  test('bytes after the end of a body are an error', () => {
    const good = encodeRequest({ apiKey: 3, apiVersion: 0, correlationId: 1, clientId: 'c' }, { topics: [] });
    const frame = Buffer.concat([good.subarray(4), h('00')]);
    assert.match(decodeError(() => decodeRequestBody(3, 0, frame, 11)).message, /1 byte\(s\) after the end of MetadataRequest v0/);
    const resp = encodeResponse(18, 0, 1, { errorCode: 0, apiKeys: [] });
    assert.match(decodeError(() => decodeResponse(18, 0, Buffer.concat([resp.subarray(4), h('0000')]))).message, /2 byte\(s\) after/);
  });

  test('tagged fields whose size runs past the frame or past their value are errors', () => {
    // ApiVersions v3 request, tagged field tag 0 of 200 bytes.
    assert.match(decodeError(body(`0012 0003 00000001 ffff 00 | 01 01 | 01 00 c801 00`)).message, /tagged field 0 of 200 byte\(s\)/);
    // ApiVersions v3 response, finalizedFeaturesEpoch (tag 1, int64) announced as 9 bytes.
    const resp = h(`00000001 | 0000 | 01 | 00000000 | 01 01 09 000000000000000500`);
    const err = decodeError(() => decodeResponse(18, 3, resp));
    assert.equal(err.path, 'finalizedFeaturesEpoch');
    assert.match(err.message, /1 byte\(s\) after its value/);
  });

  test('unknown api keys and versions cannot have their body decoded', () => {
    assert.match(decodeError(() => decodeRequestBody(999, 0, h('00'), 0)).message, /unknown API key 999/);
    assert.match(decodeError(() => decodeRequestBody(0, 99, h('00'), 0)).message, /no version 99/);
  });

  test('every truncation of every populated request and response is an error, never a crash', () => {
    let checked = 0;
    for (const [apiKey, info] of KAFKA_APIS) {
      for (const v of new Set([info.minVersion, info.maxVersion, info.requestFlexibleFrom ?? info.minVersion])) {
        const req = encodeRequest({ apiKey, apiVersion: v, correlationId: 1, clientId: 'c' }, sampleMessage('request', apiKey, v)).subarray(4);
        const res = encodeResponse(apiKey, v, 1, sampleMessage('response', apiKey, v)).subarray(4);
        const step = Math.max(1, Math.floor(req.length / 40));
        for (let cut = 0; cut < req.length; cut += step) {
          decodeError(() => {
            const frame = req.subarray(0, cut);
            const hd = decodeRequestHeader(frame);
            return decodeRequestBody(apiKey, v, frame, hd.bodyOffset);
          });
          checked++;
        }
        for (let cut = 0; cut < res.length; cut += Math.max(1, Math.floor(res.length / 40))) {
          decodeError(() => decodeResponse(apiKey, v, res.subarray(0, cut)));
          checked++;
        }
      }
    }
    assert.ok(checked > 1000);
  });

  test('random byte flips in populated messages give a message or a KafkaProtocolError, nothing else', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const deadline = Date.now() + 3000;
    let runs = 0;
    for (const [apiKey, info] of KAFKA_APIS) {
      for (const v of [info.minVersion, info.maxVersion]) {
        const good = encodeRequest({ apiKey, apiVersion: v, correlationId: 1, clientId: 'c' }, sampleMessage('request', apiKey, v)).subarray(4);
        for (let i = 0; i < 30 && Date.now() < deadline; i++) {
          const frame = Buffer.from(good);
          for (let k = 0; k < 3; k++) frame[rand(frame.length)] = rand(256);
          try {
            const hd = decodeRequestHeader(frame);
            if (hd.known) decodeRequestBody(hd.apiKey, hd.apiVersion, frame, hd.bodyOffset);
          } catch (err) {
            assert.ok(err instanceof KafkaProtocolError, `${info.name} v${v}: ${String(err)}`);
          }
          runs++;
        }
      }
    }
    assert.ok(runs > 1000, `${runs} runs`);
  });
});
