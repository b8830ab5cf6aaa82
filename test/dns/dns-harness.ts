// The DNS suite's harness: a real dnsmasq (Debian's /usr/sbin/dnsmasq) as the resolver, started on
// loopback and an unprivileged port with test records only (no resolv.conf, no hosts file, no
// config file); the built-in proxy configured over xDS by ProxyHarness (test/proxy) with a DNS UDP
// listener and a DNS-over-TCP filter chain; and clients: dig (/usr/bin/dig) and node's dns.Resolver.
// Everything started is registered in the harness's Cleanup, so it ends even when a test fails.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { access, constants } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Cleanup } from '../proxy/harness.js';

const execFileP = promisify(execFile);

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const DIG = '/usr/bin/dig';
export const DNS_POLICY_TYPE_URL = 'type.googleapis.com/meshd.filters.dns.v1.DnsPolicy';

/** Fails (never skips) with the missing tool's name. */
export async function requireTools(): Promise<void> {
  for (const tool of [DNSMASQ, DIG]) {
    try {
      await access(tool, constants.X_OK);
    } catch {
      throw new Error(`${tool} is missing: the DNS suite needs it (Debian packages dnsmasq-base and bind9-dnsutils)`);
    }
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (a DNS server listens on both). */
export async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 32_000 + Math.floor(Math.random() * 20_000);
    if ((await udpFree(port)) && (await tcpFree(port))) return port;
  }
  throw new Error('no port free for UDP and TCP in 32000–51999 after 50 tries');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface Dnsmasq {
  address: string;
  port: number;
  child: ChildProcess;
  output(): string;
}

/**
 * Starts dnsmasq with `records` (dnsmasq options such as `--host-record=a.test,10.0.0.1`), waits
 * (bounded) until it answers, and registers its end in `cleanup`. `fixedPort` (e.g. 53, what
 * getaddrinfo asks) instead of a free random port.
 */
export async function startDnsmasq(cleanup: Cleanup, records: readonly string[], address = '127.0.0.1', fixedPort?: number): Promise<Dnsmasq> {
  let lastError = '';
  for (let attempt = 0; attempt < (fixedPort === undefined ? 5 : 1); attempt++) {
    const port = fixedPort ?? (await freeDnsPort());
    const child = spawn(
      DNSMASQ,
      [
        '--no-resolv',
        '--no-hosts',
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--pid-file=',
        '--user=root',
        `--listen-address=${address}`,
        '--bind-interfaces',
        `--port=${port}`,
        '--local-ttl=300',
        '--log-facility=-',
        ...records,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(child, 'exit');
    cleanup.add(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(2000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await answers(address, port)) return { address, port, child, output: () => output };
      await sleep(50);
    }
    lastError = output;
    child.kill('SIGKILL');
  }
  throw new Error(`dnsmasq did not start: ${lastError}`);
}

/** True when something answers a DNS query on address:port within 200 ms. */
async function answers(address: string, port: number): Promise<boolean> {
  const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  try {
    const query = Buffer.from('abcd01000001000000000000047465737400000100 01'.replaceAll(' ', ''), 'hex');
    const got = once(s, 'message');
    s.send(query, port, address);
    const r = await Promise.race([got.then(() => true), sleep(200).then(() => false)]);
    return r;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

export interface DigResult {
  status: string;
  flags: string[];
  /** Answer section records: name (lower-case, trailing dot), ttl, type, data. */
  answers: Array<{ name: string; ttl: number; type: string; data: string }>;
  /** The EDNS UDP size the answer advertised, undefined without OPT. */
  ednsUdp: number | undefined;
  id: number;
  raw: string;
}

/** Runs dig against server:port with one try and a short timeout; `args` adds options (+tcp, +bufsize=…). */
export async function dig(server: { address: string; port: number }, name: string, type = 'A', args: readonly string[] = []): Promise<DigResult> {
  let stdout = '';
  try {
    ({ stdout } = await execFileP(DIG, digArgs(server, name, type, args), { timeout: 15_000 }));
  } catch (err) {
    const e = err as { stdout?: string; code?: number };
    // dig exits 9 when no answer came; the output still says so.
    stdout = e.stdout ?? '';
  }
  return parseDigOutput(stdout);
}

/** The arguments dig gets for one query with one try and a short timeout. */
export function digArgs(server: { address: string; port: number }, name: string, type = 'A', args: readonly string[] = []): string[] {
  return [`@${server.address}`, '-p', String(server.port), name, type, '+tries=1', '+time=3', ...args];
}

export function parseDigOutput(stdout: string): DigResult {
  const header = /status: (\S+), id: (\d+)/.exec(stdout);
  const flags = /;; flags: ([^;]*);/.exec(stdout);
  const edns = /udp: (\d+)/.exec(stdout);
  const answers: DigResult['answers'] = [];
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(\n\n|$)/.exec(stdout);
  for (const line of section?.[1]?.split('\n') ?? []) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 5) answers.push({ name: parts[0]!.toLowerCase(), ttl: Number(parts[1]), type: parts[3]!, data: parts.slice(4).join(' ') });
  }
  return {
    status: header?.[1] ?? 'NO_ANSWER',
    id: Number(header?.[2] ?? -1),
    flags: flags?.[1]?.trim().split(/\s+/) ?? [],
    answers,
    ednsUdp: edns ? Number(edns[1]) : undefined,
    raw: stdout,
  };
}

/** A DnsPolicy in proto3 JSON (what an xDS server sends), with defaults for a client on 127.0.0.1. */
export function dnsPolicyJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': DNS_POLICY_TYPE_URL,
    stat_prefix: 'meshd.egress.dns',
    endpoint: 'default/client',
    direction: 'EGRESS',
    endpoint_ips: ['127.0.0.1'],
    destination_ports: { start: 1, end: 65535 },
    default_deny: true,
    upstream: { cluster: 'resolver' },
    rules: [{ name: 'allow dns', remotes: { any: true }, names: [{ match_name: 'api.allowed.test' }] }],
    ...overrides,
  };
}

export function udpDnsListenerJson(name: string, policies: ReadonlyArray<Record<string, unknown>>, address = '127.0.0.1', port = 0): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { protocol: 'UDP', address, port_value: port } },
    udp_listener_config: {},
    listener_filters: policies.map((p, i) => ({ name: `meshd.filters.dns/${name}/${i}`, typed_config: p })),
  };
}

export function tcpDnsListenerJson(name: string, policy: Record<string, unknown>, address = '127.0.0.1', port = 0): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    filter_chains: [{ name: `${name}/chain`, filters: [{ name: 'meshd.filters.dns', typed_config: policy }] }],
  };
}

/** Cleans up as tests should: a Cleanup-like `run` in finally. */
export async function withTimeoutMs<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
