import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseScheduler, type QueuedResponse } from './response-scheduler.js';
import { TYPE_URL } from '../codec/index.js';

const resp = (version: string): QueuedResponse => ({ version, resourceNames: [], removed: [], encode: () => new Uint8Array() });
const tick = () => new Promise((r) => setImmediate(r));

describe('ResponseScheduler', () => {
  test('one response per type is in flight; the next goes out when the client answers', async () => {
    const sent: string[] = [];
    const s = new ResponseScheduler((t, _b, r) => sent.push(`${t === TYPE_URL.endpoint ? 'eds' : t} ${r.version} ${r.nonce}`), 1000);
    s.enqueue(TYPE_URL.endpoint, [resp('1'), resp('2')]);
    await tick();
    assert.deepEqual(sent, ['eds 1 1']);
    s.settle(TYPE_URL.endpoint);
    assert.deepEqual(sent, ['eds 1 1', 'eds 2 2']);
    s.close();
  });

  test('a later type waits while an earlier type is unanswered, then goes', async () => {
    const sent: string[] = [];
    const s = new ResponseScheduler((t) => sent.push(t), 1000);
    s.enqueue(TYPE_URL.route, [resp('r')]);
    s.enqueue(TYPE_URL.listener, [resp('l')]);
    s.enqueue(TYPE_URL.cluster, [resp('c')]);
    await tick();
    assert.deepEqual(sent, [TYPE_URL.cluster]);
    s.settle(TYPE_URL.cluster);
    assert.deepEqual(sent, [TYPE_URL.cluster, TYPE_URL.listener]);
    s.settle(TYPE_URL.listener);
    assert.deepEqual(sent, [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route]);
    s.close();
  });

  test('dropping a type releases the types held behind it', async () => {
    const sent: string[] = [];
    const s = new ResponseScheduler((t) => sent.push(t), 60_000);
    s.enqueue(TYPE_URL.cluster, [resp('c')]);
    s.enqueue(TYPE_URL.listener, [resp('l')]);
    await tick();
    s.drop(TYPE_URL.cluster);
    assert.deepEqual(sent, [TYPE_URL.cluster, TYPE_URL.listener]);
    s.close();
  });
});
