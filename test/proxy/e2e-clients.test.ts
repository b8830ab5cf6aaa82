// End to end through xDS with real clients: one snapshot of Envoy JSON — an HTTP/1.1 + h2c listener
// with an RBAC policy, a TLS listener terminating with an SDS certificate, an h2 listener in front of
// a grpc-js server — served by meshd's xDS server to BuiltinProxy, then exercised by curl (HTTP/1.1,
// h2c prior knowledge, HTTPS with the test CA), h2load (bounded h2c load) and @grpc/grpc-js (unary
// allowed, unary denied with PERMISSION_DENIED). Every child process is bounded by a timeout.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { SAY_HELLO_PATH, SECRET_PATH, decodeStringMessage, encodeStringMessage } from '../xds/greeter-messages.js';
import { startGreeterBackend } from '../xds/real-client-setup.js';
import { makeTestPki, type TestPki } from './pki.js';
import {
  ACCESS_DENIED,
  ProxyHarness,
  envoyMessages,
  eventually,
  findFreePort,
  httpListenerJson,
  request,
  routeJson,
  staticClusterJson,
  type RecordingUpstream,
} from './harness.js';

const run = promisify(execFile);
const CHILD_TIMEOUT_MS = 30_000;

interface Env {
  h: ProxyHarness;
  pki: TestPki;
  up: RecordingUpstream;
  plainPort: number;
  tlsPort: number;
  grpcPort: number;
  h2Port: number;
}

/** RBAC: GET/HEAD anywhere under /api/, and the greeter's SayHello only. */
const RBAC = {
  rules: {
    action: 'ALLOW',
    policies: {
      'api-read': {
        permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { safe_regex: { regex: 'GET|HEAD' } } } }, { url_path: { path: { prefix: '/api/' } } }] } }],
        principals: [{ any: true }],
      },
      'greeter-hello': { permissions: [{ url_path: { path: { exact: SAY_HELLO_PATH } } }], principals: [{ any: true }] },
    },
  },
};

