// The agent's Kubernetes watcher against recorded API responses (test/cluster/k8s-fixtures/, served
// by k8s-api-fixture.ts): initial sync, add/modify/delete, resume after a dropped watch, relist
// after 410 Gone, malformed objects, namespace relabelling. Policies go into a real PolicyStore
// (with a real Repository), endpoints into a registry that records what the agent would register.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Repository, loadPolicyText } from '../../policy/index.js';
import { PolicyStore, type PolicySource } from '../../agent/index.js';
import { K8sWatcher, type K8sEndpointSink, type K8sEndpointSpec, type K8sError, type K8sServiceSpec } from '../../agent/index.js';
import { K8sApiFixture, K8S_FIXTURE_DIR, type FixtureRoute, type WatchSession } from './k8s-api-fixture.js';

const PATHS = {
  namespaces: '/api/v1/namespaces',
  pods: '/api/v1/pods',
  services: '/api/v1/services',
  netpol: '/apis/networking.k8s.io/v1/networkpolicies',
  cnp: '/apis/cilium.io/v2/ciliumnetworkpolicies',
  ccnp: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies',
} as const;
type Route = { lists: string[]; watches?: WatchSession[] };

const DEFAULT_ROUTES: Record<keyof typeof PATHS, Route> = {
  namespaces: { lists: ['namespaces-list.json'] },
  pods: { lists: ['pods-list.json'] },
  services: { lists: ['services-list.json'] },
  netpol: { lists: ['netpol-list.json'] },
  cnp: { lists: ['cnp-list.json'] },
  ccnp: { lists: ['ccnp-list.json'] },
};

const FRONTEND = 'shop/frontend-6d8f7c9b4-x2k9p';
const BACKEND = 'shop/backend-7c5d9f8b6-m4q2z';
const CACHE = 'shop/cache-59f7c6d8b5-t6h3n';

/** What the agent's endpoint registry would hold, and every call it got. */
class RecordingRegistry implements K8sEndpointSink {
  readonly pods = new Map<string, K8sEndpointSpec>();
  readonly calls: string[] = [];
  async onPodUpsert(spec: K8sEndpointSpec): Promise<void> {
    this.calls.push(`upsert ${spec.id}`);
    this.pods.set(spec.id, spec);
  }
  async onPodDelete(ref: { id: string; uid: string | undefined }): Promise<void> {
    this.calls.push(`delete ${ref.id} ${ref.uid ?? ''}`);
    this.pods.delete(ref.id);
  }
  async onPodSync(ids: string[]): Promise<void> {
    this.calls.push(`sync ${ids.length}`);
    for (const id of [...this.pods.keys()]) if (!ids.includes(id)) this.pods.delete(id);
  }
}

