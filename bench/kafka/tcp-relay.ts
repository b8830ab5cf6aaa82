// The reference contender of bench/kafka: a plain Node TCP relay (each accepted socket piped to a new
// connection to the broker, both ways, no parsing), in its own process. It is the floor any Node
// proxy pays per MiB on this layout, so "meshd vs relay" is the Kafka filter's own cost (framing,
// decoding, policy, flow records), the way bench/http compares meshd with nginx.
//
//   node dist/bench/kafka/tcp-relay.js --listen H:P --upstream H:P
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

function hostPort(flag: string, value: string | undefined): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value ?? '');
  if (!m || !m[1]) throw new Error(`${flag} wants HOST:PORT, got ${JSON.stringify(value)}`);
  return { host: m[1], port: Number(m[2]) };
}

const { values } = parseArgs({ options: { listen: { type: 'string' }, upstream: { type: 'string' } }, strict: true });
const listen = hostPort('--listen', values.listen);
const upstream = hostPort('--upstream', values.upstream);
const server = createServer((downstream) => {
  const up = connect(upstream);
  downstream.setNoDelay(true);
  up.setNoDelay(true);
  downstream.pipe(up);
  up.pipe(downstream);
  downstream.on('error', () => up.destroy());
  up.on('error', () => downstream.destroy());
  downstream.on('close', () => up.destroy());
  up.on('close', () => downstream.destroy());
});
server.listen(listen.port, listen.host, () => process.stdout.write('ready\n'));
const stop = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
