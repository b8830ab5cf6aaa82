// registerNetworkFilter is how meshd's own L7 filters (Kafka, DNS) plug in: once a compiler is
// registered for a type, chains carrying it compile; its problems keep their paths; terminal-ness
// is checked. (Its own process: node:test runs each file separately, so the registration does not
// leak into tests expecting these filters to be refused.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileListener, registerNetworkFilter } from './index.js';

const T = 'type.googleapis.com/';
const KAFKA = 'meshd.filters.kafka.v1.KafkaPolicy';

function kafkaListener(extraFilters: object[] = []) {
  return messageFromJson(envoy.ListenerSchema, {
    name: 'k',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{ filters: [...extraFilters, { name: 'meshd.filters.kafka', typed_config: { '@type': `${T}${KAFKA}` } }] }],
  });
}

test('a registered meshd filter compiles into a meshd network filter, with its problems at their paths', () => {
  const before = compileListener(kafkaListener());
  assert.deepEqual(!before.ok && before.problems.map((p) => p.path), ['filter_chains[0].filters[0].typed_config']);

  registerNetworkFilter(KAFKA, (config, ctx) => {
    if ((config as { rules?: unknown[] }).rules?.length === 0) ctx.problems.add(`${ctx.path}.rules`, 'test compiler wants rules');
    return { kind: 'meshd', name: ctx.name, typeName: KAFKA, config: 'compiled' };
  });
  const r = compileListener(kafkaListener());
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path), ['filter_chains[0].filters[0].typed_config.rules']);

  registerNetworkFilter(KAFKA, (_config, ctx) => ({ kind: 'meshd', name: ctx.name, typeName: KAFKA, config: 'compiled' }));
  const ok = compileListener(kafkaListener());
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.filterChains[0]?.networkFilters, [{ kind: 'meshd', name: 'meshd.filters.kafka', typeName: KAFKA, config: 'compiled' }]);

  // Terminal: nothing may follow it, and a network RBAC filter may precede it.
  const withRbac = compileListener(kafkaListener([{ name: 'rbac', typed_config: { '@type': `${T}envoy.extensions.filters.network.rbac.v3.RBAC`, stat_prefix: 'r' } }]));
  assert.ok(withRbac.ok);
  assert.deepEqual(withRbac.value.filterChains[0]?.networkFilters.map((f) => f.kind), ['rbac', 'meshd']);
});
