// Transparent mode on real pods: the kernel datapath redirects a pod's connection to an L7 port to
// the built-in proxy (configured over xDS from an in-process XdsServer), which finds the original
// destination in the datapath (original_dst listener filter + ORIGINAL_DST cluster), applies HTTP
// RBAC, forwards to the real server pod, and publishes a flow record with both identities from the
// ipcache. Needs root, BPF and netns: fails naming the missing feature, never skips.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotCache, XdsServer, Snapshot, TYPE_URL, messageFromJson, messageSchemaOfUrl, type SnapshotMessages } from '../../xds/index.js';
import { BuiltinProxy, subscribeFlows, type FlowRecord, type HttpFlowRecord } from '../../proxylib/index.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { LineProcess, cnp, withCluster } from '../datapath/datapath-harness.js';
import { MESHD_BIN } from '../xds/real-client-setup.js';
import type { Pod } from '../../agent/index.js';

const T = { timeout: 120_000 };
const NODE_ID = 'transparent-node';

function fromJson<M>(typeUrl: string, json: unknown): M {
  return messageFromJson(messageSchemaOfUrl(typeUrl)!, json) as M;
}

/** Envoy resources of a transparent HTTP listener: original_dst, RBAC (GET only), ORIGINAL_DST cluster. */
function transparentSnapshot(listenAddress: string): Snapshot {
  const messages: SnapshotMessages = {
    listeners: [
      fromJson(TYPE_URL.listener, {
        name: 'transparent-http',
        address: { socket_address: { address: listenAddress, port_value: 0 } },
        listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: 'transparent',
                  route_config: { name: 'to-original', virtual_hosts: [{ name: 'any', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'original-dst' } }] }] },
                  http_filters: [
                    {
                      name: 'envoy.filters.http.rbac',
                      typed_config: {
                        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
                        rules: { action: 'ALLOW', policies: { 'get-only': { permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }], principals: [{ any: true }] } } },
                      },
                    },
                    { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                  ],
                },
              },
            ],
          },
        ],
      }),
    ],
    clusters: [fromJson(TYPE_URL.cluster, { name: 'original-dst', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '2s' })],
  };
  return Snapshot.fromMessages(messages);
}

/** An HTTP server in a pod that answers with what it saw (method, path, peer). */
const POD_HTTP_SERVER = String.raw`
const http = require('node:http');
const server = http.createServer((req, res) => {
  const body = JSON.stringify({ server: 'pod', method: req.method, url: req.url, from: req.socket.remoteAddress });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen({ host: '::', port: Number(process.argv[1]) }, () => console.log(JSON.stringify({ listening: true })));
`;

