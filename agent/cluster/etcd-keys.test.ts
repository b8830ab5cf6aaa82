import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterKeys, decodeSegment, encodeSegment, prefixRangeEnd } from './etcd-keys.js';

test('a prefix range ends just past every key that starts with the prefix', () => {
  assert.deepEqual(prefixRangeEnd('meshd/ipcache/'), Buffer.from('meshd/ipcache0'));
  assert.deepEqual(prefixRangeEnd('meshd/z'), Buffer.from('meshd/{'));
  assert.deepEqual(prefixRangeEnd(''), Buffer.from([0]));
});

test('free-text segments cannot escape their place in the key tree', () => {
  const labels = 'k8s:app=a/b;k8s:x=../../nodes;';
  assert.ok(!encodeSegment(labels).includes('/'));
  assert.equal(decodeSegment(encodeSegment(labels)), labels);
  const keys = new ClusterKeys('meshd');
  assert.ok(keys.identityRef(labels, 'node/1').startsWith(keys.identityRefPrefix(labels)));
  assert.equal(keys.identityRef(labels, 'node/1').split('/').length, 5);
  assert.notEqual(keys.policy('K', undefined, 'n'), keys.policy('K', 'n', ''));
});
