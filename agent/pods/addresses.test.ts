import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIpv6,
  hostVethName,
  nodeHostNumber,
  pickFreeHost,
  podAddressesForHost,
  resolvePodRanges,
  resolveSpecAddresses,
  usedPodHosts,
  validatePodName,
  vethMacs,
} from './addresses.js';

test('pod i gets 10.244.0.(10+i) and fd44:244::(a+i)', () => {
  assert.deepEqual(podAddressesForHost(10), { ipv4: '10.244.0.10', ipv6: 'fd44:244::a' });
  assert.deepEqual(podAddressesForHost(254), { ipv4: '10.244.0.254', ipv6: 'fd44:244::fe' });
});

test('the lowest host number not taken is picked, and none when the range is full', () => {
  assert.equal(pickFreeHost(new Set()), 10);
  assert.equal(pickFreeHost(new Set([10, 11, 13])), 12);
  assert.equal(pickFreeHost(new Set(Array.from({ length: 256 }, (_, i) => i))), undefined);
});

test('host routes into the node range are read from /proc/net/route as taken host numbers', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    '*\t0000F40A\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0', // blackhole 10.244.0.0/16
    'mshd0123456789a\t0A00F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.244.0.10/32
    'mshd0123456789b\tFE00F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.244.0.254/32
    'eth0\t0A01F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.244.1.10/32: not the node range
  ].join('\n');
  assert.deepEqual([...usedPodHosts(table)].sort((a, b) => a - b), [10, 254]);
  assert.equal(usedPodHosts('').size, 0);
});

test('host veth names fit in 15 characters and differ per netns', () => {
  const a = hostVethName('meshdt123-client');
  const b = hostVethName('meshdt123-server');
  assert.match(a, /^mshd[0-9a-f]{11}$/);
  assert.notEqual(a, b);
  assert.equal(hostVethName('meshdt123-client'), a);
});

test('veth MACs are locally administered unicast and pair up per pod', () => {
  const { host, pod } = vethMacs('meshdt1-a');
  assert.match(host, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(pod, `06${host.slice(2)}`);
});

test('pod names and prefixes that could be misread in a command or path are refused', () => {
  validatePodName('client-1', 'meshdt42-');
  for (const bad of ['', 'A', 'a b', 'a;b', '../x', '-a', 'a-', 'a\nlink del eth0', 'x'.repeat(60)]) {
    assert.throws(() => validatePodName(bad, 'meshdt42-'), { code: 'MESHD_ERR_POD_INVALID_SPEC' }, bad);
  }
  assert.throws(() => validatePodName('a', 'Meshd/'), { code: 'MESHD_ERR_POD_INVALID_SPEC' });
});

test('a spec with one node-range address gets the other family from the same host number', () => {
  assert.equal(resolveSpecAddresses({}), undefined);
  assert.deepEqual(resolveSpecAddresses({ ipv4: '10.244.0.200' }), { ipv4: '10.244.0.200', ipv6: 'fd44:244::c8' });
  assert.deepEqual(resolveSpecAddresses({ ipv6: 'FD44:244:0::00C8' }), { ipv4: '10.244.0.200', ipv6: 'fd44:244::c8' });
  assert.deepEqual(resolveSpecAddresses({ ipv4: '10.244.7.1', ipv6: 'fd44:244:0:7::1' }), { ipv4: '10.244.7.1', ipv6: 'fd44:244:0:7::1' });
});

test('spec addresses outside the cluster ranges, reserved ones, or half outside the node range are refused', () => {
  for (const spec of [
    { ipv4: '10.0.0.1' },
    { ipv6: 'fd00::1' },
    { ipv4: '10.244.0.1' },
    { ipv6: 'fd44:244::' },
    { ipv4: '10.244.7.1' },
    { ipv4: 'x' },
    // An IPv4-mapped IPv6 address is neither a pod's IPv4 nor its IPv6 address.
    { ipv4: '::ffff:10.244.0.20' },
    { ipv6: '::ffff:10.244.0.20' },
    { ipv6: 'fd44:244::14%eth0' },
  ]) {
    assert.throws(() => resolveSpecAddresses(spec), { code: 'MESHD_ERR_POD_INVALID_SPEC' }, JSON.stringify(spec));
  }
});

test('node host numbers are read from both families', () => {
  assert.equal(nodeHostNumber('10.244.0.12'), 12);
  assert.equal(nodeHostNumber('fd44:244::c'), 12);
  assert.equal(nodeHostNumber('fd44:244::1:c'), undefined);
  assert.equal(nodeHostNumber('10.244.1.12'), undefined);
});

test('IPv6 addresses are written in their canonical short form', () => {
  assert.equal(canonicalIpv6('FD44:0244:0000:0000:0000:0000:0000:000A'), 'fd44:244::a');
  assert.equal(canonicalIpv6('fd44:244:0:1:0:0:0:1'), 'fd44:244:0:1::1');
  assert.equal(canonicalIpv6('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(canonicalIpv6('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
});

test('a node of a cluster gets its own /24 and /64 with the first host of each as gateway', () => {
  assert.deepEqual(resolvePodRanges(), { podCidr4: '10.244.0.0/24', podCidr6: 'fd44:244::/64', gateway4: '10.244.0.1', gateway6: 'fd44:244::1' });
  const node2 = { podCidr4: '10.244.2.0/24', podCidr6: 'FD44:244:0:2:0::/64' };
  assert.deepEqual(resolvePodRanges(node2), { podCidr4: '10.244.2.0/24', podCidr6: 'fd44:244:0:2::/64', gateway4: '10.244.2.1', gateway6: 'fd44:244:0:2::1' });
  assert.deepEqual(podAddressesForHost(10, node2), { ipv4: '10.244.2.10', ipv6: 'fd44:244:0:2::a' });
  assert.equal(nodeHostNumber('10.244.2.12', node2), 12);
  assert.equal(nodeHostNumber('fd44:244:0:2::c', node2), 12);
  assert.equal(nodeHostNumber('10.244.0.12', node2), undefined);
  assert.deepEqual(resolveSpecAddresses({ ipv4: '10.244.2.200' }, node2), { ipv4: '10.244.2.200', ipv6: 'fd44:244:0:2::c8' });
  assert.throws(() => resolveSpecAddresses({ ipv4: '10.244.2.1' }, node2), { code: 'MESHD_ERR_POD_INVALID_SPEC' });
  // Another node's address is still a cluster address, but needs both families spelled out.
  assert.throws(() => resolveSpecAddresses({ ipv4: '10.244.0.20' }, node2), { code: 'MESHD_ERR_POD_INVALID_SPEC' });
  const table = ['Iface\tDestination\tGateway', 'mshd0\t0A02F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF', 'mshd1\t0A00F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF'].join('\n');
  assert.deepEqual([...usedPodHosts(table, node2)], [10]);
});

test('node pod ranges that are not a /24 or /64 inside the cluster ranges are refused', () => {
  for (const bad of [
    { podCidr4: '10.245.1.0/24' },
    { podCidr4: '10.244.1.0/23' },
    { podCidr4: '10.244.1.5/24' },
    { podCidr4: 'fd44:244:0:1::/64' },
    { podCidr4: 'x' },
    { podCidr6: 'fd44:245:0:1::/64' },
    { podCidr6: 'fd44:244:0:1::/56' },
    { podCidr6: '10.244.1.0/24' },
  ]) {
    assert.throws(() => resolvePodRanges(bad), { code: 'MESHD_ERR_POD_INVALID_SPEC' }, JSON.stringify(bad));
  }
});
