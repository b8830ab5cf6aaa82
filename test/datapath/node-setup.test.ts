// setupNode prepares the host for a proxy restart with port handover: net.ipv4.tcp_migrate_req=1
// moves the connections queued on the old proxy's closing listeners to the new proxy's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { setupNode, testPrefix } from '../../agent/index.js';

const MIGRATE = '/proc/sys/net/ipv4/tcp_migrate_req';

test('setupNode sets net.ipv4.tcp_migrate_req=1 in the host namespace, also on a node prepared before', { timeout: 30_000 }, async () => {
  const before = readFileSync(MIGRATE, 'utf8').trim(); // a kernel without it (< 5.14) fails here, by name
  try {
    await setupNode({ prefix: testPrefix() });
    assert.equal(readFileSync(MIGRATE, 'utf8').trim(), '1');
    writeFileSync(MIGRATE, '0'); // someone reset it
    await setupNode({ prefix: testPrefix() });
    assert.equal(readFileSync(MIGRATE, 'utf8').trim(), '1', 'idempotent, and re-applied on every setupNode');
  } finally {
    // Leave it on if it was on: other tests on this node may rely on it.
    if (before === '1') writeFileSync(MIGRATE, '1');
  }
});
