// The real-client scenario, run once per independent xDS client implementation (grpc-js-xds, gRPC
// C-core through Python): through `meshd xds serve` on a snapshot file,
//   1. the client resolves xds:///greeter.local and reaches the backend the ClusterLoadAssignment names;
//   2. the file changes to a second backend and later calls reach it (the push is followed);
//   3. an invalid change is refused (field path on meshd's stderr) and the clients keep working;
//   4. an xDS-enabled server of the same implementation enforces the RBAC policy meshd serves:
//      the allowed method works, the denied one gets PERMISSION_DENIED.
// Every wait is bounded; every process and file is removed in after(), also when a step fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findFreePort, pollUntil, type LineChild } from './child-process-harness.js';
import { SECRET_PATH } from './greeter-messages.js';
import { grpcSnapshotDocument, grpcSnapshotYaml, type GrpcSnapshotOptions } from './grpc-snapshot-builder.js';
import { Cleanup, callGreeter, makeTempDir, replaceFile, startGreeterBackend, startMeshdServe, writeBootstrap, type CallReply, type MeshdServe } from './real-client-setup.js';

export interface RealClientSpec {
  /** Names the implementation in test names, e.g. '@grpc/grpc-js-xds'. */
  implementation: string;
  /** The snapshot file's format; the two suites use one each, so both layouts are served for real. */
  snapshotFormat: 'json' | 'yaml';
  /** Serve with --node ID (the clients' bootstraps then carry that id); undefined serves every node. */
  nodeId: string | undefined;
  /** Checks the implementation is installed; throws naming what is missing (never skips). */
  checkInstalled(): Promise<void>;
  startClient(cleanup: Cleanup, bootstrapFile: string): Promise<LineChild>;
  /** An xDS-enabled greeter on 127.0.0.1:port; resolves once it reported it has started. */
  startXdsServer(cleanup: Cleanup, bootstrapFile: string, port: number, name: string): Promise<LineChild>;
}

const SERVICE = 'greeter.local';
const TARGET = `xds:///${SERVICE}`;
/** First resolution includes LDS → RDS → CDS → EDS and process warm-up (research: 80–240 ms, more under load). */
const FIRST_CALL_TIMEOUT_MS = 30_000;
const UPDATE_TIMEOUT_MS = 20_000;

export function describeRealClient(spec: RealClientSpec): void {
  describe(`${spec.implementation} as a real xDS client of meshd xds serve`, { timeout: 180_000 }, () => {
    const cleanup = new Cleanup();
    let snapshotFile = '';
    let serve: MeshdServe;
    let client: LineChild;
    let xdsServer: LineChild;
    let xdsServerPort = 0;
    const backends: Record<'a' | 'b', number> = { a: 0, b: 0 };
    let snapshotOpts: GrpcSnapshotOptions;

    const render = (opts: GrpcSnapshotOptions) => (spec.snapshotFormat === 'yaml' ? grpcSnapshotYaml(opts) : JSON.stringify(grpcSnapshotDocument(opts), null, 2));
    const failWith = (what: string, last: CallReply) => `${what}; last call: ${JSON.stringify(last)}\n${client.diagnostics()}\n${serve.child.diagnostics()}`;

    before(async () => {
      await spec.checkInstalled();
      const dir = await makeTempDir(cleanup, 'meshd-xds-clients-');
      backends.a = await startGreeterBackend(cleanup, 'backend-a');
      backends.b = await startGreeterBackend(cleanup, 'backend-b');
      xdsServerPort = await findFreePort();
      snapshotOpts = { serviceName: SERVICE, backendPorts: [backends.a], serverPorts: [xdsServerPort], deniedPaths: [SECRET_PATH] };
      snapshotFile = join(dir, `snapshot.${spec.snapshotFormat}`);
      await replaceFile(snapshotFile, render(snapshotOpts));
      serve = await startMeshdServe(cleanup, snapshotFile, spec.nodeId !== undefined ? ['--node', spec.nodeId] : []);
      const bootstrap = await writeBootstrap(dir, 'bootstrap.json', serve.port, spec.nodeId ?? `${spec.implementation}-node`);
      client = await spec.startClient(cleanup, bootstrap);
      xdsServer = await spec.startXdsServer(cleanup, bootstrap, xdsServerPort, 'xds-server');
    });

    after(async () => {
      await cleanup.run();
    });

    test(`${spec.implementation} resolves ${TARGET} through meshd and reaches the backend the endpoints name`, async () => {
      const { result, isDone } = await pollUntil(() => callGreeter(client, TARGET, 'SayHello', 'first'), (r) => r.ok, FIRST_CALL_TIMEOUT_MS, 200);
      assert.ok(isDone, failWith(`no successful call through ${TARGET} within ${FIRST_CALL_TIMEOUT_MS} ms`, result));
      assert.equal(result.reply, 'SayHello first from backend-a');
    });

    test(`${spec.implementation} follows an endpoint change in the snapshot file to the second backend`, async () => {
      await replaceFile(snapshotFile, render({ ...snapshotOpts, backendPorts: [backends.b] }));
      const { result, isDone } = await pollUntil(() => callGreeter(client, TARGET, 'SayHello', 'moved'), (r) => r.ok && r.reply === 'SayHello moved from backend-b', UPDATE_TIMEOUT_MS, 100);
      assert.ok(isDone, failWith(`calls did not move to backend-b within ${UPDATE_TIMEOUT_MS} ms`, result));
      for (let i = 0; i < 5; i++) assert.equal((await callGreeter(client, TARGET, 'SayHello', 'again')).reply, 'SayHello again from backend-b');
    });

    test(`an invalid snapshot file is refused with its field path and ${spec.implementation} keeps the previous endpoints`, async () => {
      const broken = render({ ...snapshotOpts, backendPorts: [backends.a] }).replace(/port_value(["']?):/, 'port_valu$1:');
      await replaceFile(snapshotFile, broken);
      await serve.child.waitForText(/snapshot file rejected/, 10_000);
      assert.match(serve.child.stderr, /MESHD_ERR_XDS_UNKNOWN_FIELD +(listeners|resources)\[\d+\]\S*\.port_valu\b/);
      for (let i = 0; i < 3; i++) assert.equal((await callGreeter(client, TARGET, 'SayHello', 'kept')).reply, 'SayHello kept from backend-b');
      await replaceFile(snapshotFile, render({ ...snapshotOpts, backendPorts: [backends.b] }));
    });

    test(`an xDS-enabled ${spec.implementation} server enforces the RBAC policy meshd serves`, async () => {
      const direct = `127.0.0.1:${xdsServerPort}`;
      // The server serves once its Listener arrived from meshd; until then calls fail UNAVAILABLE.
      const allowed = await pollUntil(() => callGreeter(client, direct, 'SayHello', 'rbac'), (r) => r.ok, FIRST_CALL_TIMEOUT_MS, 200);
      assert.ok(allowed.isDone, failWith('the allowed method never succeeded on the xDS-enabled server', allowed.result) + `\n${xdsServer.diagnostics()}`);
      assert.equal(allowed.result.reply, 'SayHello rbac from xds-server');
      const denied = await callGreeter(client, direct, 'Secret', 'rbac');
      assert.equal(denied.ok, false, `Secret was allowed: ${JSON.stringify(denied)}`);
      assert.equal(denied.code, 'PERMISSION_DENIED', JSON.stringify(denied));
    });
  });
}
