// The translation EndpointPolicy → kernel trie entries, checked against the policy layer's own
// lookupFlow for every flow of a grid (peers × protocols × ports around every range edge).
// decideFromEntries mirrors bpf/lib/policy.h; the integration tests run the C side itself.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  loadPolicyText,
  lookupFlow,
  type Direction,
  type DirectionPolicy,
  type EndpointPolicy,
  type L7Evaluator,
  type L7Type,
} from '../../policy/index.js';
import { IPPROTO } from './constants.js';
import { decideFromEntries, portPrefixes, translateEndpointPolicy } from './policy-entries.js';

const NO_L7: L7Evaluator = {
  http: () => assert.fail('no request is evaluated'),
  kafka: () => assert.fail('no request is evaluated'),
  dns: () => assert.fail('no request is evaluated'),
};

const PROXY_BASE: Record<L7Type, number> = { http: 15000, dns: 16000, kafka: 17000 };
/** Port-dependent, so a test sees which L7 entry chose the proxy port. */
const proxyPortOf = (type: L7Type, direction: Direction, port: number): number => PROXY_BASE[type] + (direction === 'egress' ? 500 : 0) + (port % 500);

interface World {
  policy: EndpointPolicy;
  cache: SelectorCache;
  identities: number[];
}

/** Endpoints a, b, c (identities 1000–1002) in namespace default; `a` is the subject. */
function worldOf(yaml: string): World {
  const loaded = loadPolicyText('test.yaml', yaml);
  assert.deepEqual(loaded.problems, [], 'the test policy loads');
  const repo = new Repository();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  ['a', 'b', 'c'].forEach((app, i) => {
    const ep = repo.upsertEndpoint({ name: app, namespace: 'default', labels: { app }, ips: [`10.244.0.${10 + i}`], namedPorts: [] });
    cache.addIdentity(1000 + i, ep.identityLabels);
  });
  for (const p of loaded.policies) repo.upsertPolicy(p);
  return { policy: repo.endpointPolicy('default/a')!, cache, identities: [1000, 1001, 1002, 1, 2, 9, 10] };
}

function interestingPorts(dp: DirectionPolicy): number[] {
  const ports = new Set([1, 53, 79, 80, 81, 443, 8080, 65535]);
  for (const e of dp.entries) for (const p of [e.portStart, e.portEnd]) for (const d of [-1, 0, 1]) if (p + d > 0 && p + d < 65536) ports.add(p + d);
  return [...ports];
}

/** Compares kernel-equivalent verdicts with lookupFlow over the whole grid; returns how many flows. */
function checkAgainstLookupFlow(world: World): number {
  const { policy, cache } = world;
  const content = translateEndpointPolicy(policy, { identitiesOf: (s) => cache.register(s).selections(), proxyPortOf });
  let flows = 0;
  for (const direction of ['ingress', 'egress'] as const) {
    const dp = policy[direction];
    for (const peer of world.identities) {
      const labels = cache.labelsOf(peer)!;
      for (const protocol of ['TCP', 'UDP'] as const) {
        for (const port of interestingPorts(dp)) {
          const expected = lookupFlow(dp, { remote: labels, protocol, port, destinationNamedPorts: [] }, undefined, NO_L7);
          let want: { verdict: string; proxyPort: number };
          if (expected.verdict === 'denied') want = { verdict: 'denied', proxyPort: 0 };
          else if (expected.by === 'l7-pending') {
            const first = expected.entries[0]!;
            want = { verdict: 'redirected', proxyPort: proxyPortOf(expected.l7Type, direction, first.portStart) };
          } else want = { verdict: 'allowed', proxyPort: 0 };
          const got = decideFromEntries(content.entries, { direction, peerIdentity: peer, protocol: IPPROTO[protocol], port });
          assert.deepEqual(
            { verdict: got.verdict, proxyPort: got.proxyPort },
            want,
            `${direction} peer ${peer} ${protocol}/${port}: lookupFlow says ${expected.verdict} (${expected.by})`,
          );
          flows++;
        }
      }
    }
  }
  return flows;
}