interface Harness {
  api: K8sApiFixture;
  watcher: K8sWatcher;
  store: PolicyStore;
  registry: RecordingRegistry;
  services: Map<string, K8sServiceSpec>;
  errors: K8sError[];
  /** Files of every policy source handed to PolicyStore.apply, in order. */
  applied: string[];
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

async function withWatcher(
  routes: Partial<Record<keyof typeof PATHS, Route>>,
  fn: (h: Harness) => Promise<void>,
  before?: (store: PolicyStore) => Promise<void>,
): Promise<void> {
  const merged = { ...DEFAULT_ROUTES, ...routes };
  const fixtureRoutes: FixtureRoute[] = Object.entries(merged).map(([k, r]) => ({ path: PATHS[k as keyof typeof PATHS], ...r }));
  const stateDir = await mkdtemp(join(tmpdir(), 'meshd-k8s-'));
  const api = await K8sApiFixture.start(fixtureRoutes);
  let watcher: K8sWatcher | undefined;
  let store: PolicyStore | undefined;
  try {
    store = await PolicyStore.open({ stateDir, repository: new Repository(), logger: silent, onChange: async () => {} });
    await before?.(store);
    const registry = new RecordingRegistry();
    const services = new Map<string, K8sServiceSpec>();
    const errors: K8sError[] = [];
    const applied: string[] = [];
    const s = store;
    watcher = await K8sWatcher.start({
      kubeConfig: api.kubeConfig(),
      nodeName: 'node-1',
      policies: { apply: (src: PolicySource[]) => (applied.push(...src.map((x) => x.file)), s.apply(src)), delete: (ref) => s.delete(ref), list: () => s.list() },
      endpoints: registry,
      services: { onServiceUpsert: async (spec) => void services.set(spec.id, spec), onServiceDelete: async (id) => void services.delete(id) },
      logger: silent,
      onError: (e) => errors.push(e),
      retryDelayMs: 50,
    });
    await fn({ api, watcher, store, registry, services, errors, applied });
  } finally {
    await watcher?.close();
    await store?.close();
    await api.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Polls until `check` stops throwing; bounded. */
async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const keys = (store: PolicyStore): string[] => store.list().map((p) => p.key);
const watches = (api: K8sApiFixture, path: string) => api.requests.filter((r) => r.path === path && r.watch);
const lists = (api: K8sApiFixture, path: string) => api.requests.filter((r) => r.path === path && !r.watch);

describe('the Kubernetes watcher', { timeout: 60_000 }, () => {
  test('the initial sync registers the pods of this node and applies every valid policy', async () => {
    await withWatcher({}, async ({ api, watcher, store, registry, services, errors }) => {
      await watcher.synced();
      assert.deepEqual([...registry.pods.keys()].sort(), [BACKEND, FRONTEND], 'the pending pod (no IP) and the host-network pod are no endpoints');
      const fe = registry.pods.get(FRONTEND)!;
      assert.deepEqual(fe.ips, ['10.244.1.17', 'fd44:244:1::11']);
      assert.deepEqual(fe.labels, { app: 'frontend', 'pod-template-hash': '6d8f7c9b4' });
      assert.deepEqual(fe.namespaceLabels, { 'kubernetes.io/metadata.name': 'shop', team: 'a', env: 'prod' });
      assert.equal(fe.serviceAccount, 'frontend');
      assert.deepEqual(fe.namedPorts, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
      assert.equal(fe.nodeName, 'node-1');
      assert.equal(fe.qosClass, 'BestEffort');
      assert.equal(fe.containerIds.length, 1);
      assert.deepEqual(registry.pods.get(BACKEND)!.namedPorts, [{ name: 'grpc', port: 9090, protocol: 'TCP' }], 'unnamed ports are no named ports');

      const podRequests = api.requests.filter((r) => r.path === PATHS.pods);
      assert.ok(podRequests.length >= 1);
      for (const r of podRequests) assert.equal(r.query.get('fieldSelector'), 'spec.nodeName=node-1', 'only this node\'s pods are asked for');

      assert.deepEqual(keys(store), [
        'CiliumClusterwideNetworkPolicy//cluster-dns',
        'CiliumNetworkPolicy/shop/backend-from-frontend',
        'NetworkPolicy/shop/backend-ingress',
      ]);
      const cnp = store.get({ kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'backend-from-frontend' });
      assert.equal(cnp.summary.file, 'k8s://CiliumNetworkPolicy/shop/backend-from-frontend');
      assert.doesNotMatch(cnp.text, /managedFields|last-applied-configuration|resourceVersion/, 'server bookkeeping is not part of the policy');
      assert.match(store.get({ kind: 'NetworkPolicy', namespace: 'shop', name: 'backend-ingress' }).text, /"from"/, 'NetworkPolicy fields keep their API names');
      assert.equal(store.get({ kind: 'CiliumClusterwideNetworkPolicy', name: 'cluster-dns' }).summary.file, 'k8s://CiliumClusterwideNetworkPolicy/cluster-dns');

      const rejected = errors.filter((e) => e.code === 'MESHD_ERR_K8S_POLICY_REJECTED');
      assert.equal(rejected.length, 1);
      assert.match(rejected[0]!.message, /^CiliumNetworkPolicy shop\/cache-port-typo: spec\.ingress\[0\]\.toPorts\[0\]\.ports\[0\]\.port: /);
      assert.deepEqual(rejected[0]!.object, { kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'cache-port-typo' });
      assert.deepEqual(watcher.invalidObjects().map((e) => e.object?.name), ['cache-port-typo']);

      assert.deepEqual([...services.keys()].sort(), ['shop/backend', 'shop/db']);
      assert.deepEqual(services.get('shop/backend')!.clusterIPs, ['10.96.12.34']);
      assert.deepEqual(services.get('shop/db')!.clusterIPs, [], 'a headless service has no cluster IP');
    });
  });

  test('watch events add, modify and delete pods and policies, and a status-only update re-applies nothing', async () => {
    await withWatcher(
      { pods: { lists: ['pods-list.json'], watches: [{ events: 'pods-watch-changes.jsonl' }] }, cnp: { lists: ['cnp-list.json'], watches: [{ events: 'cnp-watch-changes.jsonl' }] } },
      async ({ watcher, store, registry, applied }) => {
        await watcher.synced();
        await eventually(() => {
          assert.deepEqual([...registry.pods.keys()].sort(), [BACKEND, CACHE]);
          assert.ok(keys(store).includes('CiliumNetworkPolicy/shop/cache-port-typo'));
        });
        await watcher.settled();
        assert.deepEqual(registry.pods.get(BACKEND)!.labels, { app: 'backend', version: 'v2', 'pod-template-hash': '6d8f7c9b4' });
        assert.ok(registry.calls.includes(`delete ${FRONTEND} 3f6c1a2e-0b7d-4c1e-9a51-000000000011`), registry.calls.join('\n'));
        assert.deepEqual(keys(store).filter((k) => k.startsWith('CiliumNetworkPolicy/')), ['CiliumNetworkPolicy/shop/backend-from-frontend', 'CiliumNetworkPolicy/shop/cache-port-typo']);
        assert.match(store.get({ kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'backend-from-frontend' }).text, /\/api\/orders/);
        const backendApplies = applied.filter((f) => f === 'k8s://CiliumNetworkPolicy/shop/backend-from-frontend').length;
        assert.equal(backendApplies, 2, 'the list and the spec change; not the status update');
        assert.deepEqual(watcher.invalidObjects(), [], 'the fixed policy is no longer reported');
      },
    );
  });

  test('a dropped watch resumes from the last resourceVersion it saw, without a relist', async () => {
    await withWatcher(
      { pods: { lists: ['pods-list.json'], watches: [{ events: 'pods-watch-before-drop.jsonl', end: 'drop' }, { events: 'pods-watch-after-drop.jsonl' }] } },
      async ({ api, watcher, registry, errors }) => {
        await watcher.synced();
        await api.waitForRequests((r) => r.filter((x) => x.path === PATHS.pods && x.watch).length >= 2, 5000, 'a second pod watch');
        const [first, second] = watches(api, PATHS.pods);
        assert.equal(first!.query.get('resourceVersion'), '1000', 'the first watch starts at the list\'s resourceVersion');
        assert.equal(second!.query.get('resourceVersion'), '1004', 'the resumed watch starts at the last BOOKMARK');
        assert.equal(lists(api, PATHS.pods).length, 1, 'no relist');
        await eventually(() => assert.deepEqual([...registry.pods.keys()].sort(), [CACHE, FRONTEND]));
        assert.ok(errors.some((e) => e.code === 'MESHD_ERR_K8S_API' && e.message.startsWith('Pod:')), 'the lost connection is reported');
      },
    );
  });

  test('410 Gone relists, and what vanished meanwhile is removed', async () => {
    await withWatcher(
      {
        pods: { lists: ['pods-list.json', 'pods-list-after-gone.json'], watches: [{ events: 'pods-watch-gone.jsonl', end: 'close' }] },
        cnp: { lists: ['cnp-list.json', 'cnp-list-after-gone.json'], watches: [{ events: 'cnp-watch-gone.jsonl', end: 'close' }] },
        services: { lists: ['services-list.json', 'empty-services-list.json'], watches: [{ status: 410 }] },
      },
      async ({ api, watcher, store, registry, services }) => {
        await watcher.synced();
        await eventually(() => {
          assert.deepEqual([...registry.pods.keys()].sort(), [CACHE, FRONTEND], 'backend vanished while the watch was gone');
          assert.deepEqual(keys(store).filter((k) => k.startsWith('CiliumNetworkPolicy/')), ['CiliumNetworkPolicy/shop/backend-from-frontend', 'CiliumNetworkPolicy/shop/frontend-dns']);
          assert.equal(services.size, 0, 'an HTTP 410 answer to a watch relists too');
          assert.equal(lists(api, PATHS.cnp).length, 2);
          assert.deepEqual(watcher.invalidObjects(), [], 'the deleted invalid policy is no longer reported');
        });
        // After the relist, the watch starts at the new list's resourceVersion.
        await api.waitForRequests((r) => r.some((x) => x.path === PATHS.pods && x.watch && x.query.get('resourceVersion') === '1500'), 5000, 'a pod watch from resourceVersion 1500');
        assert.equal(lists(api, PATHS.pods).length, 2);
        assert.equal(watches(api, PATHS.pods)[0]!.query.get('resourceVersion'), '1000');
        assert.equal(store.isAudit('CiliumNetworkPolicy/shop/frontend-dns'), true, 'the meshd.io/audit-mode annotation is kept');
        assert.equal(watcher.listCounts()['Pod'], 2);
      },
    );
  });

  test('a malformed object is reported with its kind, namespace, name and field, and the rest is applied', async () => {
    await withWatcher({ pods: { lists: ['pods-list-malformed.json'], watches: [{ events: 'pods-watch-malformed.jsonl' }] } }, async ({ watcher, registry, errors }) => {
      await watcher.synced();
      await eventually(() => assert.deepEqual([...registry.pods.keys()].sort(), [BACKEND, CACHE, FRONTEND]));
      await watcher.settled();
      const invalid = errors.filter((e) => e.code === 'MESHD_ERR_K8S_INVALID_OBJECT');
      const byField = new Map(invalid.map((e) => [e.field, e]));
      assert.match(byField.get('spec.containers[0].ports[0].containerPort')!.message, /^Pod shop\/broken-port-6c8d7b4f5-z9x8c: spec\.containers\[0\]\.ports\[0\]\.containerPort is not a port number 1-65535 \(70000\)/);
      assert.match(byField.get('status.podIPs[0].ip')!.message, /^Pod shop\/broken-ip-7d9c8b5f6-k2j4l: status\.podIPs\[0\]\.ip is not an IP address \("10\.244\.1\.999"\)/);
      assert.ok(byField.has('metadata.name'), 'an event object without a name is reported');
      assert.ok(!registry.calls.some((c) => c.includes('broken')), 'a broken pod is never registered, not even partly');
    });
  });

  test('a namespace label change re-labels every endpoint of the namespace', async () => {
    await withWatcher({ namespaces: { lists: ['namespaces-list.json'], watches: [{ events: 'namespaces-watch-relabel.jsonl', delayMs: 300 }] } }, async ({ watcher, registry }) => {
      await watcher.synced();
      assert.equal(registry.pods.get(FRONTEND)!.namespaceLabels['team'], 'a', 'the labels of the namespace list first');
      await eventually(() => {
        for (const id of [FRONTEND, BACKEND]) assert.equal(registry.pods.get(id)!.namespaceLabels['team'], 'b', id);
      });
      assert.equal(registry.calls.filter((c) => c === `upsert ${FRONTEND}`).length, 2, 'once at sync, once for the relabel');
    });
  });

  test('policies an earlier agent applied from Kubernetes that are gone from the API are deleted at sync; local ones stay', async () => {
    const stale = JSON.stringify({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'stale', namespace: 'shop' }, spec: { endpointSelector: { matchLabels: { app: 'x' } }, ingress: [{}] } });
    const local = stale.replace('"stale"', '"local"');
    await withWatcher(
      {},
      async ({ watcher, store }) => {
        await watcher.synced();
        const names = keys(store);
        assert.ok(!names.includes('CiliumNetworkPolicy/shop/stale'), names.join(', '));
        assert.ok(names.includes('CiliumNetworkPolicy/shop/local'));
      },
      async (store) => {
        await store.apply([{ file: 'k8s://CiliumNetworkPolicy/shop/stale', text: stale }, { file: '/etc/meshd/policies/local.json', text: local }]);
      },
    );
  });

  test('a missing resource (CRDs not installed) is reported and retried while the other kinds sync', async () => {
    await withWatcher({ cnp: { lists: [] } }, async ({ api, registry, errors }) => {
      await eventually(() => assert.equal(registry.pods.size, 2));
      await api.waitForRequests((r) => r.filter((x) => x.path === PATHS.cnp).length >= 2, 5000, 'a retried CiliumNetworkPolicy list');
      const e = errors.find((x) => x.code === 'MESHD_ERR_K8S_API' && x.message.startsWith('CiliumNetworkPolicy:'));
      assert.ok(e, errors.map((x) => x.message).join('\n'));
      assert.match(e.message, /HTTP 404/);
    });
  });
});

test('the policy loader accepts the API server\'s policy objects as they are, server metadata and status included', () => {
  const fixture = (file: string, kind: string, apiVersion: string) =>
    (JSON.parse(readFileSync(join(K8S_FIXTURE_DIR, file), 'utf8')) as { items: object[] }).items.map((i) => ({ apiVersion, kind, ...i }));
  const objects = [
    ...fixture('cnp-list.json', 'CiliumNetworkPolicy', 'cilium.io/v2'),
    ...fixture('ccnp-list.json', 'CiliumClusterwideNetworkPolicy', 'cilium.io/v2'),
    ...fixture('netpol-list.json', 'NetworkPolicy', 'networking.k8s.io/v1'),
  ];
  for (const o of objects) {
    const name = (o as unknown as { metadata: { name: string } }).metadata.name;
    const r = loadPolicyText(`k8s://${name}`, JSON.stringify(o));
    if (name === 'cache-port-typo') assert.ok(r.problems.length > 0);
    else assert.deepEqual(r.problems, [], name);
    if (name !== 'cache-port-typo') assert.equal(r.policies.length, 1, name);
  }
});
