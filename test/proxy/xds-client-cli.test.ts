// `meshd xds serve` + `meshd proxy`, both as users run them (the binary, child processes), with curl
// as the client: RBAC allow and deny, a snapshot change applied without restart, an unsupported
// field NACKed while the previous config keeps serving, /ready and /config_dump, and a clean stop.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LineChild } from '../xds/child-process-harness.js';
import { Cleanup, MESHD_BIN, makeTempDir, replaceFile, startMeshdServe } from '../xds/real-client-setup.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

function snapshotYaml(opts: { upstreamPort: number; allowPrefixes: string[]; version: string; hcmExtra?: string }): string {
  const policies = opts.allowPrefixes
    .map(
      (prefix, i) => `
                        allow-${i}:
                          permissions:
                            - and_rules:
                                rules:
                                  - header: { name: ":method", string_match: { exact: GET } }
                                  - url_path: { path: { prefix: "${prefix}" } }
                          principals: [{ any: true }]`,
    )
    .join('');
  return `version: ${opts.version}
listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
      - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: ingress
${opts.hcmExtra ?? ''}              rds: { route_config_name: ingress-routes, config_source: { ads: {} } }
              http_filters:
                - name: envoy.filters.http.rbac
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
                    rules:
                      action: ALLOW
                      policies:${policies}
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
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${opts.upstreamPort} } } } }] }]
`;
}

function curl(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', url], (err, stdout) => {
      if (err && !stdout) return reject(err);
      const cut = stdout.lastIndexOf('\n');
      resolve({ body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) });
    });
  });
}