const header = (spec: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: p, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: a } }
${spec}`;

describe('EndpointPolicy → kernel policy entries agree with lookupFlow', () => {
  const cases: Array<[string, string]> = [
    [
      'deny beats allow: an allow for all of b and a deny of b:80',
      header(`  egress:
    - toEndpoints: [{ matchLabels: { app: b } }]
  egressDeny:
    - toEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }] }]`),
    ],
    [
      'a deny of any peer on a port beats an allow naming the peer on a range',
      header(`  egress:
    - toEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: "8000", endPort: 8100, protocol: TCP }] }]
  egressDeny:
    - toPorts: [{ ports: [{ port: "8050", protocol: TCP }] }]
    - toEntities: [all]
      toPorts: [{ ports: [{ port: "8060", protocol: TCP }] }]`),
    ],
    [
      'port ranges are cut into prefixes and every edge is exact',
      header(`  egress:
    - toEndpoints: [{}]
      toPorts: [{ ports: [{ port: "1000", endPort: 2047, protocol: TCP }, { port: "3", endPort: 17, protocol: UDP }] }]`),
    ],
    [
      'an L7 port is redirected, and a plain allow for the same peer and port overrides it',
      header(`  egress:
    - toEndpoints: [{ matchLabels: { app: b } }, { matchLabels: { app: c } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }], rules: { http: [{ method: GET }] } }]
    - toEndpoints: [{ matchLabels: { app: c } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }] }]`),
    ],
    [
      'the narrowest L7 entry chooses the proxy port, a named peer winning a tie',
      header(`  egress:
    - toEntities: [all]
      toPorts: [{ ports: [{ port: "8000", endPort: 8100, protocol: TCP }], rules: { http: [{}] } }]
    - toEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: "8050", protocol: TCP }], rules: { http: [{ path: /x }] } }]
    - toPorts: [{ ports: [{ port: "8050", protocol: TCP }], rules: { kafka: [{ topic: y }] } }]
    - toEndpoints: [{ matchLabels: { app: c } }]
      toPorts: [{ ports: [{ port: "8000", endPort: 8100, protocol: TCP }] }]`),
    ],
    [
      'DNS on 53 of any protocol is redirected for TCP and UDP',
      header(`  egress:
    - toEntities: [world]
      toPorts: [{ ports: [{ port: "53" }], rules: { dns: [{ matchPattern: "*" }] } }]
    - toEndpoints: [{ matchLabels: { app: b } }]`),
    ],
    [
      'ingress: peers by identity, the host allowed by allow-localhost, the rest default-deny',
      header(`  ingress:
    - fromEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }] }]
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { app: c } }]`),
    ],
    [
      'a direction without default-deny allows all but its explicit denies',
      header(`  enableDefaultDeny: { egress: false, ingress: false }
  egressDeny:
    - toEntities: [world]
      toPorts: [{ ports: [{ port: "25", protocol: TCP }] }]
  ingress:
    - fromEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }], rules: { http: [{}] } }]`),
    ],
  ];
  for (const [name, yaml] of cases) {
    test(name, () => {
      const flows = checkAgainstLookupFlow(worldOf(yaml));
      assert.ok(flows > 100, `checked ${flows} flows`);
    });
  }
});

describe('the translation', () => {
  test('cuts a port range into the fewest aligned prefixes', () => {
    assert.deepEqual(portPrefixes(80, 80), [{ port: 80, bits: 16 }]);
    assert.deepEqual(portPrefixes(0, 65535), [{ port: 0, bits: 0 }]);
    assert.deepEqual(portPrefixes(8000, 8010), [
      { port: 8000, bits: 12 + 1 }, // 8000-8007
      { port: 8008, bits: 15 }, // 8008-8009
      { port: 8010, bits: 16 },
    ]);
    for (const [s, e] of [[1, 65535], [3, 17], [1000, 2047], [32768, 40000]] as const) {
      const covered = portPrefixes(s, e).reduce((n, p) => n + 2 ** (16 - p.bits), 0);
      assert.equal(covered, e - s + 1, `${s}-${e} covered once`);
    }
  });

  test('carries default-deny per direction in a sentinel entry, so one trie swap changes both', () => {
    const world = worldOf(header(`  egress:
    - toEndpoints: [{ matchLabels: { app: b } }]`));
    const content = translateEndpointPolicy(world.policy, { identitiesOf: (s) => world.cache.register(s).selections(), proxyPortOf });
    assert.equal(content.egressEnforced, true);
    assert.equal(content.ingressEnforced, false);
    const sentinels = content.entries.filter((e) => e.key.protocol === 0);
    assert.deepEqual(sentinels.map((e) => [e.key.direction, e.value.flags]), [[0, 0], [1, 8]]);
  });

  test('reports what the kernel cannot enforce instead of dropping it silently', () => {
    const world = worldOf(header(`  egress:
    - toEndpoints: [{ matchLabels: { app: b } }]
      icmps: [{ fields: [{ type: 8, family: IPv4 }] }]
    - toEndpoints: [{ matchLabels: { app: b } }]
      toPorts: [{ ports: [{ port: http, protocol: TCP }] }]`));
    const content = translateEndpointPolicy(world.policy, { identitiesOf: (s) => world.cache.register(s).selections(), proxyPortOf });
    assert.deepEqual(content.skipped.map((s) => s.reason.split(' ')[0]), ['ICMP', 'named']);
    const withNames = translateEndpointPolicy(world.policy, {
      identitiesOf: (s) => world.cache.register(s).selections(),
      proxyPortOf,
      namedPortsOf: (name) => (name === 'http' ? [{ name, port: 8080, protocol: 'TCP' }] : []),
    });
    assert.equal(decideFromEntries(withNames.entries, { direction: 'egress', peerIdentity: 1001, protocol: 6, port: 8080 }).verdict, 'allowed');
    assert.equal(decideFromEntries(withNames.entries, { direction: 'egress', peerIdentity: 1001, protocol: 6, port: 8081 }).verdict, 'denied');
  });
});