async function startPodHttpServer(pod: Pod, port: number): Promise<LineProcess> {
  const server = new LineProcess(pod.spawn(process.execPath, ['-e', POD_HTTP_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await server.waitFor((l) => l['listening'] === true, 10_000);
  return server;
}

async function curlInPod(pod: Pod, args: string[]): Promise<{ status: number; body: string }> {
  const r = await pod.exec('curl', ['-s', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', ...args], { timeoutMs: 15_000 });
  const cut = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, cut), status: Number(r.stdout.slice(cut + 1)) };
}

describe('the built-in proxy in transparent mode', () => {
  for (const family of [4, 6] as const) {
    test(`a pod request redirected by the kernel reaches the proxy, which forwards it to the original destination, enforces RBAC and records both identities (IPv${family})`, T, async () => {
      await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
        const gateway = family === 4 ? node.gateway4 : node.gateway6;
        const cache = new SnapshotCache();
        cache.setSnapshot(NODE_ID, transparentSnapshot(gateway));
        const xds = new XdsServer({ cache });
        const flows: FlowRecord[] = [];
        const unsubscribe = subscribeFlows((r) => flows.push(r));
        let proxy: BuiltinProxy | undefined;
        let server: LineProcess | undefined;
        try {
          const xdsAddress = await xds.listen('127.0.0.1:0');
          proxy = await BuiltinProxy.start({
            xds: xdsAddress,
            nodeId: NODE_ID,
            originalDestination: (t) => dp.originalDestination(t),
            identityOf: (ip) => dp.ipcache.identityOf(ip),
            drainTimeoutMs: 500,
          });
          await proxy.ready(10_000);
          const bound = proxy.listenerAddress('transparent-http');
          assert.ok(bound && bound.port > 0, `the transparent listener is bound: ${JSON.stringify(proxy.listeners())}`);

          // The client's HTTP egress to the server pod on 8080 goes to the proxy port (policy with an L7 rule).
          applyPolicy(
            cnp('client', `  egress:
      - toEndpoints: [{ matchLabels: { app: server } }]
        toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{ method: GET }] } }]`),
            { http: bound.port },
          );
          server = await startPodHttpServer(pods[1]!, 8080);
          const serverIp = family === 4 ? members[1]!.ipv4 : members[1]!.ipv6;
          const clientIp = family === 4 ? members[0]!.ipv4 : members[0]!.ipv6;
          const url = (path: string) => (family === 4 ? `http://${serverIp}:8080${path}` : `http://[${serverIp}]:8080${path}`);

          const allowed = await curlInPod(pods[0]!, [url('/hello?x=1')]);
          assert.equal(allowed.status, 200, JSON.stringify(allowed));
          const seen = JSON.parse(allowed.body) as { server: string; method: string; url: string; from: string };
          assert.deepEqual({ server: seen.server, method: seen.method, url: seen.url }, { server: 'pod', method: 'GET', url: '/hello?x=1' });
          assert.equal(seen.from.replace(/^::ffff:/, ''), gateway, 'the server pod is reached by the proxy (node address), not directly by the client');

          const denied = await curlInPod(pods[0]!, ['-X', 'POST', '-d', 'x', url('/hello')]);
          assert.equal(denied.status, 403, JSON.stringify(denied));

          const http = flows.filter((f): f is HttpFlowRecord => f.type === 'http' && f.listener === 'transparent-http');
          const forwarded = http.find((f) => f.verdict === 'FORWARDED');
          const deniedFlow = http.find((f) => f.verdict === 'DENIED');
          assert.ok(forwarded, `a FORWARDED flow record: ${JSON.stringify(flows)}`);
          assert.ok(deniedFlow, `a DENIED flow record: ${JSON.stringify(flows)}`);
          assert.equal(forwarded.source.ip, clientIp);
          assert.equal(forwarded.source.identity, members[0]!.identity, 'source identity from the ipcache');
          assert.deepEqual({ ip: forwarded.destination.ip, port: forwarded.destination.port }, { ip: serverIp, port: 8080 }, 'original destination from the datapath');
          assert.equal(forwarded.destination.identity, members[1]!.identity, 'destination identity from the ipcache');
          assert.equal(forwarded.http.method, 'GET');
          assert.equal(forwarded.http.status, 200);
          assert.equal(forwarded.upstream?.address, serverIp);
          assert.equal(forwarded.upstream?.port, 8080);
          assert.equal(deniedFlow.http.method, 'POST');
          assert.equal(deniedFlow.http.status, 403);
          assert.equal(deniedFlow.source.identity, members[0]!.identity);
        } finally {
          unsubscribe();
          server?.stop();
          await proxy?.close();
          await xds.close();
        }
      });
    });
  }

  test('`meshd proxy --transparent` as its own process reads the pinned datapath maps and forwards a redirected pod request to the original destination', T, async () => {
    await withCluster(['client', 'server'], async ({ pods, members, node, pinRoot, applyPolicy }) => {
      const gateway = node.gateway4;
      const cache = new SnapshotCache();
      cache.setSnapshot(NODE_ID, transparentSnapshot(gateway));
      const xds = new XdsServer({ cache });
      let proxy: LineProcess | undefined;
      let server: LineProcess | undefined;
      try {
        const xdsAddress = await xds.listen('127.0.0.1:0');
        proxy = new LineProcess(
          spawn(process.execPath, [MESHD_BIN, 'proxy', '--xds', xdsAddress, '--node-id', NODE_ID, '--transparent', '--pin-root', pinRoot, '--admin', '127.0.0.1:0', '--drain-timeout', '1'], { stdio: ['ignore', 'pipe', 'pipe'] }),
        );
        const readyLine = String((await proxy.waitFor((l) => typeof l['text'] === 'string' && / ready from /.test(l['text']), 20_000))['text']);
        const bound = /listeners transparent-http=([\d.]+):(\d+)/.exec(readyLine);
        const admin = /; admin (\S+)$/.exec(readyLine);
        assert.ok(bound && admin, `the ready line names the listener and the admin address: ${readyLine}`);
        assert.equal(bound[1], gateway);
        assert.doesNotMatch(proxy.stderr, /WARN transparent mode/, 'no degraded-mode warning: original destinations come from the datapath');

        applyPolicy(
          cnp('client', `  egress:
      - toEndpoints: [{ matchLabels: { app: server } }]
        toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{ method: GET }] } }]`),
          { http: Number(bound[2]) },
        );
        server = await startPodHttpServer(pods[1]!, 8080);
        const serverIp = members[1]!.ipv4;
        const allowed = await curlInPod(pods[0]!, [`http://${serverIp}:8080/from-cli`]);
        assert.equal(allowed.status, 200, `${JSON.stringify(allowed)}; proxy stderr: ${proxy.stderr}`);
        const seen = JSON.parse(allowed.body) as { server: string; method: string; url: string; from: string };
        assert.deepEqual({ server: seen.server, method: seen.method, url: seen.url }, { server: 'pod', method: 'GET', url: '/from-cli' });
        assert.equal(seen.from.replace(/^::ffff:/, ''), gateway, 'the server pod is reached by the proxy process, at the original destination');
        const denied = await curlInPod(pods[0]!, ['-X', 'POST', '-d', 'x', `http://${serverIp}:8080/from-cli`]);
        assert.equal(denied.status, 403, JSON.stringify(denied));

        const stats = await (await fetch(`http://${admin[1]}/stats?filter=http.requests`, { signal: AbortSignal.timeout(5000) })).text();
        assert.match(stats, /^http\.requests\.forwarded: 1$/m, stats);
        assert.match(stats, /^http\.requests\.denied: 1$/m, stats);

        // A clean stop: drains, closes the map fds, exits 0 (the agent's pins stay).
        proxy.child.kill('SIGTERM');
        const [code] = (await once(proxy.child, 'exit')) as [number | null];
        assert.equal(code, 0, proxy.stderr);
      } finally {
        server?.stop();
        proxy?.stop();
        await xds.close();
      }
    });
  });
});
