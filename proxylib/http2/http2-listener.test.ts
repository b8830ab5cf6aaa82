// The HTTP/2 handler behind the real listener layer and the real config path: Envoy JSON → proxylib/
// config compile → ConfigStore → ListenerManager (codec auto: the h2c preface picks this handler) →
// decideRequest → upstream session pool, with real gRPC and curl clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileCluster, compileListener, compileLoadAssignment, compileRouteConfiguration, compileSecret } from '../config/index.js';
import { ConfigStore } from '../config-store/index.js';
import { handleHttp1Connection } from '../http1/index.js';
import { ListenerManager } from '../listener/index.js';
import { ViewClusterManager } from '../upstream/index.js';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { testClock } from '../../test/proxy/http2-harness.js';

const run = promisify(execFile);
const T = 'type.googleapis.com/';

const bytes = (b: Buffer): Buffer => b;
function method(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return { path, requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes };
}
const service = { say: method('/demo.Greeter/Say'), admin: method('/demo.Admin/Reset') } satisfies grpc.ServiceDefinition;
type DemoClient = grpc.Client & Record<'say' | 'admin', (req: Buffer, cb: (err: grpc.ServiceError | null, r?: Buffer) => void) => grpc.ClientUnaryCall>;
const DemoClient = grpc.makeGenericClientConstructor(service, 'Demo') as unknown as new (address: string, creds: grpc.ChannelCredentials) => DemoClient;

function call(client: DemoClient, name: 'say' | 'admin', req: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${name}`)), 5_000);
    client[name](Buffer.from(req), (err, r) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve((r as Buffer).toString());
    });
  });
}

function listenerJson(port: number): unknown {
  return {
    name: 'grpc_ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: 'grpc_ingress',
              codec_type: 'AUTO',
              route_config: {
                name: 'grpc_routes',
                virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'greeter', timeout: '0s' } }] }],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.rbac',
                  typed_config: {
                    '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`,
                    rules: {
                      action: 'ALLOW',
                      policies: {
                        'greeter-only': {
                          permissions: [{ url_path: { path: { prefix: '/demo.Greeter/' } } }],
                          principals: [{ any: true }],
                        },
                      },
                    },
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
              ],
            },
          },
        ],
      },
    ],
  };
}

function clusterJson(port: number): unknown {
  return {
    name: 'greeter',
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: 'greeter',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
}

describe('HTTP/2 behind the listener manager, configured from Envoy JSON', () => {
  let server: grpc.Server;
  let store: ConfigStore;
  let manager: ListenerManager;
  let handler: Http2ConnectionHandler;
  let address: string;
  let calls = 0;

  before(async () => {
    server = new grpc.Server();
    server.addService(service, {
      say: (c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        calls++;
        cb(null, Buffer.from(`hello ${c.request.toString()}`));
      },
      admin: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        calls++;
        cb(null, Buffer.from('reset done'));
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    store = new ConfigStore({
      listener: compileListener,
      route: compileRouteConfiguration,
      cluster: compileCluster,
      endpoints: compileLoadAssignment,
      secret: compileSecret,
    });
    const clusterResult = store.apply('cluster', [{ name: 'greeter', version: '1', message: messageFromJson(envoy.ClusterSchema, clusterJson(grpcPort)) }]);
    assert.deepEqual(clusterResult.problems, []);
    const listenerResult = store.apply('listener', [{ name: 'grpc_ingress', version: '1', message: messageFromJson(envoy.ListenerSchema, listenerJson(0)) }]);
    assert.deepEqual(listenerResult.problems, []);
    handler = createHttp2ConnectionHandler();
    manager = new ListenerManager(store, {
      clusters: new ViewClusterManager(store, { clock: testClock }),
      http1: handleHttp1Connection,
      http2: handler,
      clock: testClock,
      drainTimeoutMs: 2_000,
    });
    await manager.start();
    const bound = manager.addressOf('grpc_ingress');
    assert.ok(bound, `listener not bound: ${JSON.stringify(manager.bindFailures())}`);
    address = `127.0.0.1:${bound.port}`;
  });

  after(async () => {
    await manager.drain();
    handler.pool.destroy();
    server.forceShutdown();
  });

  test('a gRPC call the RBAC policy allows is answered by the server through the listener', async () => {
    const client = new DemoClient(address, grpc.credentials.createInsecure());
    try {
      assert.equal(await call(client, 'say', 'mesh'), 'hello mesh');
    } finally {
      client.close();
    }
  });

  test('a gRPC call outside the ALLOW policy fails with PERMISSION_DENIED and never reaches the server', async () => {
    const client = new DemoClient(address, grpc.credentials.createInsecure());
    const before = calls;
    try {
      await assert.rejects(call(client, 'admin', 'x'), (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED);
      assert.equal(calls, before);
    } finally {
      client.close();
    }
  });

  test('curl with HTTP/2 prior knowledge and curl with HTTP/1.1 on the same port both get the RBAC denial (codec auto)', async () => {
    const h2 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `http://${address}/demo.Admin/Reset`], { timeout: 10_000 });
    assert.equal(h2.stdout, '403 2');
    const h1 = await run('curl', ['-sS', '--http1.1', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `http://${address}/demo.Admin/Reset`], { timeout: 10_000 });
    assert.equal(h1.stdout, '403 1.1');
  });
});
