import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URL, messageFromJson, messageSchemaOfUrl } from '../../xds/index.js';
import { ConfigStore } from './config-store.js';
import { defaultCompilers } from './default-compilers.js';
import type { ConfigChange, ResourceUpdate } from './types.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function fromJson(typeUrl: string, json: unknown): unknown {
  return messageFromJson(messageSchemaOfUrl(typeUrl)!, json);
}

function listener(name: string, routeName: string, hcmExtra: object = {}): ResourceUpdate {
  const message = fromJson(TYPE_URL.listener, {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: name, rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }], ...hcmExtra } }] }],
  });
  return { name, version: `${name}-v1`, message };
}

function edsCluster(name: string, serviceName = ''): ResourceUpdate {
  return { name, version: 'c1', message: fromJson(TYPE_URL.cluster, { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} }, ...(serviceName ? { service_name: serviceName } : {}) } }) };
}

/** A store that already has the route configurations the listeners below name (so they do not warm). */
function storeWithRoutes(): ConfigStore {
  const store = new ConfigStore(defaultCompilers);
  store.apply('route', ['ra', 'ra2', 'rb', 'rc'].map((n) => route(n)));
  return store;
}

describe('ConfigStore', () => {
  test('an update where one resource fails to compile applies the others, refuses that one and lists its problems with resource and field path', () => {
    const store = storeWithRoutes();
    const changes: ConfigChange[] = [];
    store.onChange((c) => changes.push(c));
    assert.deepEqual(store.apply('listener', [listener('a', 'ra'), listener('b', 'rb')]).problems, []);
    const bBefore = store.listener('b');
    const aBefore = store.listener('a');
    const result = store.apply('listener', [listener('a', 'ra2'), listener('b', 'rb', { tracing: {} }), listener('c', 'rc', { tracing: {} })], []);
    assert.deepEqual(result.problems.map((p) => ({ ...p, message: undefined })), [
      { kind: 'listener', resource: 'b', path: 'filter_chains[0].filters[0].typed_config.tracing', message: undefined },
      { kind: 'listener', resource: 'c', path: 'filter_chains[0].filters[0].typed_config.tracing', message: undefined },
    ]);
    assert.deepEqual(result.applied, ['a']);
    assert.deepEqual(result.refused, ['b', 'c']);
    assert.notEqual(store.listener('a'), aBefore, 'a, which compiled, is updated');
    assert.equal(store.listener('b'), bBefore, 'b keeps its previous version');
    assert.equal(store.listener('c'), undefined, 'c, new and refused, does not exist');
    assert.deepEqual(changes.at(-1), { kind: 'listener', added: [], updated: ['a'], removed: [] });
  });

  test('removals in a response with a refused resource are applied', () => {
    const store = storeWithRoutes();
    store.apply('listener', [listener('a', 'ra'), listener('b', 'rb')]);
    const result = store.apply('listener', [listener('c', 'rc', { tracing: {} })], ['a']);
    assert.equal(result.problems.length, 1);
    assert.deepEqual(store.listenerNames(), ['b']);
  });

  test('a listener whose route configuration was refused (never accepted) does not warm forever, and runs without it as Envoy does', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('listener', [listener('a', 'bad-route')]);
    assert.deepEqual(store.warmingNames('listener'), ['a']);
    const bad = { name: 'bad-route', version: '1', message: fromJson(TYPE_URL.route, { name: 'bad-route', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }], vhds: { config_source: { ads: {} } } }) };
    const r = store.apply('route', [bad]);
    assert.deepEqual(r.refused, ['bad-route'], JSON.stringify(r.problems));
    assert.ok(store.listener('a'));
    assert.equal(store.routeTable('bad-route'), undefined);
  });

  test('release() drops an accepted named resource and forgets a refused or absent name, so a later listener waits for a fresh answer', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('route', [route('ra')]);
    store.apply('route', [], ['gone']);
    const changes: ConfigChange[] = [];
    store.onChange((c) => changes.push(c));
    store.release('route', ['ra', 'gone']);
    assert.equal(store.routeTable('ra'), undefined);
    assert.deepEqual(changes, [{ kind: 'route', added: [], updated: [], removed: ['ra'] }]);
    store.apply('listener', [listener('a', 'gone')]);
    assert.deepEqual(store.warmingNames('listener'), ['a'], 'no stale "absent" mark lets it through');
  });

  test('an accepted update reports added, updated and removed names once, in one change, after applying it', () => {
    const store = storeWithRoutes();
    store.apply('listener', [listener('a', 'ra'), listener('b', 'rb')]);
    const seen: Array<{ change: ConfigChange; names: string[] }> = [];
    store.onChange((change) => seen.push({ change, names: store.listenerNames().sort() }));
    store.apply('listener', [listener('a', 'ra2'), listener('c', 'rc')], ['b', 'not-there']);
    assert.deepEqual(seen, [{ change: { kind: 'listener', added: ['c'], updated: ['a'], removed: ['b'] }, names: ['a', 'c'] }]);
  });

  test('a name both upserted and removed in one update is kept (the upsert wins)', () => {
    const store = storeWithRoutes();
    store.apply('listener', [listener('a', 'ra')]);
    store.apply('listener', [listener('a', 'ra')], ['a']);
    assert.ok(store.listener('a'));
  });

  test('the same name twice in one update is a problem: the first copy is applied, the second refused', () => {
    const store = storeWithRoutes();
    const r = store.apply('listener', [listener('a', 'ra'), listener('a', 'rb')]);
    assert.match(r.problems[0]?.message ?? '', /appears twice/);
    assert.deepEqual(store.listenerNames(), ['a']);
    assert.deepEqual(store.references().routes.has('rb'), false);
  });

  test('references list the RDS names of listeners and the EDS service names of clusters', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('listener', [listener('a', 'ra'), listener('b', 'rb')]);
    store.apply('cluster', [edsCluster('c1'), edsCluster('c2', 'svc-2')]);
    const refs = store.references();
    assert.deepEqual([...refs.routes].sort(), ['ra', 'rb']);
    assert.deepEqual([...refs.endpoints].sort(), ['c1', 'svc-2']);
  });

  test('a compiler that throws is a problem for that resource, not a crash, and that resource is refused', () => {
    const store = new ConfigStore({
      ...defaultCompilers,
      cluster: () => {
        throw new Error('boom');
      },
    });
    const r = store.apply('cluster', [edsCluster('c1')]);
    assert.match(r.problems[0]?.message ?? '', /internal error compiling it: boom/);
    assert.equal(store.cluster('c1'), undefined);
  });

  test('a change listener that throws does not stop the others', () => {
    const store = storeWithRoutes();
    let heard = 0;
    store.onChange(() => {
      throw new Error('listener bug');
    });
    store.onChange(() => void heard++);
    store.apply('listener', [listener('a', 'ra')]);
    assert.equal(heard, 1);
  });

  test('a listener whose RDS route configuration is not there yet warms: invisible until the route arrives, while its previous version keeps serving', () => {
    const store = new ConfigStore(defaultCompilers);
    const changes: ConfigChange[] = [];
    store.onChange((c) => changes.push(c));
    store.apply('route', [route('ra')]);
    store.apply('listener', [listener('a', 'ra')]);
    const v1 = store.listener('a');
    assert.ok(v1, 'a listener whose route is present is active at once');
    store.apply('listener', [listener('a', 'rb'), listener('b', 'rb')]);
    assert.equal(store.listener('a'), v1, 'the previous version serves while v2 warms');
    assert.equal(store.listener('b'), undefined, 'a new listener warms before it is visible');
    assert.deepEqual(store.warmingNames('listener').sort(), ['a', 'b']);
    assert.deepEqual([...store.references().routes].sort(), ['ra', 'rb'], 'warming listeners are subscribed for');
    changes.length = 0;
    store.apply('route', [route('rb')]);
    assert.notEqual(store.listener('a'), v1);
    assert.ok(store.listener('b'));
    assert.deepEqual(store.warmingNames('listener'), []);
    assert.deepEqual(changes.map((c) => c.kind), ['route', 'listener']);
    assert.deepEqual(changes[1], { kind: 'listener', added: ['b'], updated: ['a'], removed: [] });
  });

  test('a warming listener is activated when the server answers that its route does not exist (no endless warming)', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('listener', [listener('a', 'missing')]);
    assert.equal(store.listener('a'), undefined);
    store.apply('route', [], ['missing']);
    assert.ok(store.listener('a'));
  });

  test('an EDS cluster warms until its endpoints are answered', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('cluster', [edsCluster('c1')]);
    assert.equal(store.cluster('c1'), undefined);
    assert.deepEqual([...store.references().endpoints], ['c1']);
    store.apply('endpoints', [{ name: 'c1', version: 'e1', message: fromJson(TYPE_URL.endpoint, { cluster_name: 'c1', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] }) }]);
    assert.ok(store.cluster('c1'));
  });

  test('a TLS listener names its SDS certificate in references() and warms until the secret is answered', () => {
    const store = storeWithRoutes();
    const tls = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'cert', sds_config: { ads: {} } }] },
      },
    };
    const message = fromJson(TYPE_URL.listener, {
      name: 'a',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [{ transport_socket: tls, filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'a', rds: { route_config_name: 'ra', config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] } }] }],
    });
    assert.deepEqual(store.apply('listener', [{ name: 'a', version: 'a-v1', message }]).problems, []);
    assert.deepEqual([...store.references().secrets], ['cert']);
    assert.deepEqual(store.warmingNames('listener'), ['a'], 'waits for its secret (its route is there)');
    store.apply('secret', [{ name: 'cert', version: 's1', message: fromJson(TYPE_URL.secret, { name: 'cert', tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'KEY' } } }) }]);
    assert.deepEqual(store.warmingNames('listener'), []);
    assert.ok(store.listener('a'));
  });

  test('a warming listener that is removed is forgotten', () => {
    const store = new ConfigStore(defaultCompilers);
    store.apply('listener', [listener('a', 'ra')]);
    store.apply('listener', [], ['a']);
    assert.deepEqual(store.warmingNames('listener'), []);
    store.apply('route', [route('ra')]);
    assert.equal(store.listener('a'), undefined);
  });
});

function route(name: string): ResourceUpdate {
  return { name, version: `${name}-v1`, message: fromJson(TYPE_URL.route, { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] }) };
}
