// Pods and policies through the real `meshd agent` process (CORE's harness): the CLI against the
// agent's socket, an agent restart that keeps pods, ids and enforcement, and --policy-dir.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointInfo } from '../../agent/index.js';
import { withAgent, type AgentWorld } from './agent-harness.js';
import { eventually, probeFrom, serverIngressOnlyFrom } from './endpoints-harness.js';
import { PROBE } from '../datapath/datapath-harness.js';

const PORT = 8082;

async function runPod(w: AgentWorld, name: string, command: string[]): Promise<EndpointInfo> {
  const r = await w.meshd(['pod', 'run', '--name', name, '--labels', `app=${name}`, '--state-dir', w.place.stateDir, '-o', 'json', '--', ...command]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as EndpointInfo;
}

const connects = async (from: EndpointInfo, to: EndpointInfo): Promise<boolean> => (await probeFrom(from, ['tcp', to.ipv4, String(PORT)])).ok;

describe('pods and policies through meshd agent', () => {
  test('pods keep their ids, identities, processes and policy across an agent restart, and pod exec exits with the status of its command', async () => {
    await withAgent({}, async (w) => {
      const server = await runPod(w, 'server', [process.execPath, PROBE, 'tcp-server', String(PORT)]);
      const client = await runPod(w, 'client', ['sleep', '600']);
      await eventually(() => connects(client, server), 10_000, 'the server pod to answer');

      const dir = mkdtempSync(join(tmpdir(), 'meshd-pol-'));
      try {
        writeFileSync(join(dir, 'p.yaml'), serverIngressOnlyFrom('nobody', PORT));
        const applied = await w.meshd(['policy', 'apply', '-f', dir, '--state-dir', w.place.stateDir]);
        assert.equal(applied.code, 0, applied.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      assert.equal(await connects(client, server), false, 'denied by the applied policy');

      const before = (await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods;
      await w.restart();
      const after = (await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods;
      assert.deepEqual(
        after.map((p) => [p.id, p.endpointId, p.identity, p.ipv4, p.ipv6, p.pid, p.state]),
        before.map((p) => [p.id, p.endpointId, p.identity, p.ipv4, p.ipv6, p.pid, 'running']),
      );
      assert.equal(await connects(client, server), false, 'still denied after the restart');
      const list = await w.meshd(['policy', 'list', '--state-dir', w.place.stateDir]);
      assert.match(list.stdout, /CiliumNetworkPolicy\s+default\s+server-ingress/);

      const allow = join(tmpdir(), `meshd-allow-${process.pid}.yaml`);
      writeFileSync(allow, serverIngressOnlyFrom('client', PORT));
      try {
        const r = await w.meshd(['policy', 'apply', '-f', allow, '--state-dir', w.place.stateDir]);
        assert.equal(r.code, 0, r.stderr);
      } finally {
        rmSync(allow, { force: true });
      }
      assert.equal(await connects(client, server), true, 'allowed once the new policy is applied');

      const exec = await w.meshd(['pod', 'exec', 'client', '--state-dir', w.place.stateDir, '--', 'sh', '-c', 'exit 3']);
      assert.equal(exec.code, 3, exec.stderr);
      const rm = await w.meshd(['pod', 'rm', 'server', '--state-dir', w.place.stateDir]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.deepEqual((await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods.map((p) => p.id), ['default/client']);
    });
  });
});
