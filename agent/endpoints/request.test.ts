import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPodRunRequest } from './request.js';

describe('checking a pod run request', () => {
  test('fills the default namespace and an empty environment', () => {
    assert.deepEqual(checkPodRunRequest({ name: 'web', labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' }, command: ['sleep', '1'] }), {
      name: 'web',
      namespace: 'default',
      labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
      command: ['sleep', '1'],
      env: {},
    });
  });

  test('refuses names, labels, commands and environment names Kubernetes would refuse', () => {
    const bad: unknown[] = [
      null,
      { name: 'Web', labels: {}, command: ['x'] },
      { name: 'web', namespace: 'a_b', labels: {}, command: ['x'] },
      { name: 'web', labels: { 'bad key': 'v' }, command: ['x'] },
      { name: 'web', labels: { app: 'has space' }, command: ['x'] },
      { name: 'web', labels: {}, command: [] },
      { name: 'web', labels: {}, command: [''] },
      { name: 'web', labels: {}, command: ['x'], env: { '1X': 'y' } },
      { name: 'web', labels: { app: 1 }, command: ['x'] },
    ];
    for (const r of bad) assert.throws(() => checkPodRunRequest(r), { code: 'MESHD_ERR_ENDPOINT_INVALID_REQUEST' }, JSON.stringify(r));
  });
});
