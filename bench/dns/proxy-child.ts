// The proxied contender's process: meshd's BuiltinProxy, configured only over xDS by the bench's
// server, counting flow records as `meshd proxy` does for /stats (countFlows, the default), so a
// flow record is built per query as in production. Prints `ready <port>` once the DNS listener is
// bound (`ready NAME=PORT ...` for every --listener); SIGTERM/SIGINT close it. With --cpu-prof on the node command line it writes a profile.
//
//   node dist/bench/dns/proxy-child.js --xds H:P --node-id ID --listener NAME [--listener NAME...]
import { parseArgs } from 'node:util';
import { BuiltinProxy } from '../../proxylib/index.js';

const READY_TIMEOUT_MS = 20_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { xds: { type: 'string' }, 'node-id': { type: 'string' }, listener: { type: 'string', multiple: true } }, strict: true });
  const listeners = values.listener ?? [];
  if (!values.xds || !values['node-id'] || listeners.length === 0) throw new Error('--xds, --node-id and --listener are required');
  const proxy = await BuiltinProxy.start({ xds: values.xds, nodeId: values['node-id'], drainTimeoutMs: 1000, backoff: { initialMs: 100, maxMs: 1000 } });
  await proxy.ready(READY_TIMEOUT_MS);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const unbound = () => listeners.filter((name) => !proxy.listenerAddress(name));
  while (unbound().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (unbound().length > 0) throw new Error(`listeners ${unbound().join(', ')} not bound within ${READY_TIMEOUT_MS} ms`);
  process.stdout.write(`ready ${listeners.map((name) => `${name}=${proxy.listenerAddress(name)!.port}`).join(' ')}\n`);
  const stop = (): void => {
    void proxy.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/dns proxy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
