// What the ingress L7 tests share: the pod's HTTP server, a free proxy port on a gateway address,
// the built-in proxy served one translation over xDS, and the "other node" of the remote tests
// (its two client identities, their labels and ipcache entries, curl from one of its addresses).
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { Datapath } from '../../bpf/index.js';
import { Repository, type SelectorCache } from '../../policy/index.js';
import { Snapshot, SnapshotCache, XdsServer, type translateNode } from '../../xds/index.js';
import { BuiltinProxy } from '../../proxylib/index.js';
import type { NodeNetwork } from '../../agent/index.js';
import { HOST_IDENTITY } from './datapath-harness.js';
import type { RemoteNode } from './remote-node.js';

/** An HTTP server in a pod that answers with what it saw. */
export const POD_HTTP_SERVER = String.raw`
const http = require('node:http');
http.createServer((req, res) => {
  const body = JSON.stringify({ server: 'pod', method: req.method, url: req.url, from: req.socket.remoteAddress });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen({ host: '::', port: Number(process.argv[1]) }, () => console.log(JSON.stringify({ listening: true })));
`;

/** A port free on the gateway address right now (the proxy binds it a moment later). */
export async function freePortOn(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * The built-in proxy with the datapath's original destinations and identities, served `t` over
 * xDS as node `nodeId`, ready. close() stops the proxy, then the xDS server.
 */
export async function startServedProxy(dp: Datapath, nodeId: string, t: ReturnType<typeof translateNode>): Promise<{ proxy: BuiltinProxy; close(): Promise<void> }> {
  const cache = new SnapshotCache();
  const xds = new XdsServer({ cache });
  let proxy: BuiltinProxy | undefined;
  try {
    cache.setSnapshot(nodeId, Snapshot.fromMessages({ version: 'v1', listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets }));
    proxy = await BuiltinProxy.start({
      xds: await xds.listen('127.0.0.1:0'),
      nodeId,
      originalDestination: (tuple) => dp.originalDestination(tuple),
      identityOf: (ip) => dp.ipcache.identityOf(ip),
      drainTimeoutMs: 500,
    });
    await proxy.ready(10_000);
  } catch (err) {
    await proxy?.close();
    await xds.close();
    throw err;
  }
  const started = proxy;
  return {
    proxy: started,
    close: async () => {
      await started.close();
      await xds.close();
    },
  };
}

/** The remote client's identity (a pod of the other node) and an intruder's. */
export const REMOTE_CLIENT_IDENTITY = 2000;
export const INTRUDER_IDENTITY = 2001;

/** The other node's pods in a selector cache: their labels as this node's repository would derive them. */
export function addRemoteIdentities(cache: SelectorCache): void {
  const labelsOf = (app: string) => new Repository().upsertEndpoint({ name: app, namespace: 'default', labels: { app }, ips: [], namedPorts: [] }).identityLabels;
  cache.addIdentity(REMOTE_CLIENT_IDENTITY, labelsOf('remote-client'));
  cache.addIdentity(INTRUDER_IDENTITY, labelsOf('intruder'));
}

/** ipcache entries of this node's gateways (host) and the remote node's client and intruder addresses. */
export function remoteIpcache(node: NodeNetwork, remote: RemoteNode): Array<[string, number]> {
  return [
    [`${node.gateway4}/32`, HOST_IDENTITY],
    [`${node.gateway6}/128`, HOST_IDENTITY],
    [`${remote.ipv4[0]}/32`, REMOTE_CLIENT_IDENTITY],
    [`${remote.ipv6[0]}/128`, REMOTE_CLIENT_IDENTITY],
    [`${remote.ipv4[1]}/32`, INTRUDER_IDENTITY],
    [`${remote.ipv6[1]}/128`, INTRUDER_IDENTITY],
  ];
}

/** curl in the remote node from `source`; status 0 when nothing answered within `maxTime` seconds. */
export async function curlFrom(remote: RemoteNode, source: string, args: string[], maxTime = 5): Promise<{ status: number; body: string }> {
  const r = await remote.exec('curl', ['-s', '-g', '--interface', source, '--max-time', String(maxTime), '-o', '-', '-w', '\n%{http_code}', ...args], (maxTime + 5) * 1000);
  const cut = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, cut), status: Number(r.stdout.slice(cut + 1)) };
}
