// The inspect commands against a real agent (root, BPF): `meshd status`, `endpoint list`,
// `identity list`, `bpf policy get`, `xds status` and `fqdn cache list`, run as users run them
// (`node bin/meshd.js …`), after running two pods and applying a policy through the agent.
// Then the agent stops: the commands say it is not running, and `fqdn cache list` falls back
// to the state directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus, BpfPolicyReport, FqdnCacheReport, IdentityRow, XdsStatusReport, EndpointRow } from '../../agent/index.js';
import { withAgent, tail } from './agent-harness.js';

const POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web-l7, namespace: empire }
spec:
  endpointSelector: { matchLabels: { app: web } }
  ingress:
    - fromEndpoints: [{ matchLabels: { org: empire } }]
      toPorts:
        - ports: [{ port: "80", protocol: TCP }]
          rules: { http: [{ method: GET, path: /ok }] }
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "9000", endPort: 9007, protocol: TCP }] }]
`;

test('every inspect command shows what the agent holds after a pod run and a policy apply', { timeout: 240_000 }, async () => {
  await withAgent({}, async (w) => {
    const stateDir = w.place.stateDir;
    // --state-dir goes before `--`: what follows it is the pod's command.
    const meshd = (...args: string[]) => {
      const dashes = args.indexOf('--');
      const at = dashes < 0 ? args.length : dashes;
      return w.meshd([...args.slice(0, at), '--state-dir', stateDir, ...args.slice(at)]);
    };
    const ok = async (...args: string[]) => {
      const r = await meshd(...args);
      assert.equal(r.code, 0, `meshd ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${tail(w.process?.stderr() ?? '')}`);
      assert.equal(r.stderr, '');
      return r.stdout;
    };
    const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await ok(...args, '-o', 'json')) as T;

    // A fresh agent: healthy, its proxy connected and in sync, nothing else yet.
    const fresh = await json<AgentStatus>('status');
    assert.equal(fresh.health, 'ok', JSON.stringify(fresh.components));
    assert.equal(fresh.node, w.place.nodeName);
    assert.equal(fresh.stateDir, stateDir);
    assert.equal(fresh.pinRoot, w.place.pinRoot);
    assert.equal(fresh.proxies.length, 1);
    assert.equal(fresh.proxies[0]!.alive, true);
    assert.equal(fresh.xds.clients, 1);
    assert.equal(fresh.endpoints.total, 0);
    assert.ok(fresh.datapath.maps.some((m) => m.name === 'meshd_ipcache_v1' && m.entries !== null && m.entries >= 2), JSON.stringify(fresh.datapath.maps));

    await ok('pod', 'run', '--name', 'web', '--namespace', 'empire', '--labels', 'app=web,org=empire', '--', 'sleep', '600');
    await ok('pod', 'run', '--name', 'client', '--namespace', 'empire', '--labels', 'app=client,org=empire', '--', 'sleep', '600');
    const policyFile = join(stateDir, 'web-l7.yaml');
    await writeFile(policyFile, POLICY);
    await ok('policy', 'apply', '-f', policyFile);
    await w.api.post('/v1/agent/reconcile', {});

    // endpoint list: both pods, web enforced on ingress only.
    const { endpoints } = await json<{ endpoints: EndpointRow[] }>('endpoint', 'list');
    const web = endpoints.find((e) => e.id === 'empire/web');
    const client = endpoints.find((e) => e.id === 'empire/client');
    assert.ok(web && client, JSON.stringify(endpoints));
    assert.deepEqual(web.policyEnforcement, { ingress: true, egress: false });
    assert.deepEqual(client.policyEnforcement, { ingress: false, egress: false });
    const endpointText = await ok('endpoint', 'list');
    assert.match(endpointText, /^ENDPOINT +POD +IDENTITY +IPV4 +IPV6 +INGRESS +EGRESS +AUDIT +STATE +LABELS$/m);
    assert.match(endpointText, new RegExp(`^${web.endpointId} +empire/web +${web.identity} +${web.ipv4.replaceAll('.', '\\.')} +\\S+ +enforced +- +- +running +app=web,org=empire$`, 'm'));

    // identity list: the reserved ones, and each pod's identity naming its pod.
    const { identities } = await json<{ identities: IdentityRow[] }>('identity', 'list');
    const host = identities.find((i) => i.id === 1);
    assert.deepEqual([host?.scope, host?.labels], ['reserved', ['reserved:host']]);
    const webIdentity = identities.find((i) => i.id === web.identity);
    assert.deepEqual([webIdentity?.scope, webIdentity?.refcount, webIdentity?.endpoints], ['global', 1, ['empire/web']]);
    assert.ok(webIdentity?.labels.includes('k8s:app=web'), webIdentity?.labels.join(','));
    assert.match(await ok('identity', 'list'), new RegExp(`^${web.identity} +global +1 +app=web,org=empire,ns=empire +empire/web$`, 'm'));

    // bpf policy get: the L7 redirect to the HTTP ingress listener for the empire peers, the
    // port range for the client, each naming the policy.
    const report = await json<BpfPolicyReport>('bpf', 'policy', 'get', 'empire/web');
    assert.equal(report.endpointId, web.endpointId);
    assert.equal(report.ingressEnforced, true);
    assert.equal(report.egressEnforced, false);
    const httpIngressPort = w.place.proxyPortBase + 1;
    const rows = report.entries.map((e) => `${e.direction} ${e.peerIdentity} ${e.protocol} ${e.ports} ${e.verdict}${e.proxyPort ? `:${e.proxyPort}` : ''} ${e.policies.join(',')}`);
    for (const expected of [
      `ingress ${web.identity} TCP 80 redirect:${httpIngressPort} empire/web-l7`,
      `ingress ${client.identity} TCP 80 redirect:${httpIngressPort} empire/web-l7`,
      `ingress ${client.identity} TCP 9000-9007 allow empire/web-l7`,
      'ingress 1 TCP * allow agent: allow-localhost',
    ]) {
      assert.ok(rows.includes(expected), `missing "${expected}" in:\n${rows.join('\n')}`);
    }
    const bpfText = await ok('bpf', 'policy', 'get', 'empire/web');
    assert.match(bpfText, /^ingress: default deny$/m);
    assert.match(bpfText, new RegExp(`^ingress +${client.identity} +app=client,org=empire,ns=empire +TCP +9000-9007 +allow +empire/web-l7$`, 'm'));
    const unknown = await meshd('bpf', 'policy', 'get', 'empire/nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^MESHD_ERR_INSPECT_POD_NOT_FOUND {2}no pod empire\/nope is an endpoint of this agent\nhint: /);

    // xds status: the proxy node connected, ACKed the version that carries the policy.
    let xds = await json<XdsStatusReport>('xds', 'status');
    for (let i = 0; i < 100 && !xds.proxies[0]?.inSync; i++) {
      await new Promise((r) => setTimeout(r, 100));
      xds = await w.api.get<XdsStatusReport>('/v1/xds/status');
    }
    const node = xds.proxies.find((p) => p.nodeId === w.place.nodeName);
    assert.ok(node?.connected && node.inSync, JSON.stringify(xds));
    assert.ok(xds.version >= 2, `the policy made a new snapshot: version ${xds.version}`);
    for (const t of node.types) assert.equal(t.ackedVersion, String(xds.version), JSON.stringify(t));
    const xdsText = await ok('xds', 'status');
    assert.match(xdsText, new RegExp(`^${w.place.nodeName} +builtin +\\d{4}-\\d\\d-\\d\\dT\\S+ +1 +${xds.version} +yes +0$`, 'm'));
    assert.match(xdsText, new RegExp(`^ {2}Listener +${xds.version} +${xds.version} +\\S+ +-$`, 'm'));

    // status now counts what was added.
    const status = await json<AgentStatus>('status');
    assert.deepEqual(status.endpoints, { total: 2, running: 2 });
    assert.deepEqual(status.policies, { total: 1, audit: 0 });
    assert.equal(status.proxies[0]!.ackedVersion, String(xds.version));
    const statusText = await ok('status');
    assert.match(statusText, /^health: ok$/m);
    assert.match(statusText, /^endpoints +ok +2 \(2 running\)$/m);
    assert.match(statusText, new RegExp(`^proxy \\(builtin\\) +ok +pid ${status.proxies[0]!.pid} in sync; ACKed version ${xds.version} of ${xds.version}$`, 'm'));

    // fqdn cache list asks the agent.
    const fqdn = await json<FqdnCacheReport>('fqdn', 'cache', 'list');
    assert.equal(fqdn.source, 'agent');
    assert.match(await ok('fqdn', 'cache', 'list'), /\nsource: the running agent \(.*meshd\.sock\)\n$/);

    // The agent stops: inspect commands say so; fqdn cache list reads the file it saved.
    const ended = await w.process!.stop('SIGTERM');
    assert.equal(ended.code, 0, tail(w.process!.stderr()));
    for (const args of [['status'], ['endpoint', 'list'], ['identity', 'list'], ['bpf', 'policy', 'get', 'empire/web'], ['xds', 'status']]) {
      const r = await meshd(...args);
      assert.equal(r.code, 1, `meshd ${args.join(' ')}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^MESHD_ERR_API_AGENT_NOT_RUNNING {2}the meshd agent is not running: .*meshd\.sock.*\nhint: start it with `meshd agent`/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const saved = await json<FqdnCacheReport>('fqdn', 'cache', 'list');
    assert.equal(saved.source, 'state-dir');
    assert.equal(saved.stateFile, join(stateDir, 'fqdn-cache.json'));
  });
});
