import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { AGENT_DEFAULTS, resolveAgentOptions } from './options.js';

test('with no options the agent gets the documented defaults', () => {
  const saved = process.env['MESHD_STATE_DIR'];
  delete process.env['MESHD_STATE_DIR'];
  try {
    const o = resolveAgentOptions();
    assert.deepEqual(
      { stateDir: o.stateDir, pinRoot: o.pinRoot, nodePrefix: o.nodePrefix, nodeName: o.nodeName, proxy: o.proxy, base: o.proxyPortBase, metrics: o.metrics, delay: o.dnsResponseMaxDelayMs, level: o.logLevel, audit: o.policyAuditMode, policyDir: o.policyDir },
      { stateDir: '/var/lib/meshd', pinRoot: '/sys/fs/bpf/meshd', nodePrefix: 'meshd-', nodeName: hostname(), proxy: 'builtin', base: 15001, metrics: '127.0.0.1:9962', delay: 100, level: 'info', audit: false, policyDir: undefined },
    );
    assert.equal(AGENT_DEFAULTS.proxyPortBase, 15001);
  } finally {
    if (saved !== undefined) process.env['MESHD_STATE_DIR'] = saved;
  }
});

test('$MESHD_STATE_DIR is the default state directory, and --metrics off turns the endpoint off', () => {
  const saved = process.env['MESHD_STATE_DIR'];
  process.env['MESHD_STATE_DIR'] = '/tmp/from-env';
  try {
    const o = resolveAgentOptions({ metrics: 'off' });
    assert.equal(o.stateDir, '/tmp/from-env');
    assert.equal(o.metrics, undefined);
  } finally {
    if (saved === undefined) delete process.env['MESHD_STATE_DIR'];
    else process.env['MESHD_STATE_DIR'] = saved;
  }
});

test('values the agent cannot use are refused with MESHD_ERR_AGENT_INVALID_OPTION naming the option', () => {
  const cases: Array<[Parameters<typeof resolveAgentOptions>[0], RegExp]> = [
    [{ proxyPortBase: 65530 }, /--proxy-port-base/],
    [{ proxyPortBase: 0 }, /--proxy-port-base/],
    [{ metrics: 'localhost' }, /--metrics/],
    [{ metrics: '[::1]:99999' }, /--metrics/],
    [{ dnsResponseMaxDelayMs: -1 }, /--dns-response-max-delay/],
    [{ nodePrefix: 'Bad_Prefix' }, /--node-prefix/],
    [{ nodeName: 'has space' }, /--node-name/],
    [{ proxy: 'nginx' as 'envoy' }, /--proxy/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => resolveAgentOptions(input), (err: { code?: string; message?: string }) => err.code === 'MESHD_ERR_AGENT_INVALID_OPTION' && message.test(err.message ?? ''), JSON.stringify(input));
  }
  assert.equal(resolveAgentOptions({ metrics: '[::1]:9962' }).metrics, '[::1]:9962');
});

test('without --etcd the agent is a single node; with it the cluster options get their defaults', () => {
  const single = resolveAgentOptions({});
  assert.deepEqual([single.cluster, single.nodeIp, single.podCidr4, single.podCidr6], [undefined, undefined, undefined, undefined]);
  const o = resolveAgentOptions({ etcd: ['http://127.0.0.1:2379', 'https://etcd-2:2379'], nodeIp: '10.0.0.11', podCidr4: '10.244.1.0/24', podCidr6: 'fd44:244:0:1::/64' });
  assert.deepEqual(o.cluster, { endpoints: ['http://127.0.0.1:2379', 'https://etcd-2:2379'], prefix: 'meshd', leaseTtlSeconds: 15 });
  assert.deepEqual([o.nodeIp, o.podCidr4, o.podCidr6], ['10.0.0.11', '10.244.1.0/24', 'fd44:244:0:1::/64']);
});

test('cluster options the agent cannot use are refused with MESHD_ERR_AGENT_INVALID_OPTION naming the option', () => {
  const etcd = ['http://127.0.0.1:2379'];
  const cases: Array<[Parameters<typeof resolveAgentOptions>[0], RegExp]> = [
    [{ etcd: ['127.0.0.1:2379'] }, /--etcd/],
    [{ etcd: ['ftp://x:1'] }, /--etcd/],
    [{ etcdPrefix: 'p' }, /--etcd-prefix only applies/],
    [{ etcdLeaseTtlSeconds: 5 }, /--etcd-lease-ttl only applies/],
    [{ etcd, etcdPrefix: 'a/b' }, /--etcd-prefix/],
    [{ etcd, etcdLeaseTtlSeconds: 1 }, /--etcd-lease-ttl/],
    [{ nodeIp: '10.0.0' }, /--node-ip/],
    [{ podCidr4: 'fd44::/64' }, /--pod-cidr4/],
    [{ podCidr4: '10.244.1.0/33' }, /--pod-cidr4/],
    [{ podCidr6: '10.244.1.0/24' }, /--pod-cidr6/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => resolveAgentOptions(input), (err: { code?: string; message?: string }) => err.code === 'MESHD_ERR_AGENT_INVALID_OPTION' && message.test(err.message ?? ''), JSON.stringify(input));
  }
});
