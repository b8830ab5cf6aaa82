import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FlowStore } from './flow-store.js';
import { parseFlowQuery } from './flow-filter.js';
import type { NewFlow } from './types.js';

function flow(n: number, o: Partial<NewFlow> = {}): NewFlow {
  return {
    time: new Date(1_700_000_000_000 + n).toISOString(),
    layer: 'kernel',
    verdict: 'FORWARDED',
    protocol: 'tcp',
    source: { ip: '10.0.0.1', port: 1000 + n, pod: 'empire/tiefighter' },
    destination: { ip: '10.0.0.2', port: 80, pod: 'empire/deathstar' },
    summary: `flow ${n}`,
    ...o,
  };
}

describe('FlowStore', () => {
  test('keeps only the newest `capacity` flows, with increasing ids', () => {
    const store = new FlowStore({ capacity: 4 });
    for (let i = 0; i < 10; i++) store.add(flow(i));
    const all = store.query();
    assert.deepEqual(all.map((f) => f.summary), ['flow 6', 'flow 7', 'flow 8', 'flow 9']);
    assert.deepEqual(all.map((f) => f.id), [7, 8, 9, 10]);
    assert.deepEqual(store.stats(), { capacity: 4, stored: 4, added: 10, followerLost: 0, followers: 0 });
  });

  test('the default capacity is 16384', () => {
    assert.equal(new FlowStore().capacity, 16384);
  });

  test('query filters by pod on either side, by direction of the pod, verdict and protocol, then takes the last N', () => {
    const store = new FlowStore();
    store.add(flow(1));
    store.add(flow(2, { verdict: 'DROPPED', source: { ip: '10.0.0.3', port: 1, pod: 'alliance/xwing' } }));
    store.add(flow(3, { protocol: 'http', layer: 'proxy', verdict: 'DENIED' }));
    store.add(flow(4, { destination: { ip: '1.1.1.1', port: 443 } }));
    const q = (s: string) => {
      const p = parseFlowQuery(new URLSearchParams(s));
      return store.query({ ...p.filter, last: p.last }).map((f) => f.summary);
    };
    assert.deepEqual(q('pod=alliance/xwing'), ['flow 2']);
    assert.deepEqual(q('pod=empire/deathstar'), ['flow 1', 'flow 2', 'flow 3']);
    assert.deepEqual(q('pod=empire/'), ['flow 1', 'flow 2', 'flow 3', 'flow 4']);
    assert.deepEqual(q('from-pod=empire/tiefighter&to-pod=empire/deathstar'), ['flow 1', 'flow 3']);
    assert.deepEqual(q('to-pod=empire/tiefighter'), []);
    assert.deepEqual(q('verdict=dropped,denied'), ['flow 2', 'flow 3']);
    assert.deepEqual(q('verdict=DROPPED&verdict=DENIED&protocol=http'), ['flow 3']);
    assert.deepEqual(q('last=2'), ['flow 3', 'flow 4']);
    assert.deepEqual(q('last=0'), []);
  });

  test('a bad filter value is refused with a code and a hint', () => {
    for (const bad of ['verdict=LOST', 'protocol=sctp', 'last=-1', 'last=abc', 'pod=a/b/c']) {
      assert.throws(() => parseFlowQuery(new URLSearchParams(bad)), (err: { code?: string; hint?: string }) => err.code === 'MESHD_ERR_FLOWS_INVALID_FILTER' && typeof err.hint === 'string', bad);
    }
    assert.deepEqual(parseFlowQuery(new URLSearchParams('pod=deathstar')).filter.pod, ['default/deathstar']);
  });

  test('follow yields matching new flows and ends when its signal aborts', async () => {
    const store = new FlowStore();
    const abort = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const f of store.follow({ verdict: ['DROPPED'] }, abort.signal)) {
        seen.push(f.summary);
        if (seen.length === 2) abort.abort();
      }
    })();
    store.add(flow(1));
    store.add(flow(2, { verdict: 'DROPPED' }));
    await new Promise((r) => setImmediate(r));
    store.add(flow(3, { verdict: 'DROPPED' }));
    store.add(flow(4, { verdict: 'DROPPED' }));
    await done;
    assert.deepEqual(seen, ['flow 2', 'flow 3']);
    assert.equal(store.stats().followers, 0);
  });

  test('a follower aborted while waiting ends at once', async () => {
    const store = new FlowStore();
    const abort = new AbortController();
    const done = (async () => {
      let n = 0;
      for await (const _ of store.follow({}, abort.signal)) n++;
      return n;
    })();
    setTimeout(() => abort.abort(), 10);
    assert.equal(await done, 0);
  });

  test('a follower that does not read holds at most its queue bound and counts what it lost', async () => {
    const store = new FlowStore({ capacity: 100, followerQueue: 8 });
    const abort = new AbortController();
    const iterator = store.follow({}, abort.signal)[Symbol.asyncIterator]();
    const first = iterator.next(); // registered and waiting; then 1000 flows come in one tick
    for (let i = 0; i < 1000; i++) store.add(flow(i));
    assert.equal(store.stats().followerLost, 1000 - 8);
    const rest: string[] = [(await first).value!.summary];
    for (let i = 0; i < 7; i++) rest.push((await iterator.next()).value!.summary);
    assert.deepEqual(rest, ['flow 992', 'flow 993', 'flow 994', 'flow 995', 'flow 996', 'flow 997', 'flow 998', 'flow 999']);
    abort.abort();
    assert.equal((await iterator.next()).done, true);
  });
});
