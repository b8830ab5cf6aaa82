import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentStatus } from '../../inspect/index.js';
import type { StatusSources } from '../../inspect/index.js';
import { runMeshd, withFakeAgent, withNoAgent } from '../../../test/agent/api-fake-agent.js';

const SOURCES: StatusSources = {
  version: '0.8.0',
  pid: 321,
  startedAt: new Date('2026-11-21T15:00:00.000Z'),
  options: { stateDir: '/var/lib/meshd', pinRoot: '/sys/fs/bpf/meshd', nodeName: 'node-a', nodePrefix: 'meshd-', proxy: 'builtin', policyAuditMode: false },
  mapStats: () => [{ name: 'meshd_ipcache_v1', id: 3, type: 'lpm_trie', maxEntries: 524288, entries: 9 }],
  proxies: () => [{ mode: 'builtin', nodeId: 'node-a', pid: 555, startTime: 1, adopted: false, alive: true, restarts: 0, logFile: 'proxy.log', command: [] }],
  xds: () => ({
    socket: '/var/lib/meshd/xds.sock',
    version: 3,
    proxies: [{ nodeId: 'node-a', target: 'builtin', connected: true, streams: [{ id: 1, peer: 'unix', openedAt: '2026-11-21T15:00:01.000Z', variant: 'delta', userAgent: 'meshd' }], snapshotVersion: '3', inSync: true, types: [{ typeUrl: 'x/Listener', ackedVersion: '3' }], nacks: 0 }],
  }),
  endpoints: () => [{ state: 'running' }],
  policies: () => [],
  identities: () => 11,
  fqdn: () => ({ names: 0, ips: 0, zombies: 0 }),
  flows: () => ({ capacity: 16384, stored: 0, added: 0, followerLost: 0, followers: 0 }),
};

describe('meshd status', () => {
  test('prints the agent and one aligned line per component, exit 0 when all is ok', async () => {
    const status = agentStatus(SOURCES, new Date('2026-11-21T15:10:00.000Z'));
    await withFakeAgent([{ method: 'GET', path: '/v1/status', handler: async () => status }], async (agent) => {
      const { status: code, io } = await agent.meshd('status');
      assert.equal(code, 0, io.err);
      assert.match(io.out, /^meshd agent 0\.8\.0 {2}pid 321 {2}up 10m 00s/m);
      assert.match(io.out, /^node node-a \(prefix meshd-\) {2}state \/var\/lib\/meshd {2}pins \/sys\/fs\/bpf\/meshd$/m);
      assert.match(io.out, /^proxy \(builtin\) +ok +pid 555 in sync; ACKed version 3 of 3$/m);
      assert.match(io.out, /^endpoints +ok +1 \(1 running\)$/m);
      assert.equal(io.err, '');
      const json = await agent.meshd('status', '-o', 'json');
      assert.deepEqual(JSON.parse(json.io.out), status);
    });
  });

  test('exits 1 when a component is degraded', async () => {
    const status = agentStatus({ ...SOURCES, proxies: () => [{ ...SOURCES.proxies()[0]!, alive: false }] });
    await withFakeAgent([{ method: 'GET', path: '/v1/status', handler: async () => status }], async (agent) => {
      const { status: code, io } = await agent.meshd('status');
      assert.equal(code, 1);
      assert.match(io.out, /^health: degraded$/m);
      assert.match(io.out, /^proxy \(builtin\) +down +pid 555 not running/m);
    });
  });

  test('says the agent is not running, with a hint and no stack, exit 1', async () => {
    await withNoAgent(async (stateDir) => {
      const { status, io } = await runMeshd(['status', '--state-dir', stateDir]);
      assert.equal(status, 1);
      assert.equal(io.out, '');
      assert.match(io.err, new RegExp(`^MESHD_ERR_API_AGENT_NOT_RUNNING {2}the meshd agent is not running: there is no agent socket at ${stateDir}/meshd\\.sock\\nhint: start it with \`meshd agent\``));
      assert.doesNotMatch(io.err, /\n\s+at |internal error/);
    });
  });

  test('finds the agent through $MESHD_STATE_DIR when --state-dir is not given', async () => {
    await withNoAgent(async (stateDir) => {
      const before = process.env['MESHD_STATE_DIR'];
      process.env['MESHD_STATE_DIR'] = stateDir;
      try {
        const { status, io } = await runMeshd(['status']);
        assert.equal(status, 1);
        assert.match(io.err, new RegExp(`no agent socket at ${stateDir}/meshd\\.sock`));
      } finally {
        if (before === undefined) delete process.env['MESHD_STATE_DIR'];
        else process.env['MESHD_STATE_DIR'] = before;
      }
    });
  });
});
