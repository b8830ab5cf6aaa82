// The publisher with a real client: meshd's built-in proxy connected over the unix socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BuiltinProxy } from '../../proxylib/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { fromBinary } from '@bufbuild/protobuf';
import { TYPE_URL, messageSchemaOfUrl } from '../../xds/index.js';
import { XdsPublisher, XDS_STATE_FILE } from './xds-publisher.js';
import { proxyPortPlan } from './proxy-ports.js';
import type { XdsPublishInput } from './xds-publisher.js';

const logger = pino({ level: 'silent' });
const NODE = 'node-a';

function world(): { input(withPolicy: boolean): XdsPublishInput } {
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  return {
    input: (withPolicy) => {
      const repo = new Repository();
      const ep = repo.upsertEndpoint({ name: 'web', namespace: 'default', labels: { app: 'web' }, ips: ['10.244.0.10', 'fd44:244::a'], namedPorts: [] });
      selectors.addIdentity(1000, ep.identityLabels);
      if (withPolicy) {
        const loaded = loadPolicyText(
          'p.yaml',
          `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: web } }
  ingress:
    - toPorts: [{ ports: [{ port: "80", protocol: TCP }], rules: { http: [{ method: GET }] } }]
`,
        );
        assert.deepEqual(loaded.problems, []);
        for (const p of loaded.policies) repo.upsertPolicy(p);
      }
      return { endpoints: repo.resolveAll(), identitiesOf: (s) => selectors.register(s).selections(), ipcache: [{ prefix: '10.244.0.10/32', identity: 1000 }] };
    },
  };
}

async function start(stateDir: string): Promise<XdsPublisher> {
  // 127.0.0.1 so the built-in client can bind the listeners without the node's gateway address.
  return XdsPublisher.start({ stateDir, logger, nodes: [{ nodeId: NODE, target: 'builtin' }], proxyAddresses: ['127.0.0.1'], ports: proxyPortPlan(46001) });
}

test('versions count changes only, survive a restart in xds.json, and the connected proxy is reported in sync', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-xds-publish-'));
  const w = world();
  let publisher = await start(stateDir);
  let proxy: BuiltinProxy | undefined;
  try {
    assert.deepEqual([publisher.publish(w.input(false)).version, publisher.version], [1, 1]);
    const again = publisher.publish(w.input(false));
    assert.deepEqual([again.version, again.changed], [1, false], 'an unchanged view pushes nothing');

    proxy = await BuiltinProxy.start({ xds: `unix:${publisher.socketPath}`, nodeId: NODE, logger, backoff: { initialMs: 50, maxMs: 200 } });
    await proxy.ready(10_000);
    await publisher.waitForSync({ nodeId: NODE, timeoutMs: 10_000 });
    let status = publisher.status().proxies[0]!;
    assert.deepEqual([status.nodeId, status.connected, status.inSync, status.snapshotVersion], [NODE, true, true, '1']);

    const changed = publisher.publish(w.input(true));
    assert.deepEqual([changed.version, changed.changed], [2, true]);
    await publisher.waitForSync({ nodeId: NODE, version: 2, timeoutMs: 10_000 });
    status = publisher.status().proxies[0]!;
    assert.ok(status.types.some((t) => t.typeUrl.endsWith('Listener') && t.ackedVersion === '2'), JSON.stringify(status.types));
    assert.equal(publisher.stats().pushes, 2);
    assert.equal(JSON.parse(readFileSync(join(stateDir, XDS_STATE_FILE), 'utf8')).version, 2);

    // A restarted publisher: same numbering, the same view is the same version, and the proxy
    // (which kept its configuration) reconnects without being sent anything new.
    await publisher.close();
    publisher = await start(stateDir);
    assert.equal(publisher.version, 2);
    const restored = publisher.publish(w.input(true));
    assert.deepEqual([restored.version, restored.changed], [2, false]);
    await publisher.waitForSync({ nodeId: NODE, timeoutMs: 15_000 });
    assert.equal(publisher.stats().server.responses, 0, 'nothing was re-pushed to the reconnected proxy');
  } finally {
    await proxy?.close();
    await publisher.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a corrupt xds.json is moved aside with a warning and numbering starts again', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-xds-publish-'));
  try {
    writeFileSync(join(stateDir, XDS_STATE_FILE), '{"version": "seven"');
    const warnings: string[] = [];
    const publisher = await XdsPublisher.start({ stateDir, logger, nodes: [{ nodeId: NODE, target: 'builtin' }], proxyAddresses: ['127.0.0.1'], ports: proxyPortPlan(46001) }, (w) => warnings.push(w.code));
    try {
      assert.deepEqual(warnings, ['MESHD_ERR_AGENT_STATE_FILE_CORRUPT']);
      assert.equal(publisher.version, 0);
      assert.equal(existsSync(join(stateDir, XDS_STATE_FILE)), false);
    } finally {
      await publisher.close();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('with transparentIngress the ingress listeners of the snapshot are transparent, without it none is', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-xds-publish-'));
  const w = world();
  // The snapshot holds encoded resources: decode the listeners as the proxy would.
  const schema = messageSchemaOfUrl(TYPE_URL.listener)!;
  const listenersOf = (p: XdsPublisher): Array<{ name: string; transparent: boolean }> =>
    [...(p.cache.getSnapshot(NODE)?.resources(TYPE_URL.listener).values() ?? [])].map((r) => {
      const listener = fromBinary(schema, r.body) as unknown as { name: string; transparent?: boolean };
      return { name: listener.name, transparent: listener.transparent === true };
    });
  try {
    for (const transparentIngress of [true, false]) {
      const publisher = await XdsPublisher.start({ stateDir, logger, nodes: [{ nodeId: NODE, target: 'builtin' }], proxyAddresses: ['127.0.0.1'], ports: proxyPortPlan(46001), transparentIngress });
      try {
        publisher.publish(w.input(true));
        const listeners = listenersOf(publisher);
        // The policy has one ingress HTTP redirect: the listener on the ingress HTTP port (base + 1).
        assert.deepEqual(listeners, [{ name: 'meshd/tcp/46002', transparent: transparentIngress }]);
      } finally {
        await publisher.close();
      }
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
