// The proxied contender's process: meshd's BuiltinProxy, configured only over xDS by the bench's
// server, with an original-destination resolver and an identity resolver standing in for the
// datapath (what `meshd proxy --transparent` reads from BPF maps on a real node; the bench has no
// redirect, so the resolvers say where a connection "was going" and who it came from).
// It counts flow records as `meshd proxy` does for its admin /stats, so a record is built per
// request as in production. Prints `ready` once listening; SIGTERM/SIGINT close it.
//
//   node dist/bench/kafka/proxy-child.js --xds H:P --node-id ID --destination H:P --identity IP=ID...
import { parseArgs } from 'node:util';
import { BuiltinProxy, subscribeFlows } from '../../proxylib/index.js';

const READY_TIMEOUT_MS = 20_000;

function hostPort(flag: string, value: string): { address: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || !m[1]) throw new Error(`${flag} wants HOST:PORT, got ${JSON.stringify(value)}`);
  return { address: m[1], port: Number(m[2]) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      xds: { type: 'string' },
      'node-id': { type: 'string' },
      destination: { type: 'string' },
      identity: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  if (!values.xds || !values['node-id'] || !values.destination) throw new Error('--xds, --node-id and --destination are required');
  const destination = hostPort('--destination', values.destination);
  const identities = new Map<string, number>();
  for (const pair of values.identity ?? []) {
    const [ip, id] = pair.split('=');
    if (!ip || !id || !/^\d+$/.test(id)) throw new Error(`--identity wants IP=ID, got ${pair}`);
    identities.set(ip, Number(id));
  }
  const flowCounts = new Map<string, number>();
  const unsubscribe = subscribeFlows((r) => {
    const key = `${r.type} ${r.verdict}`;
    flowCounts.set(key, (flowCounts.get(key) ?? 0) + 1);
  });
  const proxy = await BuiltinProxy.start({
    xds: values.xds,
    nodeId: values['node-id'],
    originalDestination: () => destination,
    identityOf: (ip: string) => identities.get(ip),
    drainTimeoutMs: 1000,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  await proxy.ready(READY_TIMEOUT_MS);
  process.stdout.write('ready\n');
  const stop = (): void => {
    unsubscribe();
    process.stderr.write(`flow records: ${JSON.stringify(Object.fromEntries(flowCounts))}\n`);
    void proxy.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/kafka proxy: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
});
