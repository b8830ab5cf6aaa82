// The listener layer on configuration a user would give Envoy: Envoy JSON → messageFromJson → the
// config store (C1's compilers, C2's store) → ListenerManager. tls_inspector with SNI chains, SDS
// certificates and their rotation, network RBAC, tcp_proxy to a STATIC cluster and to an EDS cluster
// that originates TLS with an SDS validation context.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { connect, type AddressInfo } from 'node:net';
import type { DescMessage } from '@bufbuild/protobuf';
import { envoy, messageFromJson } from '../../xds/index.js';
import { ConfigStore, defaultCompilers, type ResourceKind } from '../config-store/index.js';
import { ListenerManager, createCoarseClock } from './index.js';
import { ViewClusterManager } from '../upstream/index.js';
import { makeTestPki, type TestPki } from '../../test/proxy/pki.js';
import { nextFlow, startTcpServer } from '../../test/proxy/listener-fixtures.js';

const T = 'type.googleapis.com/';
const clock = createCoarseClock(20);
const SCHEMAS: Record<ResourceKind, DescMessage> = {
  listener: envoy.ListenerSchema,
  route: envoy.RouteConfigurationSchema,
  cluster: envoy.ClusterSchema,
  endpoints: envoy.ClusterLoadAssignmentSchema,
  secret: envoy.SecretSchema,
};

function apply(store: ConfigStore, kind: ResourceKind, resources: Array<Record<string, unknown>>, removed: string[] = []): void {
  const upserts = resources.map((json) => {
    const message = messageFromJson(SCHEMAS[kind], json);
    const name = kind === 'endpoints' ? (json.cluster_name as string) : (json.name as string);
    return { name, version: '1', message };
  });
  const result = store.apply(kind, upserts, removed);
  assert.deepEqual(result.problems, [], `${kind} accepted`);
}

const sds = (name: string) => ({ name, sds_config: { ads: {}, resource_api_version: 'V3' } });

function certificateSecret(name: string, pair: { cert: string; key: string }) {
  return { name, tls_certificate: { certificate_chain: { inline_string: pair.cert }, private_key: { inline_string: pair.key } } };
}

function reply(socket: TLSSocket | ReturnType<typeof connect>): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.once('end', () => resolve(text));
    socket.once('close', () => resolve(text));
    socket.once('error', reject);
  });
}

describe('listeners from Envoy configuration', { timeout: 30_000 }, () => {
  let dir: string;
  let pki: TestPki;
  let store: ConfigStore;
  let manager: ListenerManager;
  let tlsBackend: TlsServer;
  let plainBackend: Awaited<ReturnType<typeof startTcpServer>>;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-envoy-listener-'));
    pki = await makeTestPki(dir, { serverNames: ['backend.internal'] });
    const front = await pki.issue('front.example.com', { dnsNames: ['front.example.com'] });
    tlsBackend = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (s) => {
      s.on('error', () => {});
      s.end(`tls backend saw SNI ${(s as TLSSocket & { servername?: string }).servername}`);
    });
    tlsBackend.listen(0, '127.0.0.1');
    await once(tlsBackend, 'listening');
    plainBackend = await startTcpServer((s) => s.end('plain backend'));

    store = new ConfigStore(defaultCompilers);
    apply(store, 'secret', [certificateSecret('front-cert', front), { name: 'upstream-ca', validation_context: { trusted_ca: { inline_string: pki.ca.cert } } }]);
    apply(store, 'cluster', [
      {
        name: 'plain',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'plain', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: plainBackend.port } } } }] }] },
      },
      {
        name: 'tls-backend',
        type: 'EDS',
        connect_timeout: '1s',
        eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
            sni: 'backend.internal',
            common_tls_context: { validation_context_sds_secret_config: sds('upstream-ca') },
          },
        },
      },
    ]);
    apply(store, 'endpoints', [
      {
        cluster_name: 'tls-backend',
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: (tlsBackend.address() as AddressInfo).port } } } }] }],
      },
    ]);
    apply(store, 'listener', [
      {
        name: 'front',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } }],
        filter_chains: [
          {
            name: 'sni-front',
            filter_chain_match: { server_names: ['front.example.com'] },
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type': `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
                common_tls_context: { tls_certificate_sds_secret_configs: [sds('front-cert')] },
              },
            },
            filters: [
              {
                name: 'envoy.filters.network.rbac',
                typed_config: {
                  '@type': `${T}envoy.extensions.filters.network.rbac.v3.RBAC`,
                  stat_prefix: 'front',
                  rules: { action: 'ALLOW', policies: { loopback: { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: 8 } }] } } },
                },
              },
              { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'front', cluster: 'tls-backend' } },
            ],
          },
          {
            name: 'plaintext',
            filter_chain_match: { transport_protocol: 'raw_buffer' },
            filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'plain', cluster: 'plain' } }],
          },
        ],
      },
    ]);
    const refuse = (): void => assert.fail('no HTTP chain here');
    manager = new ListenerManager(store, { clusters: new ViewClusterManager(store, { clock }), http1: refuse, http2: refuse, clock, drainTimeoutMs: 300 });
    await manager.start();
    port = manager.addressOf('front')!.port;
  });

  after(async () => {
    await manager?.close();
    await plainBackend?.close();
    await new Promise<void>((resolve) => (tlsBackend ? tlsBackend.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a TLS client with a listed SNI is terminated with the SDS certificate and proxied to the EDS cluster over verified TLS', async () => {
    const flow = nextFlow((r) => r.listener === 'front' && r.filterChain === 'sni-front');
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'front.example.com', ca: pki.ca.cert });
    await once(socket, 'secureConnect');
    assert.equal(socket.getPeerCertificate().subject.CN, 'front.example.com');
    assert.equal(await reply(socket), 'tls backend saw SNI backend.internal');
    const record = await flow;
    assert.equal(record.verdict, 'FORWARDED');
    assert.equal(record.type === 'tcp' ? record.upstream?.cluster : '', 'tls-backend');
  });

  test('a plaintext client gets the raw_buffer chain and the STATIC cluster', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.end('hi');
    assert.equal(await reply(socket), 'plain backend');
  });

  test('an SNI outside server_names is refused', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'other.example.com', ca: pki.ca.cert });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('handshake completed'));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    socket.destroy();
    assert.notEqual(outcome, 'handshake completed');
  });

  test('an SDS update of the certificate serves the next handshake without a restart', async () => {
    const rotated = await pki.issue('front-rotated', { dnsNames: ['front.example.com'] });
    apply(store, 'secret', [certificateSecret('front-cert', rotated)]);
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'front.example.com', ca: pki.ca.cert });
    await once(socket, 'secureConnect');
    assert.equal(socket.getPeerCertificate().subject.CN, 'front-rotated');
    socket.destroy();
  });

  test('removing the listener over LDS stops accepting', async () => {
    apply(store, 'listener', [], ['front']);
    await manager.settled();
    const socket = connect(port, '127.0.0.1');
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });
});
