import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotCache } from './snapshot-cache.js';
import { Snapshot } from './snapshot.js';
import { TYPE_URL } from '../codec/index.js';
import type { SubscriptionView, WatchResponse } from './watch.js';
import { FakeListener, fakeService, mergeServices } from '../../test/xds/fixtures.js';

const node = { id: 'n1', cluster: '', userAgentName: 'test' };

function sub(init: Partial<SubscriptionView> = {}): SubscriptionView {
  return { isWildcard: false, names: new Set(), returned: new Map(), mustAnswer: new Set(), hasResponded: false, ...init };
}

describe('SnapshotCache', () => {
  test('an inconsistent snapshot is refused with every problem and the previous snapshot stays', () => {
    const cache = new SnapshotCache();
    const good = Snapshot.fromMessages(fakeService('a'));
    cache.setSnapshot('n1', good);
    const bad = Snapshot.fromMessages({ listeners: [new FakeListener('l').withRds('r1').build(), new FakeListener('m', 2).withTcpProxy('c9').build()] });
    assert.throws(
      () => cache.setSnapshot('n1', bad),
      (err: { code?: string; problems?: string[]; message: string }) => err.code === 'MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT' && err.problems?.length === 2 && /r1/.test(err.message) && /c9/.test(err.message),
    );
    assert.equal(cache.getSnapshot('n1'), good);
  });

  test('a change wakes only the watches of the types that changed, and only for the node concerned', () => {
    const cache = new SnapshotCache();
    cache.setSnapshot('n1', Snapshot.fromMessages(mergeServices(fakeService('a'), fakeService('b', 2))));
    cache.setSnapshot('n2', Snapshot.fromMessages(fakeService('a')));
    const fired: string[] = [];
    const watch = (id: string, typeUrl: string, s: SubscriptionView) => cache.createWatch({ node: { ...node, id }, typeUrl, variant: 'sotw', versionInfo: '' }, s, (r: WatchResponse) => fired.push(`${id} ${r.typeUrl} ${r.resources.map((x) => x.name).join(',')}`));
    const current = (id: string, typeUrl: string) => new Map([...cache.getSnapshot(id)!.resources(typeUrl).values()].map((r) => [r.name, r.version]));
    watch('n1', TYPE_URL.endpoint, sub({ names: new Set(['a-cluster', 'b-cluster']), returned: current('n1', TYPE_URL.endpoint), hasResponded: true }));
    watch('n1', TYPE_URL.listener, sub({ isWildcard: true, returned: current('n1', TYPE_URL.listener), hasResponded: true }));
    watch('n2', TYPE_URL.endpoint, sub({ names: new Set(['a-cluster']), returned: current('n2', TYPE_URL.endpoint), hasResponded: true }));
    assert.deepEqual(fired, []);
    cache.setSnapshot('n1', Snapshot.fromMessages(mergeServices(fakeService('a'), fakeService('b', 2, ['10.7.7.7', 7]))));
    assert.deepEqual(fired, [`n1 ${TYPE_URL.endpoint} b-cluster`]);
    assert.equal(cache.status().find((s) => s.nodeId === 'n1')!.openWatches, 1);
  });

  test('nodes without a snapshot use "*", and clearing a node\'s own snapshot falls back to it', () => {
    const cache = new SnapshotCache();
    const fired: WatchResponse[] = [];
    cache.setSnapshot('*', Snapshot.fromMessages(fakeService('d')));
    cache.setSnapshot('n1', Snapshot.fromMessages(fakeService('own')));
    const returned = new Map([...cache.getSnapshot('n1')!.resources(TYPE_URL.cluster).values()].map((r) => [r.name, r.version]));
    cache.createWatch({ node, typeUrl: TYPE_URL.cluster, variant: 'sotw', versionInfo: '' }, sub({ isWildcard: true, returned, hasResponded: true }), (r) => fired.push(r));
    assert.equal(fired.length, 0);
    cache.clearSnapshot('n1');
    assert.deepEqual(fired.map((r) => r.resources.map((x) => x.name)), [['d-cluster']]);
  });

  test('status reports requests, acked versions and the last NACK per node and type', () => {
    const cache = new SnapshotCache();
    cache.setSnapshot('n1', Snapshot.fromMessages({ ...fakeService('a'), version: 'v7' }));
    cache.recordRequest('n1');
    cache.recordAck('n1', TYPE_URL.cluster, 'x1');
    cache.recordNack('n1', TYPE_URL.cluster, 'x2', 'bad');
    const [s] = cache.status();
    assert.equal(s!.nodeId, 'n1');
    assert.equal(s!.snapshotVersion, 'v7');
    assert.ok(s!.lastRequestAt instanceof Date);
    const t = s!.types.find((x) => x.typeUrl === TYPE_URL.cluster)!;
    assert.equal(t.ackedVersion, 'x1');
    assert.deepEqual({ version: t.lastNack!.version, message: t.lastNack!.message }, { version: 'x2', message: 'bad' });
  });
});
