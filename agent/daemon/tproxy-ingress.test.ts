// --ingress-device as options: parsed from the command line (repeated or comma-separated),
// checked, deduplicated. The kernel and routing side runs for real in
// test/cluster/multinode-l7.test.ts (two nodes, the device of the fabric).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveAgentOptions } from './options.js';
import { isDeviceName } from './tproxy-ingress.js';
import { parseAgentOptions } from '../cli/commands/agent.js';

test('device names are what ip link accepts: 1 to 15 characters without slash, colon or white space', () => {
  for (const ok of ['eth0', 'fab0', 'enp0s31f6', 'br-1a2b3c4d5e6f', 'wg0.100']) assert.equal(isDeviceName(ok), true, ok);
  for (const bad of ['', 'a/b', 'eth0:1', 'eth 0', '.', '..', 'x'.repeat(16)]) assert.equal(isDeviceName(bad), false, bad);
});

test('no --ingress-device means none, and the devices given are kept in order without duplicates', () => {
  assert.deepEqual(resolveAgentOptions({}).ingressDevices, []);
  assert.deepEqual(resolveAgentOptions({ ingressDevices: ['fab0', 'eth0', 'fab0'] }).ingressDevices, ['fab0', 'eth0']);
});

test('a bad device name is refused with MESHD_ERR_AGENT_INVALID_OPTION before anything starts', () => {
  assert.throws(
    () => resolveAgentOptions({ ingressDevices: ['eth0', '../x'] }),
    (err: { code?: string; message?: string }) => err.code === 'MESHD_ERR_AGENT_INVALID_OPTION' && /--ingress-device .*'\.\.\/x'/.test(err.message ?? ''),
  );
});

test('the command line takes --ingress-device repeated and comma-separated (a --config-dir file holds one value)', () => {
  const parsed = parseAgentOptions({ options: { 'ingress-device': ['eth0', 'fab0, eth1'] }, positionals: [] });
  assert.deepEqual(parsed.ingressDevices, ['eth0', 'fab0', 'eth1']);
  assert.equal(parseAgentOptions({ options: {}, positionals: [] }).ingressDevices, undefined);
  assert.throws(() => parseAgentOptions({ options: { 'ingress-device': ['eth0,'] }, positionals: [] }), /--ingress-device needs a device name/);
});
