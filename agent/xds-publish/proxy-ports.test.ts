import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyPortPlan } from './proxy-ports.js';

test('one port per L7 kind and direction, at the contract offsets, the same for the kernel and for xDS', () => {
  const p = proxyPortPlan(15001);
  assert.deepEqual(
    p.list().map((e) => `${e.l7}/${e.direction}=${e.port}`),
    ['http/egress=15001', 'http/ingress=15002', 'kafka/egress=15003', 'kafka/ingress=15004', 'dns/egress=15005', 'dns/ingress=15006', 'none/egress=15007', 'none/ingress=15008'],
  );
  for (const l7 of ['http', 'kafka', 'dns'] as const) {
    for (const direction of ['egress', 'ingress'] as const) {
      for (const protocol of ['TCP', 'UDP'] as const) {
        assert.equal(p.kernel(l7, direction, 53), p.xds({ endpoint: 'default/a', direction, protocol, portStart: 53, portEnd: 53, l7 }));
      }
    }
  }
});
