import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { detectH2Preface } from './peek.js';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

describe('HTTP/2 preface detection', () => {
  test('the full preface is HTTP/2 and any prefix of it waits for more', () => {
    assert.deepEqual(detectH2Preface(Buffer.from(PREFACE + '\x00\x00')), { done: true, value: 'http2' });
    for (let n = 1; n < PREFACE.length; n++) assert.deepEqual(detectH2Preface(Buffer.from(PREFACE.slice(0, n))), { done: false }, `prefix of ${n}`);
  });

  test('the first diverging byte decides HTTP/1.1, even inside the preface', () => {
    assert.deepEqual(detectH2Preface(Buffer.from('GET / HTTP/1.1\r\n')), { done: true, value: 'http1' });
    assert.deepEqual(detectH2Preface(Buffer.from('PRI * HTTP/1.1\r\n')), { done: true, value: 'http1' });
    assert.deepEqual(detectH2Preface(Buffer.from('POST')), { done: true, value: 'http1' });
  });
});
