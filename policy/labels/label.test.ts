import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLabel, parseLabel, parseSelectorKey } from './label.js';

test('parseLabel splits source, key and value', () => {
  assert.deepEqual(parseLabel('k8s:app=foo'), { source: 'k8s', key: 'app', value: 'foo' });
  assert.deepEqual(parseLabel('reserved:host'), { source: 'reserved', key: 'host', value: '' });
  assert.deepEqual(parseLabel('k8s:a=b=c'), { source: 'k8s', key: 'a', value: 'b=c' });
});

test('parseLabel keeps the colons of IPv6 CIDR labels in the key', () => {
  assert.deepEqual(parseLabel('cidr:2001:db8::/32'), { source: 'cidr', key: '2001:db8::/32', value: '' });
});

test('a label without a known source gets source unspec and keeps its whole key', () => {
  assert.deepEqual(parseLabel('app=foo'), { source: 'unspec', key: 'app', value: 'foo' });
  assert.deepEqual(parseLabel('example.com:role=db'), { source: 'unspec', key: 'example.com:role', value: 'db' });
});

test('selector keys default to source any', () => {
  assert.deepEqual(parseSelectorKey('app'), { source: 'any', key: 'app' });
  assert.deepEqual(parseSelectorKey('k8s:app'), { source: 'k8s', key: 'app' });
  assert.deepEqual(parseSelectorKey('reserved:host'), { source: 'reserved', key: 'host' });
  assert.deepEqual(parseSelectorKey('any:io.kubernetes.pod.namespace'), { source: 'any', key: 'io.kubernetes.pod.namespace' });
  assert.deepEqual(parseSelectorKey('cilium-generated:x'), { source: 'cilium-generated', key: 'x' });
});

test('selector keys with an unknown prefix are whole keys of source any', () => {
  assert.deepEqual(parseSelectorKey('app.kubernetes.io:name'), { source: 'any', key: 'app.kubernetes.io:name' });
  assert.deepEqual(parseSelectorKey(':app'), { source: 'any', key: ':app' });
});

test('formatLabel prints the value only when there is one', () => {
  assert.equal(formatLabel({ source: 'k8s', key: 'app', value: 'web' }), 'k8s:app=web');
  assert.equal(formatLabel({ source: 'reserved', key: 'host', value: '' }), 'reserved:host');
});