async function startH2cUpstream(h: ProxyHarness): Promise<number> {
  const server: Http2Server = createH2Server();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-upstream': 'h2c' });
    stream.end(`h2c ${String(headers[':path'])}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  h.cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open sessions would keep close() waiting; the proxy's pool holds some.
        setTimeout(resolve, 1000).unref();
      }),
  );
  return (server.address() as AddressInfo).port;
}

describe('real clients through the xDS-configured proxy', () => {
  let env: Env | undefined;

  before(async () => {
    const h = await ProxyHarness.start();
    try {
      const pki = await makeTestPki(join(h.dir, 'pki'), { serverNames: ['localhost', 'app.meshd.test'] });
      const up = await h.upstream('up');
      const greeterPort = await startGreeterBackend(h.cleanup, 'greeter-1');
      const h2UpstreamPort = await startH2cUpstream(h);
      const [plainPort, tlsPort, grpcPort, h2Port] = [await findFreePort(), await findFreePort(), await findFreePort(), await findFreePort()];
      const tlsListener = httpListenerJson({ name: 'tls', port: tlsPort, routeName: 'app-route', rbac: RBAC }) as { filter_chains: Array<Record<string, unknown>> };
      tlsListener.filter_chains[0]!.transport_socket = {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
          common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'app-cert', sds_config: { ads: {}, resource_api_version: 'V3' } }], alpn_protocols: ['h2', 'http/1.1'] },
        },
      };
      h.setSnapshot(
        envoyMessages({
          listeners: [
            httpListenerJson({ name: 'plain', port: plainPort, routeName: 'app-route', rbac: RBAC }),
            tlsListener,
            httpListenerJson({ name: 'grpc', port: grpcPort, routeName: 'grpc-route', rbac: RBAC }),
            httpListenerJson({ name: 'h2', port: h2Port, routeName: 'h2-route', rbac: RBAC }),
          ],
          routes: [routeJson('app-route', 'app'), routeJson('grpc-route', 'greeter'), routeJson('h2-route', 'h2-upstream')],
          clusters: [
            staticClusterJson('app', [up.endpoint]),
            staticClusterJson('greeter', [{ host: '127.0.0.1', port: greeterPort }], { http2: true }),
            staticClusterJson('h2-upstream', [{ host: '127.0.0.1', port: h2UpstreamPort }], { http2: true }),
          ],
          secrets: [{ name: 'app-cert', tls_certificate: { certificate_chain: { inline_string: pki.server.cert }, private_key: { inline_string: pki.server.key } } }],
        }),
      );
      await h.startProxy();
      const ready = await eventually(() => request(`http://127.0.0.1:${plainPort}/api/ready`), (r) => r.status === 200, 10_000);
      assert.ok(!(ready instanceof Error) && ready.status === 200, `the proxy serves: ${ready instanceof Error ? ready.message : ready.status}`);
      env = { h, pki, up, plainPort, tlsPort, grpcPort, h2Port };
    } catch (err) {
      await h.close();
      throw err;
    }
  });

  after(async () => {
    await env?.h.close();
  });

  const curl = async (args: string[]): Promise<{ status: number; body: string; httpVersion: string }> => {
    const { stdout } = await run('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code} %{http_version}', ...args], { timeout: CHILD_TIMEOUT_MS });
    const cut = stdout.lastIndexOf('\n');
    const [status, httpVersion] = stdout.slice(cut + 1).split(' ');
    return { status: Number(status), body: stdout.slice(0, cut), httpVersion: httpVersion ?? '' };
  };

  test('curl over HTTP/1.1: an allowed GET reaches the upstream, a POST is answered 403 Access denied', async () => {
    const e = env!;
    const ok = await curl([`http://127.0.0.1:${e.plainPort}/api/items?x=1`]);
    assert.equal(ok.status, 200);
    assert.equal(ok.httpVersion, '1.1');
    assert.deepEqual(JSON.parse(ok.body), { upstream: 'up', path: '/api/items?x=1' });
    const before = e.up.seen.length;
    const denied = await curl(['-X', 'POST', '--data', 'x', `http://127.0.0.1:${e.plainPort}/api/items`]);
    assert.equal(denied.status, 403);
    assert.equal(denied.body, ACCESS_DENIED);
    assert.equal(e.up.seen.length, before, 'the denied request never reached the upstream');
  });

  test('curl with HTTP/2 prior knowledge: the same listener speaks h2c and forwards to the HTTP/1.1 upstream', async () => {
    const e = env!;
    const ok = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${e.plainPort}/api/h2c`]);
    assert.equal(ok.status, 200);
    assert.equal(ok.httpVersion, '2');
    assert.equal(JSON.parse(ok.body).path, '/api/h2c');
    const denied = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${e.plainPort}/private`]);
    assert.equal(denied.status, 403);
  });

  const tlsArgs = (e: Env) => ['--cacert', e.pki.ca.certPath, '--resolve', `app.meshd.test:${e.tlsPort}:127.0.0.1`];

  test('curl over HTTPS (HTTP/1.1) with the test CA: TLS terminated with the SDS certificate, RBAC applied inside', async () => {
    const e = env!;
    const ok = await curl([...tlsArgs(e), '--http1.1', `https://app.meshd.test:${e.tlsPort}/api/tls`]);
    assert.equal(ok.status, 200);
    assert.equal(ok.httpVersion, '1.1');
    assert.equal(JSON.parse(ok.body).path, '/api/tls');
    const denied = await curl([...tlsArgs(e), '--http1.1', `https://app.meshd.test:${e.tlsPort}/admin`]);
    assert.equal(denied.status, 403);
    assert.equal(denied.body, ACCESS_DENIED);
  });

  test('curl over HTTPS offering ALPN h2: the handshake selects h2 and the HTTP/2 codec serves the request', async () => {
    const e = env!;
    const h2 = await curl([...tlsArgs(e), '--http2', `https://app.meshd.test:${e.tlsPort}/api/tls-h2`]);
    assert.equal(h2.status, 200);
    assert.equal(h2.httpVersion, '2', 'ALPN h2 selects the HTTP/2 codec');
    const denied = await curl([...tlsArgs(e), '--http2', `https://app.meshd.test:${e.tlsPort}/admin`]);
    assert.equal(denied.status, 403);
  });

  test('h2load: 2000 h2c requests over 4 connections × 25 streams all succeed through the proxy', async () => {
    const e = env!;
    const { stdout } = await run('h2load', ['-n', '2000', '-c', '4', '-m', '25', '-t', '1', `http://127.0.0.1:${e.h2Port}/api/load`], { timeout: CHILD_TIMEOUT_MS });
    const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
    assert.ok(m, `h2load output:\n${stdout}`);
    assert.equal(Number(m[4]), 2000, `all succeeded:\n${stdout}`);
    assert.match(stdout, /status codes: 2000 2xx/);
  });

  test('grpc-js: SayHello is allowed, Secret is denied with PERMISSION_DENIED (grpc-status 7)', async () => {
    const e = env!;
    const client = new grpc.Client(`127.0.0.1:${e.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const call = (path: string, name: string) =>
        new Promise<{ err: grpc.ServiceError | null; reply?: string }>((resolve) => {
          client.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            encodeStringMessage(name),
            new grpc.Metadata(),
            { deadline: Date.now() + 5000 },
            (err, value) => resolve({ err, ...(value ? { reply: decodeStringMessage(value) } : {}) }),
          );
        });
      const hello = await call(SAY_HELLO_PATH, 'leia');
      assert.equal(hello.err, null, `SayHello: ${hello.err?.message}`);
      assert.equal(hello.reply, 'SayHello leia from greeter-1');
      const secret = await call(SECRET_PATH, 'vader');
      assert.equal(secret.err?.code, grpc.status.PERMISSION_DENIED, `Secret: ${secret.err?.code} ${secret.err?.message}`);
    } finally {
      client.close();
    }
  });
});
