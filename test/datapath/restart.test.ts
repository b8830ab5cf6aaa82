// The process that loaded the programs dies (SIGKILL, no cleanup): enforcement continues from
// the pinned links and maps, and the next load reuses the same maps, entries and links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfLink, BpfMap, Datapath, MAP_NAMES } from '../../bpf/index.js';
import { withPods } from '../../agent/index.js';
import {
  FIRST_POD_IDENTITY,
  LineProcess,
  assertKernelReady,
  cnp,
  datapathOptions,
  probe,
  removePinRoot,
  startPlainProxy,
  startPodServer,
  testPinRoot,
  timedConnect,
  type PodMember,
} from './datapath-harness.js';

const LOADER = fileURLToPath(new URL('./restart-loader.js', import.meta.url));

test('killing the loading process keeps enforcement and the pinned maps, and a second load reuses them', { timeout: 120_000 }, async () => {
  assertKernelReady();
  await withPods([{ name: 'client' }, { name: 'server' }], async (pods, node) => {
    const pinRoot = testPinRoot();
    const members: PodMember[] = pods.map((p, i) => ({
      app: ['client', 'server'][i]!,
      endpointId: i + 1,
      identity: FIRST_POD_IDENTITY + i,
      ipv4: p.ipv4,
      ipv6: p.ipv6,
      cgroupPath: p.cgroupPath,
    }));
    const policy = cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`);
    const loader = new LineProcess(spawn(process.execPath, [LOADER, JSON.stringify({ pinRoot, node, members, policy })], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let server: LineProcess | undefined;
    let dp: Datapath | undefined;
    try {
      // Inside the try: a server that never starts must still stop the loader and remove its pins.
      server = await startPodServer(pods[1]!, 'tcp', 7000);
      const ready = await loader.waitFor((l) => l['ready'] === true, 30_000);
      loader.stop(); // SIGKILL: no close(), no unload()
      await once(loader.child, 'exit');

      const [client] = pods;
      const target = members[1]!.ipv4;
      assert.equal((await timedConnect(client!, target, 7002)).code, 'EPERM', 'the deny still holds with no loader alive');
      assert.equal((await probe(client!, ['tcp', target, '7000'])).ok, true, 'the allow still holds');

      // Every pinned map, with a real id: two empty records would also be equal.
      const firstIds = ready['mapIds'] as Record<string, number>;
      assert.deepEqual(Object.keys(firstIds).sort(), Object.values(MAP_NAMES).sort(), 'the loader reported every map');
      assert.ok(Object.values(firstIds).every((id) => id > 0), JSON.stringify(firstIds));
      dp = Datapath.open(datapathOptions(node, pinRoot));
      assert.deepEqual(dp.mapIds(), firstIds, 'the second load reuses every pinned map');
      assert.deepEqual(dp.attachedEndpoints().map((e) => e.id).sort(), [1, 2], 'the endpoints are still in the map');
      assert.equal(dp.ipcache.identityOf(target), members[1]!.identity, 'and the ipcache entries');

      const link = BpfLink.openPinned(join(pinRoot, 'links', pods[0]!.cgroupId.toString(), 'meshd_connect4'));
      const { id: linkId, progId } = link.info();
      link.close();
      assert.equal(linkId, ready['connect4LinkId'], 'the same pinned link, not a new attachment');
      assert.notEqual(progId, ready['connect4ProgId'], "the pinned link now runs the second load's program");

      assert.equal((await timedConnect(client!, target, 7002)).code, 'EPERM', 'enforcement across the swap');
      assert.equal((await probe(client!, ['tcp', target, '7000'])).ok, true);
    } finally {
      server?.stop();
      loader.stop();
      try {
        dp?.unload();
      } finally {
        removePinRoot(pinRoot);
      }
    }
  });
});

test('ingress L7 redirects of local clients and audit mode survive the loader\'s death and a second load, which refills an emptied address map', { timeout: 120_000 }, async () => {
  assertKernelReady();
  await withPods([{ name: 'client' }, { name: 'server' }, { name: 'audited' }], async (pods, node) => {
    const pinRoot = testPinRoot();
    const apps = ['client', 'server', 'audited'];
    const members: PodMember[] = pods.map((p, i) => ({
      app: apps[i]!,
      endpointId: i + 1,
      identity: FIRST_POD_IDENTITY + i,
      ipv4: p.ipv4,
      ipv6: p.ipv6,
      cgroupPath: p.cgroupPath,
      ...(apps[i] === 'audited' ? { auditMode: true } : {}),
    }));
    const [client, server, audited] = members as [PodMember, PodMember, PodMember];
    const policy =
      cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]`) +
      cnp('audited', `  egress:
    - toEndpoints: [{ matchLabels: { app: nobody } }]`);
    let loader: LineProcess | undefined;
    let proxy: LineProcess | undefined;
    let clientServer: LineProcess | undefined;
    let dp: Datapath | undefined;
    try {
      const started = await startPlainProxy(node, node.gateway4);
      proxy = started.proxy;
      clientServer = await startPodServer(pods[0]!, 'tcp', 7000);
      loader = new LineProcess(spawn(process.execPath, [LOADER, JSON.stringify({ pinRoot, node, members, policy, proxyPorts: { http: started.port } })], { stdio: ['ignore', 'pipe', 'pipe'] }));
      await loader.waitFor((l) => l['ready'] === true, 30_000);
      loader.stop();
      await once(loader.child, 'exit');

      const viaProxy = async (why: string) => {
        const r = await probe(pods[0]!, ['tcp', server.ipv4, '8080', 'GET / HTTP/1.0\r\n\r\n']);
        assert.equal(r.ok, true, `${why}: ${JSON.stringify(r)}`);
        assert.deepEqual(JSON.parse(r.response ?? '{}'), { proxy: true, origDst: { address: server.ipv4, port: 8080 } }, why);
      };
      const auditedPasses = async (why: string) => {
        const r = await probe(pods[2]!, ['tcp', client.ipv4, '7000']);
        assert.equal(r.ok, true, `the audited pod's denied connect passes ${why}: ${JSON.stringify(r)}`);
      };
      await viaProxy('with no loader alive');
      await auditedPasses('with no loader alive');

      dp = Datapath.open(datapathOptions(node, pinRoot));
      assert.equal(dp.isAuditMode(audited.endpointId), true, 'audit mode is read back from the pinned endpoints map');
      assert.equal(dp.isAuditMode(client.endpointId), false);
      await viaProxy('after the second load');
      await auditedPasses('after the second load');

      // A pin root from a build before the address map: the next load fills it from the endpoints.
      const addrs = BpfMap.openPinned(join(pinRoot, MAP_NAMES.endpointAddrs));
      try {
        assert.equal(addrs.keys().length, 6, 'two addresses per endpoint');
        addrs.deleteBatch(addrs.keys());
        assert.equal(addrs.keys().length, 0);
        const notLocal = await probe(pods[0]!, ['tcp', server.ipv4, '8080'], { PROBE_TIMEOUT_MS: '1000' });
        assert.notDeepEqual(JSON.parse(notLocal.response ?? '{}'), { proxy: true, origDst: { address: server.ipv4, port: 8080 } }, 'without the address entry the client is not redirected');
        dp.close();
        dp = Datapath.open(datapathOptions(node, pinRoot));
        assert.equal(addrs.keys().length, 6, 'refilled by the load');
      } finally {
        addrs.close();
      }
      await viaProxy('after the address map was refilled');
    } finally {
      for (const p of [loader, proxy, clientServer]) p?.stop();
      try {
        dp?.unload();
      } finally {
        removePinRoot(pinRoot);
      }
    }
  });
});
