// DnsPolicy as meshd builds and validates it: the plan's fields land in the message, and the checks
// reject what the proxy would refuse to compile (the proxy's own checks are in proxylib/dns).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { DenyResponseCode } from '../generated/meshd/filters/dns/v1/dns_pb.js';
import { buildDnsPolicy, validateDnsPolicy, type DnsPolicyPlan } from './dns-filter.js';

function plan(extra: Partial<DnsPolicyPlan> = {}): DnsPolicyPlan {
  return {
    statPrefix: 'dns_egress',
    endpoint: 'default/client',
    endpointIps: ['10.0.0.5'],
    direction: 'egress',
    destinationPorts: { start: 53, end: 53 },
    defaultDeny: true,
    denyRules: [],
    rules: [{ name: 'allow-stripe', remotes: { any: true, identities: [] }, l3l4Only: false, visibilityOnly: false, requests: [{ matchName: 'api.stripe.com' }, { matchPattern: '*.example.com' }] }],
    upstreamCluster: 'original_dst',
    ...extra,
  };
}

describe('buildDnsPolicy', () => {
  test('a plan without the two DNS options gives REFUSED and no upstream_timeout, and validates', () => {
    const policy = buildDnsPolicy(plan());
    assert.equal(policy.denyResponseCode, DenyResponseCode.REFUSED);
    assert.equal(policy.upstreamTimeout, undefined);
    assert.deepEqual(validateDnsPolicy(policy), []);
  });

  test('deny_response_code nxdomain and an upstream timeout in milliseconds are carried into the message', () => {
    const policy = buildDnsPolicy(plan({ denyResponseCode: 'nxdomain', upstreamTimeoutMs: 2_500 }));
    assert.equal(policy.denyResponseCode, DenyResponseCode.NAME_ERROR);
    assert.equal(policy.upstreamTimeout?.seconds, 2n);
    assert.equal(policy.upstreamTimeout?.nanos, 500_000_000);
    assert.deepEqual(validateDnsPolicy(policy), []);
  });

  test('a zero, negative or non-finite upstream timeout in the plan builds a message validation rejects', () => {
    for (const ms of [0, -5, Number.NaN]) {
      const problems = validateDnsPolicy(buildDnsPolicy(plan({ upstreamTimeoutMs: ms })));
      assert.deepEqual(problems, [{ path: 'upstream_timeout', message: 'must be greater than 0' }], `upstreamTimeoutMs ${ms}`);
    }
  });
});

describe('validateDnsPolicy', () => {
  test('an unknown deny_response_code is named by its field path', () => {
    const policy = buildDnsPolicy(plan());
    policy.denyResponseCode = 7 as DenyResponseCode;
    assert.deepEqual(validateDnsPolicy(policy), [{ path: 'deny_response_code', message: '7 is not a DenyResponseCode' }]);
  });

  test('an upstream_timeout that is not a valid Duration is rejected', () => {
    const policy = buildDnsPolicy(plan());
    policy.upstreamTimeout = create(DurationSchema, { seconds: 1n, nanos: 1_000_000_000 });
    assert.deepEqual(validateDnsPolicy(policy), [{ path: 'upstream_timeout', message: 'is not a valid Duration' }]);
  });

  test('names still need Cilium’s character set next to the new fields', () => {
    const policy = buildDnsPolicy(plan({ denyResponseCode: 'nxdomain', upstreamTimeoutMs: 100, rules: [{ name: 'r', remotes: { any: true, identities: [] }, l3l4Only: false, visibilityOnly: false, requests: [{ matchName: 'bad name' }] }] }));
    assert.deepEqual(validateDnsPolicy(policy), [{ path: 'rules[0].names[0].match_name', message: '"bad name" has characters a DNS rule cannot have' }]);
  });
});
