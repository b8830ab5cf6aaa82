// The clients of the Star Wars scenario: each runs one request inside a pod with `meshd pod exec`
// (curl, the gRPC client of test/fixtures/demo-apps, kcat, dig, getaddrinfo through curl) and
// says whether the request was allowed, as the client saw it.
import { demoAppScript, EMPIRE_GRPC_PORT } from '../fixtures/demo-apps/index.js';
import type { CliResult } from './meshd-cli.js';

/** What a client needs from the scenario: the pods' addresses and a way into them. */
export interface ScenarioPods {
  pod(name: string): { ipv4: string };
  exec(podName: string, command: readonly string[], timeoutMs?: number): Promise<CliResult>;
  /** Test addresses of the "outside world" on the node's loopback. */
  readonly addresses: { apiIp: string; rebelIp: string };
  /** A resolv.conf naming the coredns pod, for getaddrinfo. */
  readonly resolvConf: string;
}

const NODE = process.execPath;

export interface Attempt {
  allowed: boolean;
  detail: string;
  /** The client command's full output, for a failure message. */
  output?: string;
  /** Set when the client failed for a reason that is no verdict (meshd pod exec failed, a bad exit status). */
  failure?: string;
}

/** curl's exit statuses for a connection the network refused or never answered: a verdict, not a failure. */
const CURL_NOT_CONNECTED = new Set([7, 28]);

const outputOf = (r: CliResult): string => `$ meshd ${r.args.join(' ')} → exit ${r.code}\n${r.stdout}${r.stderr}`.slice(-2500);

/** A curl run without an HTTP answer: denied when the connection failed (7) or timed out (28), a failure otherwise. */
function notConnected(r: CliResult, detail: string): Attempt {
  const failure = r.code !== null && CURL_NOT_CONNECTED.has(r.code) ? undefined : `exit status ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''} is neither an answer nor a refused connection`;
  return { allowed: false, detail, output: outputOf(r), ...(failure ? { failure } : {}) };
}

export const curlArgs = (method: string, url: string): string[] => ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, '--max-time', '5', url];

/** An HTTP request with curl: allowed when the application answered (not the proxy's 403, not a failed connect). */
export async function http(w: ScenarioPods, from: string, method: string, path: string): Promise<Attempt> {
  const r = await w.exec(from, curlArgs(method, `http://${w.pod('deathstar').ipv4}${path}`));
  const status = r.stdout.trim().slice(-3);
  if (status === '000' || r.code !== 0) return notConnected(r, `no response (curl exit ${r.code})`);
  return { allowed: status !== '403', detail: `HTTP ${status}`, output: outputOf(r) };
}

export async function grpc(w: ScenarioPods, from: string, method: 'RequestLanding' | 'ExhaustPort'): Promise<Attempt> {
  const r = await w.exec(from, [NODE, demoAppScript('grpc-client'), `${w.pod('deathstar').ipv4}:${EMPIRE_GRPC_PORT}`, method, from]);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    const out = JSON.parse(line) as { ok: boolean; code: number; details?: string; reply?: string };
    return { allowed: out.ok, detail: out.ok ? `OK "${out.reply}"` : `gRPC status ${out.code} ${out.details ?? ''}`.trim() };
  } catch {
    return { allowed: false, detail: `grpc-client failed (exit ${r.code})`, output: outputOf(r), failure: 'no result line from grpc-client' };
  }
}

export async function kafkaProduce(w: ScenarioPods, from: string, topic: string): Promise<Attempt> {
  const broker = `${w.pod('kafka').ipv4}:9092`;
  const r = await w.exec(from, ['sh', '-c', `printf 'k:${from} was here\\n' | timeout 10 kcat -b ${broker} -P -t ${topic} -K : -X request.required.acks=-1 -X message.timeout.ms=6000 2>&1`]);
  const error = r.stdout.split('\n').find((l) => /error|failed/i.test(l));
  return r.code === 0 && !error ? { allowed: true, detail: 'produced', output: outputOf(r) } : { allowed: false, detail: (error ?? `kcat exit ${r.code}`).replace(/^%\s*/, '').trim(), output: outputOf(r) };
}

export async function kafkaConsume(w: ScenarioPods, from: string, topic: string): Promise<Attempt> {
  const broker = `${w.pod('kafka').ipv4}:9092`;
  const r = await w.exec(from, ['sh', '-c', `timeout 6 kcat -b ${broker} -C -t ${topic} -p 0 -o beginning -e -q 2>&1`]);
  const error = r.stdout.split('\n').find((l) => /error|failed/i.test(l));
  if (r.code === 124) return { allowed: false, detail: `no answer from the broker (kcat timed out)`, output: outputOf(r) };
  return r.code === 0 && !error ? { allowed: true, detail: 'read to the end of the partition', output: outputOf(r) } : { allowed: false, detail: (error ?? `kcat exit ${r.code}`).replace(/^%\s*/, '').trim(), output: outputOf(r) };
}

export async function dig(w: ScenarioPods, from: string, name: string): Promise<Attempt> {
  const r = await w.exec(from, ['dig', `@${w.pod('coredns').ipv4}`, name, 'A', '+tries=1', '+time=3']);
  const status = /status: (\S+),/.exec(r.stdout)?.[1] ?? 'NO ANSWER';
  // Answer-section lines: NAME TTL IN TYPE DATA (the CNAME and then the A record).
  const answers = [...r.stdout.matchAll(/^\S+\s+\d+\s+IN\s+(A|CNAME)\s+(\S+)$/gm)].map((m) => (m[1] === 'CNAME' ? `CNAME ${m[2]}` : m[2]));
  const gotA = answers.some((a) => !a?.startsWith('CNAME'));
  return { allowed: status === 'NOERROR' && gotA, detail: `${status}${answers.length ? ` ${answers.join(' ')}` : ''}`, output: outputOf(r) };
}

/** getaddrinfo (curl's resolver) with the pod's resolver in a private /etc/resolv.conf, then a connection to the answer. */
export async function resolveAndConnect(w: ScenarioPods, from: string, name: string, port: number): Promise<Attempt> {
  const script = `mount --bind "$1" /etc/resolv.conf && exec ${curlArgs('GET', `http://${name}:${port}/`).map((a) => `'${a}'`).join(' ')}`;
  const r = await w.exec(from, ['unshare', '-m', 'sh', '-c', script, 'sh', w.resolvConf]);
  const status = r.stdout.trim().slice(-3);
  if (status === '000' || r.code !== 0) return notConnected(r, `curl exit ${r.code}`);
  return { allowed: true, detail: `HTTP ${status} from ${name}`, output: outputOf(r) };
}

export async function connectIp(w: ScenarioPods, from: string, ip: string, port: number): Promise<Attempt> {
  const r = await w.exec(from, curlArgs('GET', `http://${ip}:${port}/`));
  const status = r.stdout.trim().slice(-3);
  if (status === '000' || r.code !== 0) return notConnected(r, `connect failed (curl exit ${r.code})`);
  return { allowed: true, detail: `HTTP ${status}`, output: outputOf(r) };
}
