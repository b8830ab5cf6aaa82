// PinnedDatapathView: the node proxy's read-only view of a datapath the agent loaded. On a real
// pinned datapath (pods redirected by the kernel), it must answer original destinations and
// identities exactly as the agent's Datapath does, while loading, attaching and writing nothing;
// a pin root without the maps (or with maps of another layout) is MESHD_ERR_DATAPATH_NOT_LOADED.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, MAP_NAMES, PinnedDatapathView, type DatapathError } from '../../bpf/index.js';
import { assertKernelReady, cnp, probe, removePinRoot, startPlainProxy, testPinRoot, withCluster } from './datapath-harness.js';

const T = { timeout: 120_000 };
/** struct ipcache_key / ipcache_value of bpf/lib (bpf/datapath/codecs.ts STRUCT_LAYOUTS, BTF-checked by codecs.test.ts). */
const IPCACHE_KEY_SIZE = 24;
const IPCACHE_VALUE_SIZE = 8;

/** Every entry of every pinned map of the view's interest, hex, to prove the view writes nothing. */
function dumpMaps(pinRoot: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of [MAP_NAMES.ipcache, MAP_NAMES.origDst, MAP_NAMES.endpoints, MAP_NAMES.config]) {
    const m = BpfMap.openPinned(join(pinRoot, name));
    try {
      out[name] = m.entries().map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).sort();
    } finally {
      m.close();
    }
  }
  return out;
}

/** Open fds of this process: a failed open must release the map fds it took. Counted around
 *  synchronous calls only, so no I/O of the event loop opens or closes one in between. */
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('PinnedDatapathView (read-only view of the pinned datapath)', () => {
  test('it resolves the original destination of a kernel-redirected connection and identities exactly as the Datapath does, and writes nothing', T, async () => {
    await withCluster(['client', 'server'], async ({ dp, pods, members, node, pinRoot, applyPolicy }) => {
      const { proxy, port: proxyPort } = await startPlainProxy(node, node.gateway4);
      let view: PinnedDatapathView | undefined;
      try {
        applyPolicy(
          cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{ method: GET }] } }]`),
          { http: proxyPort },
        );
        const mapIdsBefore = dp.mapIds();
        view = PinnedDatapathView.open({ pinRoot });
        assert.equal(view.pinRoot, pinRoot);

        const r = await probe(pods[0]!, ['tcp', members[1]!.ipv4, '8080', 'GET / HTTP/1.0\r\n\r\n']);
        assert.equal(r.ok, true, `${JSON.stringify(r)}; proxy: ${JSON.stringify(proxy.lines)} ${proxy.stderr}`);
        const seen = await proxy.waitFor((l) => l['peer'] !== undefined);
        const tuple = { remote: seen['peer'] as { address: string; port: number }, local: seen['local'] as { address: string; port: number } };
        const before = dumpMaps(pinRoot);

        const fromView = view.originalDestination(tuple);
        assert.deepEqual(fromView, {
          address: members[1]!.ipv4,
          port: 8080,
          family: 4,
          protocol: 'tcp',
          endpointId: members[0]!.endpointId,
          localIdentity: members[0]!.identity,
          peerIdentity: members[1]!.identity,
        });
        assert.deepEqual(fromView, dp.originalDestination(tuple), 'the same answer as the agent Datapath (shared decoder)');
        assert.equal(view.originalDestination({ remote: { address: members[0]!.ipv4, port: 1 }, local: tuple.local }), undefined, 'a tuple that was not redirected');
        for (const m of members) {
          assert.equal(view.ipcache.identityOf(m.ipv4), m.identity);
          assert.equal(view.ipcache.identityOf(m.ipv6), m.identity);
        }
        assert.equal(view.ipcache.identityOf('203.0.113.9'), dp.ipcache.identityOf('203.0.113.9'), 'world, as the Datapath says');
        assert.deepEqual(view.ipcache.entries().sort(), dp.ipcache.entries().sort());

        assert.deepEqual(dumpMaps(pinRoot), before, 'the view wrote nothing');
        assert.deepEqual(dp.mapIds(), mapIdsBefore, 'the same kernel maps: the view loaded no object');
        assert.equal('upsert' in view.ipcache, false, 'no write method on the view');

        view.close();
        view.close();
        assert.throws(() => view!.originalDestination(tuple), (err: DatapathError) => err.code === 'MESHD_ERR_DATAPATH_CLOSED');
        assert.throws(() => view!.ipcache.identityOf(members[0]!.ipv4), (err: DatapathError) => err.code === 'MESHD_ERR_DATAPATH_CLOSED');
        // Closing the view leaves the agent's datapath working.
        assert.deepEqual(dp.originalDestination(tuple), fromView);
      } finally {
        view?.close();
        proxy.stop();
      }
    });
  });

  test('a pin root without the datapath maps is MESHD_ERR_DATAPATH_NOT_LOADED naming the missing map', () => {
    assertKernelReady();
    const pinRoot = testPinRoot();
    try {
      assert.throws(() => PinnedDatapathView.open({ pinRoot }), (err: DatapathError) => {
        assert.equal(err.code, 'MESHD_ERR_DATAPATH_NOT_LOADED');
        assert.match(err.message, new RegExp(`${join(pinRoot, MAP_NAMES.ipcache)}: it is not pinned there`));
        return true;
      });
      // Only the ipcache there: the orig_dst map is named, and nothing stays open.
      mkdirSync(pinRoot, { recursive: true });
      const ipcache = BpfMap.create({ type: 'lpm_trie', keySize: IPCACHE_KEY_SIZE, valueSize: IPCACHE_VALUE_SIZE, maxEntries: 4, name: 'meshd_ipc_t' });
      try {
        ipcache.pin(join(pinRoot, MAP_NAMES.ipcache));
      } finally {
        ipcache.close();
      }
      const fdsBefore = openFds();
      assert.throws(() => PinnedDatapathView.open({ pinRoot }), (err: DatapathError) => {
        assert.equal(err.code, 'MESHD_ERR_DATAPATH_NOT_LOADED');
        assert.match(err.message, new RegExp(`${join(pinRoot, MAP_NAMES.origDst)}: it is not pinned there`));
        return true;
      });
      assert.equal(openFds(), fdsBefore, 'the ipcache fd opened before the orig_dst failure is closed');
    } finally {
      removePinRoot(pinRoot);
    }
  });

  test('a pinned map of another layout is MESHD_ERR_DATAPATH_NOT_LOADED saying so', () => {
    assertKernelReady();
    const pinRoot = testPinRoot();
    try {
      mkdirSync(pinRoot, { recursive: true });
      const wrong = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 4, name: 'meshd_wrong_t' });
      try {
        wrong.pin(join(pinRoot, MAP_NAMES.ipcache));
      } finally {
        wrong.close();
      }
      const fdsBefore = openFds();
      assert.throws(() => PinnedDatapathView.open({ pinRoot }), (err: DatapathError) => {
        assert.equal(err.code, 'MESHD_ERR_DATAPATH_NOT_LOADED');
        assert.match(err.message, /another layout \(key 8 \/ value 8 bytes\)/);
        assert.match(err.message, new RegExp(`expects \\(key ${IPCACHE_KEY_SIZE} / value ${IPCACHE_VALUE_SIZE} bytes\\)`));
        return true;
      });
      assert.equal(openFds(), fdsBefore, 'the map of the wrong layout is closed again');
    } finally {
      removePinRoot(pinRoot);
    }
  });
});
