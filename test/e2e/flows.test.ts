// How the scenario reads the agent's flows: which flows belong to a request, which one decided,
// and how the deciding policy is shown. Pure functions, no agent needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decidingFlow, flowsOf, shortPolicy, type ObservedFlow } from './flows.js';
import { parseJsonOutput } from './meshd-cli.js';
import { proxiesInSync } from './starwars.js';

const at = (ms: number): string => new Date(ms).toISOString();
const flow = (o: Partial<ObservedFlow> & Pick<ObservedFlow, 'layer' | 'verdict'>): ObservedFlow => ({
  time: at(1000),
  source: { ip: '10.244.0.14', pod: 'empire/tiefighter' },
  destination: { ip: '10.244.0.10', port: 80, pod: 'empire/deathstar' },
  ...o,
});

describe('reading the flows of one request', () => {
  test('only flows of the window, the client and the destination port belong to the request', () => {
    const window = { startMs: 1000, endMs: 2000, fromPod: 'empire/tiefighter', fromIps: ['10.244.0.14'], destinationPort: 80 };
    const mine = flow({ layer: 'kernel', verdict: 'REDIRECTED' });
    const byIpOnly = flow({ layer: 'proxy', verdict: 'FORWARDED', time: at(1500), source: { ip: '10.244.0.14' } });
    const others = [
      flow({ layer: 'kernel', verdict: 'DROPPED', time: at(999) }),
      flow({ layer: 'kernel', verdict: 'DROPPED', time: at(2001) }),
      flow({ layer: 'kernel', verdict: 'DROPPED', source: { ip: '10.244.0.15', pod: 'alliance/xwing' } }),
      flow({ layer: 'kernel', verdict: 'DROPPED', destination: { ip: '10.244.0.10', port: 50051 } }),
    ];
    assert.deepEqual(flowsOf([mine, ...others, byIpOnly], window), [mine, byIpOnly]);
  });

  test('a proxy verdict beats the kernel redirect, and a denial names the redirecting policy and the reason', () => {
    const d = decidingFlow([
      flow({ layer: 'kernel', verdict: 'REDIRECTED', policy: 'empire/deathstar' }),
      flow({ layer: 'proxy', verdict: 'DENIED', reason: 'rbac_denied' }),
    ]);
    assert.deepEqual({ layer: d?.layer, verdict: d?.verdict, policy: d?.policy }, { layer: 'proxy', verdict: 'DENIED', policy: 'empire/deathstar (rbac_denied)' });
  });

  test('among proxy records a denial beats an allowance (a Kafka connection with an allowed Metadata and a denied Produce)', () => {
    const d = decidingFlow([
      flow({ layer: 'proxy', verdict: 'FORWARDED', policy: 'allow CiliumNetworkPolicy empire/empire-kafka spec.ingress[0] TCP/9092' }),
      flow({ layer: 'proxy', verdict: 'DENIED', policy: 'empire/empire-kafka', reason: 'kafka_denied_topic' }),
    ]);
    assert.equal(d?.policy, 'empire/empire-kafka (kafka_denied_topic)');
  });

  test('a kernel decision is shown as the flow names it; no flow decides nothing', () => {
    assert.equal(decidingFlow([flow({ layer: 'kernel', verdict: 'DROPPED', policy: 'default-deny', reason: 'POLICY_DEFAULT_DENY' })])?.policy, 'default-deny');
    assert.equal(decidingFlow([flow({ layer: 'kernel', verdict: 'FORWARDED', policy: 'empire/deathstar' })])?.layer, 'kernel');
    assert.equal(decidingFlow([]), undefined);
  });

  test('a long policy reference is shortened to the policy and its rule', () => {
    assert.equal(shortPolicy('allow CiliumNetworkPolicy empire/deathstar spec.ingress[0] TCP/80'), 'empire/deathstar ingress[0]');
    assert.equal(shortPolicy('empire/deathstar'), 'empire/deathstar');
  });
});

describe('reading CLI output', () => {
  test('JSON output is one document, a wrapped list, or JSON lines', () => {
    assert.deepEqual(parseJsonOutput('[{"a":1},{"a":2}]'), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(parseJsonOutput('{"pods":[{"a":1}]}'), [{ a: 1 }]);
    assert.deepEqual(parseJsonOutput('{"a":1}\n{"a":2}\n'), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(parseJsonOutput(''), []);
  });

  test('the proxies are in sync when every connected proxy ACKed the current snapshot', () => {
    const status = (proxies: object[]): string => JSON.stringify({ version: 3, proxies });
    assert.equal(proxiesInSync(status([{ connected: true, inSync: true, snapshotVersion: '3' }])), true);
    assert.equal(proxiesInSync(status([{ connected: true, inSync: false, snapshotVersion: '3' }])), false);
    assert.equal(proxiesInSync(status([{ connected: true, inSync: true, snapshotVersion: '2' }])), false);
    assert.equal(proxiesInSync(status([])), false);
    assert.equal(proxiesInSync('not json'), false);
  });
});
