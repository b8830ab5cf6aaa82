import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { XdsStatusReport } from '../../inspect/index.js';
import { runMeshd, withFakeAgent, withNoAgent } from '../../../test/agent/api-fake-agent.js';

const STATUS: XdsStatusReport = {
  socket: '/var/lib/meshd/xds.sock',
  version: 12,
  proxies: [
    {
      nodeId: 'node-a',
      target: 'builtin',
      connected: true,
      streams: [{ id: 4, peer: 'unix', openedAt: '2026-11-21T15:00:00.000Z', variant: 'delta', userAgent: 'meshd-proxy' }],
      snapshotVersion: '12',
      inSync: false,
      types: [
        { typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener', sentVersion: '12', ackedVersion: '11', ackedAt: '2026-11-21T15:01:00.000Z', lastNack: { version: '12', message: 'listener l1: unsupported field foo', at: '2026-11-21T15:02:00.000Z' } },
        { typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', sentVersion: '12', ackedVersion: '12', ackedAt: '2026-11-21T15:02:00.000Z' },
      ],
      nacks: 1,
    },
    { nodeId: 'node-a-builtin', target: 'builtin', connected: false, streams: [], inSync: false, types: [], nacks: 0 },
  ],
};

test('meshd xds status prints each proxy, versions ACKed per type and the last NACK', async () => {
  await withFakeAgent([{ method: 'GET', path: '/v1/xds/status', handler: async () => STATUS }], async (agent) => {
    const { status, io } = await agent.meshd('xds', 'status');
    assert.equal(status, 0, io.err);
    assert.equal(
      io.out,
      [
        'xDS server /var/lib/meshd/xds.sock  snapshot version 12',
        '',
        'NODE            TARGET   CONNECTED SINCE           STREAMS  SNAPSHOT  IN SYNC  NACKS',
        'node-a          builtin  2026-11-21T15:00:00.000Z  1        12        no       1',
        'node-a-builtin  builtin  not connected             0        -         no       0',
        '',
        'node-a:',
        '  TYPE      SENT  ACKED  ACKED AT                  LAST NACK',
        '  Listener  12    11     2026-11-21T15:01:00.000Z  version 12 at 2026-11-21T15:02:00.000Z: listener l1: unsupported field foo',
        '  Cluster   12    12     2026-11-21T15:02:00.000Z  -',
        '',
      ].join('\n'),
    );
    const json = await agent.meshd('xds', 'status', '-o', 'json');
    assert.deepEqual(JSON.parse(json.io.out), STATUS);
  });
});

test('meshd xds status without an agent exits 1 with the not-running error', async () => {
  await withNoAgent(async (stateDir) => {
    const { status, io } = await runMeshd(['xds', 'status', '--state-dir', stateDir]);
    assert.equal(status, 1);
    assert.match(io.err, /^MESHD_ERR_API_AGENT_NOT_RUNNING /);
  });
});
