// Policies through the agent (real root, pods, BPF): all-or-nothing apply with file:line:col,
// delete/list/get through the CLI, restore after a restart, the --policy-dir watcher, audit mode.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointInfo } from '../../agent/index.js';
import { policiesDir, type PolicySummary } from '../../agent/index.js';
import { eventually, meshd, probeFrom, withTestAgent, type TestAgent } from './endpoints-harness.js';
import { PROBE } from '../datapath/datapath-harness.js';

const PORT = 8081;

const allowFrom = (name: string, from: string, extra = '') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${name}
  namespace: default${extra}
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: ${from} } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;

// Line 8 col 20: a port out of range.
const BROKEN = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: broken, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: client } }]
    toPorts: [{ ports: [{ port: "99999", protocol: TCP }] }]
`;

async function serverAndClient(agent: TestAgent): Promise<{ server: EndpointInfo; client: EndpointInfo }> {
  const server = await agent.endpoints.run({ name: 'server', labels: { app: 'server' }, command: [process.execPath, PROBE, 'tcp-server', String(PORT)] });
  const client = await agent.endpoints.run({ name: 'client', labels: { app: 'client' }, command: ['sleep', '600'] });
  await eventually(async () => (await probeFrom(client, ['tcp', server.ipv4, String(PORT)])).ok, 10_000, 'the server pod to answer');
  return { server, client };
}

const connects = async (from: EndpointInfo, to: EndpointInfo): Promise<boolean> => (await probeFrom(from, ['tcp', to.ipv4, String(PORT)])).ok;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-pol-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('policies through the agent', () => {
  test('policy apply of a directory with one broken file changes nothing and names file:line:col; fixed, it applies all; get, list and delete work', async (t) => {
    const dir = tempDir(t);
    await withTestAgent(async (agent) => {
      const { server, client } = await serverAndClient(agent);
      const sd = ['--state-dir', agent.stateDir];
      writeFileSync(join(dir, 'a-deny-all-but-nobody.yaml'), allowFrom('only-nobody', 'nobody'));
      writeFileSync(join(dir, 'b-broken.yaml'), BROKEN);
      const refused = await meshd(['policy', 'apply', '-f', dir, ...sd]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`${join(dir, 'b-broken.yaml').replace(/\./g, '\\.')}:8:\\d+`), refused.stderr);
      assert.match(refused.stderr, /nothing was applied/);
      assert.deepEqual(agent.policies.list(), []);
      assert.deepEqual(agent.repository.listPolicies(), []);
      assert.deepEqual(readdirSync(policiesDir(agent.stateDir)).filter((n) => n.endsWith('.yaml')), []);
      assert.equal(await connects(client, server), true, 'nothing changed in the kernel either');

      writeFileSync(join(dir, 'b-broken.yaml'), allowFrom('from-client', 'client'));
      const applied = await meshd(['policy', 'apply', '-f', dir, ...sd]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /CiliumNetworkPolicy default\/from-client applied \(1 rule, selects 1 pod\)/);
      assert.equal(await connects(client, server), true, 'from-client allows the client');

      const list = await meshd(['policy', 'list', ...sd, '-o', 'json']);
      const { policies } = JSON.parse(list.stdout) as { policies: PolicySummary[] };
      assert.deepEqual(policies.map((p) => p.key), ['CiliumNetworkPolicy/default/from-client', 'CiliumNetworkPolicy/default/only-nobody']);
      const got = await meshd(['policy', 'get', 'CiliumNetworkPolicy/default/from-client', ...sd]);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, allowFrom('from-client', 'client'));

      const deleted = await meshd(['policy', 'delete', '--name', 'from-client', ...sd]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(await connects(client, server), false, 'only-nobody is left: the client is denied');
      const again = await meshd(['policy', 'delete', 'default/from-client', ...sd]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /MESHD_ERR_POLICY_STORE_NOT_FOUND/);
    });
  });

  test('applied policies are restored from the state directory after a restart and stay enforced', async () => {
    await withTestAgent(async (agent) => {
      const { server, client } = await serverAndClient(agent);
      await agent.policies.apply([{ file: 'p.yaml', text: `${allowFrom('p1', 'nobody')}---\n${allowFrom('p2', 'someone-else')}` }]);
      assert.equal(await connects(client, server), false);
      await agent.restart();
      assert.deepEqual(agent.policies.list().map((p) => [p.key, p.file]), [
        ['CiliumNetworkPolicy/default/p1', 'p.yaml'],
        ['CiliumNetworkPolicy/default/p2', 'p.yaml'],
      ]);
      assert.equal(agent.repository.listPolicies().length, 2);
      assert.equal(await connects(client, server), false);
      assert.equal(agent.policies.get({ name: 'p2' }).text.includes('someone-else'), true);
    });
  });

  test('a corrupt endpoints.json or saved policy is moved aside with a warning, and the agent starts without it', async () => {
    await withTestAgent(async (agent) => {
      await agent.policies.apply([{ file: 'a.yaml', text: allowFrom('kept', 'client') }, { file: 'b.yaml', text: allowFrom('damaged', 'client') }]);
      const saved = readdirSync(policiesDir(agent.stateDir)).find((n) => n.includes('damaged'))!;
      writeFileSync(join(policiesDir(agent.stateDir), saved), 'not a saved policy\n');
      writeFileSync(join(agent.stateDir, 'endpoints.json'), '{"version": 1, "nextEndpointId": ');
      await agent.restart();
      assert.deepEqual(agent.policies.list().map((p) => p.name), ['kept']);
      assert.ok(agent.logs.some((l) => l.level === 'warn' && (l.obj as { code?: string }).code === 'MESHD_ERR_POLICY_STORE_CORRUPT'));
      assert.ok(agent.logs.some((l) => l.level === 'warn' && (l.obj as { code?: string }).code === 'MESHD_ERR_ENDPOINT_STATE_CORRUPT'));
      assert.ok(readdirSync(agent.stateDir).some((n) => n.startsWith('endpoints.json.corrupt-')));
      assert.ok(readdirSync(policiesDir(agent.stateDir)).some((n) => n.startsWith(`${saved}.corrupt-`)));
      assert.deepEqual(agent.endpoints.list(), []);
    });
  });

  test('the policy directory is watched: a new file applies, a broken one changes nothing and is logged with file:line:col, a removed one is deleted', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'sub'));
    await withTestAgent(
      async (agent) => {
        const { server, client } = await serverAndClient(agent);
        writeFileSync(join(dir, 'sub', 'only-nobody.yaml'), allowFrom('only-nobody', 'nobody'));
        await eventually(() => agent.policies.list().length === 1, 5000, 'the new file to be applied');
        await agent.policies.settled();
        assert.equal(await connects(client, server), false);

        writeFileSync(join(dir, 'broken.yaml'), BROKEN);
        await eventually(() => agent.logs.some((l) => l.level === 'error' && l.msg.includes(`${join(dir, 'broken.yaml')}:8:`)), 5000, 'the broken file to be logged');
        assert.deepEqual(agent.policies.list().map((p) => p.name), ['only-nobody']);

        writeFileSync(join(dir, 'broken.yaml'), allowFrom('from-client', 'client'));
        await eventually(() => agent.policies.list().length === 2, 5000, 'the fixed file to be applied');
        await agent.policies.settled();
        assert.equal(await connects(client, server), true);
        assert.ok(agent.policies.list().every((p) => p.source === 'policy-dir'));

        unlinkSync(join(dir, 'broken.yaml'));
        await eventually(() => agent.policies.list().length === 1, 5000, 'the removed file to be deleted');
        await agent.policies.settled();
        assert.equal(await connects(client, server), false);
      },
      { policyDir: dir, policyDirDebounceMs: 100 },
    );
  });

  test('a policy annotated meshd.io/audit-mode puts the pods it selects in audit mode: the kernel lets through what it would deny', async () => {
    await withTestAgent(async (agent) => {
      const { server, client } = await serverAndClient(agent);
      await agent.policies.apply([{ file: 'audit.yaml', text: allowFrom('audited', 'nobody', '\n  annotations: { meshd.io/audit-mode: "true" }') }]);
      assert.equal(agent.policies.list()[0]?.auditMode, true);
      const byId = new Map(agent.endpoints.statuses().map((s) => [s.id, s]));
      assert.equal(byId.get('default/server')?.auditMode, true);
      assert.equal(byId.get('default/client')?.auditMode, false);
      assert.deepEqual(byId.get('default/server')?.policyEnforcement, { ingress: true, egress: false });
      assert.equal(agent.dp.isAuditMode(server.endpointId), true);
      assert.equal(await connects(client, server), true, 'audit mode: would be denied, passes');
      // The same policy without the annotation: enforced.
      await agent.policies.apply([{ file: 'audit.yaml', text: allowFrom('audited', 'nobody') }]);
      assert.equal(agent.dp.isAuditMode(server.endpointId), false);
      assert.equal(await connects(client, server), false, 'enforced again');
    });
  });
});
