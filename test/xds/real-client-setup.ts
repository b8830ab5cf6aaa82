// Shared set-up of the real-client suites: a temp dir, `meshd xds serve` as a child process on a
// snapshot file there, gRPC bootstraps pointing at it, and plain greeter backends (grpc-js, in the
// test process) that say who they are. Everything started is registered in a Cleanup, which ends it
// (children by pid, servers, the temp dir) even when the set-up fails half-way.
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineChild, findFreePort } from './child-process-harness.js';
import { GREETER_SERVICE, decodeStringMessage, encodeStringMessage } from './greeter-messages.js';
import { SERVER_LISTENER_TEMPLATE } from './grpc-snapshot-builder.js';

/** Compiled to dist/test/xds/: the repository root is three levels up. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MESHD_BIN = join(REPO_ROOT, 'bin/meshd.js');
export const PYTHON_DIR = join(REPO_ROOT, 'test/xds/python');
export const GRPC_JS_XDS_CHILD = fileURLToPath(new URL('./grpc-js-xds-child.js', import.meta.url));
/** Debian's interpreter, which has python3-grpcio (C-core); the pyenv one on PATH does not. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export class Cleanup {
  private readonly steps: Array<() => Promise<void>> = [];
  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }
  /** Runs every step, last added first; a failing step does not stop the others. */
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch {
        // keep cleaning
      }
    }
    this.steps.length = 0;
  }
}

export async function makeTempDir(cleanup: Cleanup, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces the file the way editors do (write aside, rename over), so the watcher sees one change. */
export async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

export interface MeshdServe {
  child: LineChild;
  port: number;
}

/** `node bin/meshd.js xds serve`, ready once it printed where it serves. */
export async function startMeshdServe(cleanup: Cleanup, snapshotFile: string, extraArgs: string[] = []): Promise<MeshdServe> {
  const port = await findFreePort();
  const child = new LineChild('meshd xds serve', process.execPath, [MESHD_BIN, 'xds', 'serve', '--snapshot', snapshotFile, '--listen', `127.0.0.1:${port}`, ...extraArgs]);
  cleanup.add(() => child.stop());
  await child.waitForText(`on 127.0.0.1:${port}`, 15_000);
  return { child, port };
}

/** A gRFC A27 bootstrap for one node, with the A36 server listener template. */
export async function writeBootstrap(dir: string, name: string, xdsPort: number, nodeId: string): Promise<string> {
  const file = join(dir, name);
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality: {} },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
  };
  await writeFile(file, JSON.stringify(bootstrap, null, 2));
  return file;
}

/** A plain (not xDS) grpc-js greeter on 127.0.0.1:port whose replies name `backendName`. */
export async function startGreeterBackend(cleanup: Cleanup, backendName: string): Promise<number> {
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  const methods = ['SayHello', 'Secret'];
  server.addService(
    Object.fromEntries(methods.map((m) => [m, { path: `/${GREETER_SERVICE}/${m}`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity }])) as grpc.ServiceDefinition,
    Object.fromEntries(methods.map((m) => [m, ((call, callback) => callback(null, encodeStringMessage(`${m} ${decodeStringMessage(call.request)} from ${backendName}`))) as grpc.handleUnaryCall<Buffer, Buffer>])),
  );
  const port = await findFreePort();
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  cleanup.add(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return port;
}

export interface CallReply {
  ok: boolean;
  reply?: string;
  code?: string;
  details?: string;
}

/** One unary call through a client child (grpc-js-xds or Python), with a deadline. */
export async function callGreeter(client: LineChild, target: string, method: 'SayHello' | 'Secret', name: string, deadlineMs = 3000): Promise<CallReply> {
  return (await client.request({ target, method, name, deadlineMs }, deadlineMs + 5000)) as unknown as CallReply;
}