async function pollUntil(probe: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('meshd proxy as a command', () => {
  test('configured by meshd xds serve, it enforces HTTP RBAC for curl, follows snapshot changes, keeps serving through a NACK, and stops on SIGTERM', { timeout: 90_000 }, async () => {
    const upstream = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`upstream saw ${req.method} ${req.url}`);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    cleanup.add(() => new Promise((r) => upstream.close(() => r())));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    const dir = await makeTempDir(cleanup, 'meshd-proxy-cli-');
    const file = join(dir, 'snapshot.yaml');
    await writeFile(file, snapshotYaml({ upstreamPort, allowPrefixes: ['/public'], version: 'v1' }));
    const serve = await startMeshdServe(cleanup, file);

    const proxy = new LineChild('meshd proxy', process.execPath, [MESHD_BIN, 'proxy', '--xds', `127.0.0.1:${serve.port}`, '--node-id', 'cli-node', '--admin', '127.0.0.1:0', '--drain-timeout', '1']);
    cleanup.add(() => proxy.stop());
    await proxy.waitForText(/meshd proxy: node cli-node ready from .*; admin /, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${proxy.diagnostics()}\n${serve.child.diagnostics()}`);
    });
    const line = proxy.stdout;
    const listenerPort = Number(/listeners ingress=127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    const admin = /admin (\S+)/.exec(line)?.[1];
    assert.ok(listenerPort > 0, line);
    assert.ok(admin, line);
    const base = `http://127.0.0.1:${listenerPort}`;

    assert.deepEqual(await curl(`${base}/public/a`), { status: 200, body: 'upstream saw GET /public/a' });
    const denied = await curl(`${base}/admin`);
    assert.equal(denied.status, 403);
    // Envoy's own body for an RBAC denial without a local_reply_config (meshd's translation maps it to `Access denied`).
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal((await curl(`http://${admin}/ready`)).status, 200);

    // An unsupported field: NACKed; the running config keeps serving exactly as before.
    await replaceFile(file, snapshotYaml({ upstreamPort, allowPrefixes: ['/public', '/admin'], version: 'v2', hcmExtra: '              tracing: {}\n' }));
    await pollUntil(async () => (JSON.parse((await curl(`http://${admin}/config_dump`)).body) as { xds: { last_nack: unknown } }).xds.last_nack !== null, 'the proxy NACKed v2');
    const dump = JSON.parse((await curl(`http://${admin}/config_dump`)).body) as { xds: { last_nack: { version: string; detail: string } } };
    assert.equal(dump.xds.last_nack.version, 'v2');
    assert.match(dump.xds.last_nack.detail, /listener "ingress": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing: /);
    assert.equal((await curl(`${base}/admin`)).status, 403, 'v1 still in force');
    assert.equal((await curl(`${base}/public/b`)).status, 200);
    assert.match(proxy.stderr, /NACK; the refused resources keep their previous version/);

    // A valid change applies to the running proxy, on the same listener port.
    await replaceFile(file, snapshotYaml({ upstreamPort, allowPrefixes: ['/public', '/admin'], version: 'v3' }));
    await pollUntil(async () => (await curl(`${base}/admin`)).status === 200, '/admin is allowed by v3');
    assert.deepEqual(await curl(`${base}/admin/x`), { status: 200, body: 'upstream saw GET /admin/x' });

    await proxy.stop();
    assert.match(proxy.stdout, /meshd proxy: stopped \(SIGTERM\)/);
    assert.equal(proxy.exitStatus?.code, 0, proxy.diagnostics());
  });

  test('without a configuration for its node it exits 1 after --ready-timeout with MESHD_ERR_PROXY_NOT_READY', { timeout: 30_000 }, async () => {
    const dir = await makeTempDir(cleanup, 'meshd-proxy-cli-');
    const file = join(dir, 'snapshot.yaml');
    await writeFile(file, snapshotYaml({ upstreamPort: 9, allowPrefixes: ['/'], version: 'v1' }));
    const serve = await startMeshdServe(cleanup, file, ['--node', 'someone-else']);
    const proxy = new LineChild('meshd proxy', process.execPath, [MESHD_BIN, 'proxy', '--xds', `127.0.0.1:${serve.port}`, '--node-id', 'lonely', '--ready-timeout', '1']);
    cleanup.add(() => proxy.stop());
    const { code } = await proxy.waitForExit(15_000);
    assert.equal(code, 1, proxy.diagnostics());
    assert.match(proxy.stderr, /MESHD_ERR_PROXY_NOT_READY  no complete configuration from 127\.0\.0\.1:\d+ within 1000 ms: waiting for clusters \(\*\); listeners \(\*\)/);
  });

  test('a malformed --xds or --admin address is a usage error (exit 2) before anything connects or listens', { timeout: 30_000 }, async () => {
    for (const [args, message] of [
      [['--xds', 'localhost', '--node-id', 'n'], /MESHD_ERR_USAGE  --xds must be HOST:PORT, \[IPV6\]:PORT or unix:\/PATH \(got 'localhost'\)/],
      [['--xds', 'xds host:18000', '--node-id', 'n'], /MESHD_ERR_USAGE  --xds must be HOST:PORT/],
      [['--xds', '127.0.0.1:1', '--node-id', 'n', '--admin', '9901'], /MESHD_ERR_USAGE  --admin must be HOST:PORT \(got '9901'\)/],
    ] as const) {
      const proxy = new LineChild('meshd proxy', process.execPath, [MESHD_BIN, 'proxy', ...args]);
      cleanup.add(() => proxy.stop());
      const { code } = await proxy.waitForExit(15_000);
      assert.equal(code, 2, proxy.diagnostics());
      assert.match(proxy.stderr, message);
    }
  });

  test('--transparent without the datapath pinned exits 1 with MESHD_ERR_PROXY_TRANSPARENT naming the map', { timeout: 30_000 }, async () => {
    const dir = await makeTempDir(cleanup, 'meshd-proxy-cli-');
    const proxy = new LineChild('meshd proxy', process.execPath, [MESHD_BIN, 'proxy', '--xds', '127.0.0.1:1', '--node-id', 'n', '--transparent', '--pin-root', join(dir, 'no-bpffs')]);
    cleanup.add(() => proxy.stop());
    const { code } = await proxy.waitForExit(15_000);
    assert.equal(code, 1, proxy.diagnostics());
    assert.match(proxy.stderr, /MESHD_ERR_PROXY_TRANSPARENT  cannot open the pinned datapath map .*no-bpffs\/meshd_ipcache_v1: it is not pinned there \(MESHD_ERR_DATAPATH_NOT_LOADED\)/);
    assert.match(proxy.stderr, /hint: the agent loads and pins the datapath: start it first, or pass the pin root it uses/);
  });
});
