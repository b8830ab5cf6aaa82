import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTypeUrls } from './order.js';
import { TYPE_URL } from '../codec/index.js';

test('types sort as clusters, endpoints, secrets, other types, listeners, routes', () => {
  const other = 'type.googleapis.com/meshd.x.v1.Policy';
  const sorted = [TYPE_URL.route, TYPE_URL.listener, other, TYPE_URL.secret, TYPE_URL.endpoint, TYPE_URL.cluster].sort(compareTypeUrls);
  assert.deepEqual(sorted, [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret, other, TYPE_URL.listener, TYPE_URL.route]);
});
