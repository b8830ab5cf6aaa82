// gRPC C-core (Debian's python3-grpcio, run with /usr/bin/python3) against `meshd xds serve`:
// client, endpoint update, RBAC server. C-core is a second implementation of xDS written by other
// people than grpc-js-xds, and validates resources differently (research/xds.md §2.7). This suite
// also serves a YAML file to one named node (--node), so that path is exercised with a real client.
import { access, constants } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LineChild } from './child-process-harness.js';
import { DEBIAN_PYTHON, PYTHON_DIR, type Cleanup } from './real-client-setup.js';
import { describeRealClient } from './real-client-suite.js';

const NODE_ID = 'python-c-core-node';

function childEnv(bootstrapFile: string): NodeJS.ProcessEnv {
  const { GRPC_TRACE: _trace, GRPC_VERBOSITY: _verbosity, PYTHONPATH: _path, ...rest } = process.env;
  // No __pycache__ written into the repository's test/xds/python.
  return { ...rest, GRPC_XDS_BOOTSTRAP: bootstrapFile, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
}

async function startPython(cleanup: Cleanup, label: string, script: string, args: string[], bootstrapFile: string): Promise<LineChild> {
  const child = new LineChild(label, DEBIAN_PYTHON, [join(PYTHON_DIR, script), ...args], childEnv(bootstrapFile));
  cleanup.add(() => child.stop());
  return child;
}

describeRealClient({
  implementation: 'gRPC C-core (python3-grpcio)',
  snapshotFormat: 'yaml',
  nodeId: NODE_ID,
  checkInstalled: async () => {
    try {
      await access(DEBIAN_PYTHON, constants.X_OK);
    } catch {
      throw new Error(`${DEBIAN_PYTHON} is missing: install Debian's python3 and python3-grpcio (apt-get install python3-grpcio)`);
    }
    const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import grpc; print(grpc.__version__)'], { encoding: 'utf8', timeout: 15_000 });
    if (probe.status !== 0) throw new Error(`${DEBIAN_PYTHON} cannot import grpc: apt-get install python3-grpcio\n${probe.stderr}`);
  },
  startClient: async (cleanup, bootstrapFile) => {
    const client = await startPython(cleanup, 'python xds client', 'xds_client.py', [], bootstrapFile);
    await client.waitForLine((l) => l['event'] === 'ready', 15_000, 'ready');
    return client;
  },
  startXdsServer: async (cleanup, bootstrapFile, port, name) => {
    const server = await startPython(cleanup, 'python xds server', 'xds_server.py', [String(port), name], bootstrapFile);
    await server.waitForLine((l) => l['event'] === 'started', 15_000, 'started');
    return server;
  },
});
