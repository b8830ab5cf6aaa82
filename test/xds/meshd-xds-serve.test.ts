// `meshd xds serve` as users run it: the binary in a child process. Start-up refusals and exit
// statuses, a UNIX socket served to a real client, and a clean stop on SIGTERM. (The TCP path, file
// reloads and RBAC are covered with both real clients by the *-client.test.ts suites.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineChild, pollUntil } from './child-process-harness.js';
import { grpcSnapshotYaml } from './grpc-snapshot-builder.js';
import { Cleanup, GRPC_JS_XDS_CHILD, MESHD_BIN, callGreeter, makeTempDir, startGreeterBackend } from './real-client-setup.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

function startServe(args: string[]): LineChild {
  const child = new LineChild('meshd xds serve', process.execPath, [MESHD_BIN, 'xds', 'serve', ...args]);
  cleanup.add(() => child.stop());
  return child;
}

test('a snapshot file that does not load stops meshd xds serve at start with exit 1, file:line:col and the field path', async () => {
  const dir = await makeTempDir(cleanup, 'meshd-xds-serve-');
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'clusters:\n  - name: a\n    type: STATIC\n    connect_timeout: soon\n  - name: b\n    tipe: EDS\n');
  const serve = startServe(['--snapshot', file, '--listen', '127.0.0.1:1']);
  const { code } = await serve.waitForExit(15_000);
  assert.equal(code, 1, serve.diagnostics());
  assert.match(serve.stderr, new RegExp(`${file}:2:5  MESHD_ERR_XDS_INVALID_VALUE  clusters\\[0\\]`));
  assert.match(serve.stderr, new RegExp(`${file}:6:5  MESHD_ERR_XDS_UNKNOWN_FIELD  clusters\\[1\\]\\.tipe`));
  assert.equal(serve.stdout, '', 'nothing is served, nothing printed on stdout');
});

test('--listen and --socket together are a usage error (exit 2)', async () => {
  const serve = startServe(['--snapshot', '/dev/null', '--listen', '127.0.0.1:18000', '--socket', '/tmp/x.sock']);
  const { code } = await serve.waitForExit(15_000);
  assert.equal(code, 2);
  assert.match(serve.stderr, /MESHD_ERR_USAGE  give --listen or --socket, not both/);
});

test('a malformed --listen address is a usage error (exit 2)', async () => {
  const serve = startServe(['--snapshot', '/dev/null', '--listen', 'localhost']);
  const { code } = await serve.waitForExit(15_000);
  assert.equal(code, 2);
  assert.match(serve.stderr, /MESHD_ERR_USAGE  --listen must be HOST:PORT/);
});

test('meshd xds serve on a UNIX socket serves a grpc-js-xds client, then stops cleanly on SIGTERM', async () => {
  const dir = await makeTempDir(cleanup, 'meshd-xds-serve-');
  const backend = await startGreeterBackend(cleanup, 'backend-unix');
  const snapshot = join(dir, 'snapshot.yaml');
  await writeFile(snapshot, grpcSnapshotYaml({ serviceName: 'greeter.local', backendPorts: [backend], version: 'unix-1' }));
  const socket = join(dir, 'xds.sock');
  const serve = startServe(['--snapshot', snapshot, '--socket', socket]);
  await serve.waitForText(`on unix:${socket}`, 15_000);
  assert.match(serve.stdout, /serving listeners 1, routes 1, clusters 1, endpoints 1 \(version unix-1\) from .* to every node/);

  const bootstrap = join(dir, 'bootstrap.json');
  await writeFile(bootstrap, JSON.stringify({ xds_servers: [{ server_uri: `unix:${socket}`, channel_creds: [{ type: 'insecure' }] }], node: { id: 'unix-node', locality: {} } }));
  const client = new LineChild('grpc-js-xds client', process.execPath, [GRPC_JS_XDS_CHILD, 'client'], { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap });
  cleanup.add(() => client.stop());
  await client.waitForLine((l) => l['event'] === 'ready', 15_000, 'ready');
  const { result, isDone } = await pollUntil(() => callGreeter(client, 'xds:///greeter.local', 'SayHello', 'unix'), (r) => r.ok, 30_000, 200);
  assert.ok(isDone, `${JSON.stringify(result)}\n${client.diagnostics()}\n${serve.diagnostics()}`);
  assert.equal(result.reply, 'SayHello unix from backend-unix');

  await client.stop();
  process.kill(serve.pid!, 'SIGTERM');
  const { code } = await serve.waitForExit(15_000);
  assert.equal(code, 0, serve.diagnostics());
  assert.match(serve.stdout, /meshd xds serve: stopped \(SIGTERM\)/);
});
