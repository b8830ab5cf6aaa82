// `meshd proxy --agent-socket` as the agent spawns it (the binary, a child process, configured by
// `meshd xds serve`), against the agent side of the link served by the real API server: every HTTP
// request the proxy handles becomes a flow in the agent's ring, with the RBAC policy that decided;
// while the agent's API is down the proxy keeps serving and its records reach the agent once it is
// back.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FlowCollector, FlowStore } from '../../agent/index.js';
import { proxyLinkRoutes } from '../../agent/index.js';
import { startApiServer, type ApiServer } from '../../agent/index.js';
import type { DnsAnswerEvent } from '../../proxylib/index.js';
import { LineChild } from '../xds/child-process-harness.js';
import { Cleanup, MESHD_BIN, makeTempDir, startMeshdServe } from '../xds/real-client-setup.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

function snapshotYaml(upstreamPort: number): string {
  return `version: v1
listeners:
  - name: http-ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
      - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: ingress
              rds: { route_config_name: ingress-routes, config_source: { ads: {} } }
              http_filters:
                - name: envoy.filters.http.rbac
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
                    rules:
                      action: ALLOW
                      policies:
                        empire/deathstar-landing:
                          permissions:
                            - and_rules:
                                rules:
                                  - header: { name: ":method", string_match: { exact: POST } }
                                  - url_path: { path: { exact: "/v1/request-landing" } }
                          principals: [{ any: true }]
                - name: envoy.filters.http.router
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
routes:
  - name: ingress-routes
    virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: backend } }] }]
clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }]
`;
}

function curl(method: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, url], (err, stdout) => {
      if (err && !stdout) return reject(err);
      resolve(Number(stdout));
    });
  });
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('meshd proxy --agent-socket', () => {
  test('sends every request as a flow with its policy, and buffers while the agent is away', { timeout: 90_000 }, async () => {
    const upstream = http.createServer((_req, res) => res.end('landing granted'));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    cleanup.add(() => new Promise((r) => upstream.close(() => r())));

    const dir = await makeTempDir(cleanup, 'meshd-flows-link-');
    const snapshot = join(dir, 'snapshot.yaml');
    await writeFile(snapshot, snapshotYaml((upstream.address() as AddressInfo).port));
    const serve = await startMeshdServe(cleanup, snapshot);

    // The agent side: the flow ring, fed by the link's routes on the real API server.
    const socketPath = join(dir, 'meshd.sock');
    const store = new FlowStore();
    const answers: DnsAnswerEvent[] = [];
    const collector = new FlowCollector({ store, enrichment: { podOfEndpoint: () => undefined, podOfIp: () => undefined, identityLabels: () => undefined, endpointPolicy: () => undefined } });
    const routes = proxyLinkRoutes({ fqdn: { onAnswer: (a) => void answers.push(a) }, ingestProxyFlows: (r) => collector.ingestProxyFlows(r) });
    let api: ApiServer | undefined = await startApiServer({ socketPath, routes });
    cleanup.add(() => api?.close() ?? Promise.resolve());

    const proxy = new LineChild('meshd proxy', process.execPath, [MESHD_BIN, 'proxy', '--xds', `127.0.0.1:${serve.port}`, '--node-id', 'flows-node', '--drain-timeout', '1', '--agent-socket', socketPath]);
    cleanup.add(() => proxy.stop());
    await proxy.waitForText(/meshd proxy: node flows-node ready/, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${proxy.diagnostics()}\n${serve.child.diagnostics()}`);
    });
    const port = Number(/listeners http-ingress=127\.0\.0\.1:(\d+)/.exec(proxy.stdout)?.[1]);
    assert.ok(port > 0, proxy.stdout);
    const base = `http://127.0.0.1:${port}`;

    assert.equal(await curl('POST', `${base}/v1/request-landing`), 200);
    assert.equal(await curl('PUT', `${base}/v1/exhaust-port`), 403);
    await waitFor(() => store.query({ protocol: ['http'] }).length === 2, 'both requests are flows');
    const [allowed, denied] = store.query({ protocol: ['http'] });
    assert.equal(allowed?.verdict, 'FORWARDED');
    assert.equal(allowed?.summary, 'POST /v1/request-landing -> 200');
    assert.equal(allowed?.policy, 'empire/deathstar-landing');
    assert.equal(allowed?.layer, 'proxy');
    assert.equal(denied?.verdict, 'DENIED');
    assert.equal(denied?.summary, 'PUT /v1/exhaust-port -> 403');
    assert.equal(denied?.direction, 'ingress');

    // The agent goes away: the proxy keeps serving; its records wait and arrive once it is back.
    await api.close();
    api = undefined;
    assert.equal(await curl('POST', `${base}/v1/request-landing`), 200);
    assert.equal(await curl('GET', `${base}/v1/status`), 403);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(store.query({ protocol: ['http'] }).length, 2);
    api = await startApiServer({ socketPath, routes });
    await waitFor(() => store.query({ protocol: ['http'] }).length === 4, 'the buffered records arrive after the agent is back', 15_000);
    assert.deepEqual(store.query({ protocol: ['http'], last: 2 }).map((f) => f.summary), ['POST /v1/request-landing -> 200', 'GET /v1/status -> 403']);

    await proxy.stop();
    assert.equal(proxy.exitStatus?.code, 0, proxy.diagnostics());
    await collector.close();
  });
});
