// @grpc/grpc-js-xds (npm, pure JS) against `meshd xds serve`: client, endpoint update, RBAC server.
// The client and the xDS-enabled server each run in a child process (grpc-js-xds-child.ts), since
// grpc-js-xds reads its bootstrap and GRPC_XDS_EXPERIMENTAL_RBAC once per process.
import { createRequire } from 'node:module';
import { LineChild } from './child-process-harness.js';
import { GRPC_JS_XDS_CHILD, type Cleanup } from './real-client-setup.js';
import { describeRealClient } from './real-client-suite.js';

function childEnv(bootstrapFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { GRPC_TRACE: _trace, GRPC_VERBOSITY: _verbosity, ...rest } = process.env;
  return { ...rest, GRPC_XDS_BOOTSTRAP: bootstrapFile, ...extra };
}

async function startChild(cleanup: Cleanup, label: string, args: string[], env: NodeJS.ProcessEnv): Promise<LineChild> {
  const child = new LineChild(label, process.execPath, [GRPC_JS_XDS_CHILD, ...args], env);
  cleanup.add(() => child.stop());
  return child;
}

describeRealClient({
  implementation: '@grpc/grpc-js-xds',
  snapshotFormat: 'json',
  nodeId: undefined,
  checkInstalled: async () => {
    createRequire(import.meta.url).resolve('@grpc/grpc-js-xds');
  },
  startClient: async (cleanup, bootstrapFile) => {
    const client = await startChild(cleanup, 'grpc-js-xds client', ['client'], childEnv(bootstrapFile));
    await client.waitForLine((l) => l['event'] === 'ready', 15_000, 'ready');
    return client;
  },
  startXdsServer: async (cleanup, bootstrapFile, port, name) => {
    // RBAC is off by default in grpc-js-xds; without this switch the server Listener is NACKed.
    const server = await startChild(cleanup, 'grpc-js-xds server', ['server', String(port), name], childEnv(bootstrapFile, { GRPC_XDS_EXPERIMENTAL_RBAC: 'true' }));
    // bindAsync calls back once the Listener for this address came from meshd.
    await server.waitForLine((l) => l['event'] === 'bound' || l['event'] === 'bind-error', 30_000, 'bound');
    return server;
  },
});
