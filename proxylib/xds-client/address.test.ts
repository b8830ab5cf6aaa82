import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXdsAddress } from './address.js';

test('xDS addresses: host:port, [ipv6]:port and unix:/path become grpc-js targets', () => {
  assert.deepEqual(parseXdsAddress('127.0.0.1:18000'), { kind: 'tcp', host: '127.0.0.1', port: 18000, target: '127.0.0.1:18000' });
  assert.deepEqual(parseXdsAddress('xds.local:443'), { kind: 'tcp', host: 'xds.local', port: 443, target: 'xds.local:443' });
  assert.deepEqual(parseXdsAddress('[::1]:18000'), { kind: 'tcp', host: '::1', port: 18000, target: 'ipv6:[::1]:18000' });
  assert.deepEqual(parseXdsAddress('unix:/run/meshd/xds.sock'), { kind: 'unix', path: '/run/meshd/xds.sock', target: 'unix:/run/meshd/xds.sock' });
});

test('malformed xDS addresses are MESHD_ERR_PROXY_BAD_ADDRESS with the reason', () => {
  for (const [bad, why] of [
    ['localhost', /expected host:port/],
    ['127.0.0.1', /expected host:port/],
    ['127.0.0.1:0', /1-65535/],
    ['127.0.0.1:70000', /1-65535/],
    ['unix:relative.sock', /must be absolute/],
    ['::1:18000', /expected host:port/],
    ['xds local:18000', /expected host:port/],
  ] as const) {
    assert.throws(() => parseXdsAddress(bad), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_BAD_ADDRESS' && why.test(err.message), bad);
  }
});
