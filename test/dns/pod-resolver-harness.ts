// A pod that resolves the way applications do: glibc's getaddrinfo against the nameserver in its
// resolv.conf, on port 53. The world: dnsmasq on a test address of the node's loopback, port 53
// (not the shared gateway address, so parallel test runs never fight over it); test "answer"
// addresses (IPv4 and IPv6) on the loopback served by a dual-stack TCP echo server; one pod with a
// datapath; the built-in proxy configured over xDS with a DNS UDP listener on the node proxy
// address; and the learning side (FqdnManager on a state directory) as the proxy's answer observer.
//
// A pod shares the host's /etc/resolv.conf (it gets its own netns only). To point getaddrinfo at
// the test resolver without touching the host's, the resolving command runs under
// `unshare --mount --propagation private` with a test resolv.conf bind-mounted over
// /etc/resolv.conf: the mount exists only in that process's mount namespace and goes with it.
//
// Everything started is stopped and every address removed, also when a test fails.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltinProxy, DnsAnswerObserver } from '../../proxylib/index.js';
import { loadPolicyText } from '../../policy/index.js';
import { cnp, withCluster, type TestCluster } from '../datapath/datapath-harness.js';
import { ProxyHarness, envoyMessages } from '../proxy/harness.js';
import { datapathProxyOptions, withFqdnProxy, withLoopbackEcho, type TestAgent } from './fqdn-agent-harness.js';
import { DIG, digArgs, dnsPolicyJson, freeDnsPort, parseDigOutput, requireTools, startDnsmasq, udpDnsListenerJson } from './dns-harness.js';

/** Addresses of this run: 198.18.0.0/15 (RFC 2544) and a ULA /64 of this process, on lo. */
export function podResolverAddresses(): {
  resolver: string;
  answer: string;
  other: string;
  cname: string;
  wild: string;
  answer6: string;
  other6: string;
} {
  const base = `198.18.${(process.pid % 250) + 1}`;
  const base6 = `fd99:18:${(process.pid % 0xffff).toString(16)}::`;
  return {
    resolver: `${base}.53`,
    answer: `${base}.20`,
    other: `${base}.21`,
    cname: `${base}.22`,
    wild: `${base}.23`,
    answer6: `${base6}20`,
    other6: `${base6}21`,
  };
}

/** Names dnsmasq serves (TTL 300 unless said). */
export const RECORDS = (a: ReturnType<typeof podResolverAddresses>): string[] => [
  `--host-record=api.allowed.test,${a.answer}`,
  `--host-record=denied.test,${a.other}`,
  `--host-record=edge.cdn.test,${a.cname}`,
  '--cname=shop.alias.test,edge.cdn.test',
  `--host-record=eu.wild.test,${a.wild}`,
  `--host-record=v6.allowed.test,${a.answer6}`,
  `--host-record=v6denied.test,${a.other6}`,
];

/** getaddrinfo in the pod, then (with a port) a TCP connect to the first address. */
const GETADDRINFO = String.raw`
import errno, json, socket, sys, time
name, family, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = {"4": socket.AF_INET, "6": socket.AF_INET6}[family]
eai = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
t0 = time.monotonic()
try:
    infos = socket.getaddrinfo(name, port or None, fam, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
except socket.gaierror as e:
    print(json.dumps({"resolved": False, "error": eai.get(e.errno, str(e.errno)), "message": str(e), "ms": (time.monotonic() - t0) * 1000}))
    sys.exit(0)
out = {"resolved": True, "addresses": sorted({i[4][0] for i in infos}), "canonname": infos[0][3], "ms": (time.monotonic() - t0) * 1000}
if port:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(infos[0][4])
        out["connect"] = "OK"
    except OSError as e:
        out["connect"] = errno.errorcode.get(e.errno, "TIMEOUT") if e.errno else "TIMEOUT"
    finally:
        s.close()
print(json.dumps(out), flush=True)
`;

export interface GetaddrinfoResult {
  resolved: boolean;
  addresses?: string[];
  canonname?: string;
  /** EAI_* name when not resolved. */
  error?: string;
  message?: string;
  connect?: string;
  ms: number;
}

export interface PodResolverWorld {
  cluster: TestCluster;
  addresses: ReturnType<typeof podResolverAddresses>;
  serverPort: number;
  proxyPort: number;
  stateDir: string;
  resolver: { address: string; port: number };
  harness: ProxyHarness;
  startAgent(): Promise<TestAgent>;
  /** A new built-in proxy on the same listeners (it joins a running one's sockets); not closing any. */
  startProxy(observer: DnsAnswerObserver): Promise<BuiltinProxy>;
  getaddrinfo(name: string, family: 4 | 6, connectPort?: number): Promise<GetaddrinfoResult>;
  dig(name: string, type?: string): Promise<ReturnType<typeof parseDigOutput>>;
}

export async function withPodResolver(fn: (w: PodResolverWorld) => Promise<void>): Promise<void> {
  await requireTools();
  const addresses = podResolverAddresses();
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-dns-pod-resolver-'));
  const resolvConf = join(stateDir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${addresses.resolver}\noptions attempts:1 timeout:2\n`);
  try {
    await withLoopbackEcho(Object.values(addresses), { dualStack: true }, (serverPort) =>
      withCluster(['client'], async (cluster) => {
        const { pods, members, node } = cluster;
        await withFqdnProxy(`dns-pod-resolver-${process.pid}`, async (h, startTrackedAgent) => {
          const dnsmasq = await startDnsmasqOn53(h, addresses.resolver, RECORDS(addresses));
          const proxyPort = await freeDnsPort();
          const client = members[0]!;
          const names = [{ match_name: 'api.allowed.test' }, { match_name: 'shop.alias.test' }, { match_pattern: '*.wild.test' }, { match_name: 'v6.allowed.test' }, { match_name: 'v6denied.test' }];
          const dnsPolicy = dnsPolicyJson({
            endpoint_ips: [client.ipv4, client.ipv6],
            destination_ports: { start: 53, end: 53 },
            upstream: { cluster: 'original-dst' },
            rules: [{ name: 'allowed names', remotes: { any: true }, names }],
          });
          h.setSnapshot(
            envoyMessages({
              listeners: [udpDnsListenerJson('dns-udp', [dnsPolicy], node.gateway4, proxyPort)],
              clusters: [{ name: 'original-dst', type: 'ORIGINAL_DST', connect_timeout: '2s', lb_policy: 'CLUSTER_PROVIDED' }],
            }),
          );
          // denied.test is not in the DNS rule (REFUSED); v6denied.test is answered but no toFQDNs
          // selector takes it, so its IP stays denied by the kernel.
          const loaded = loadPolicyText(
            'pod-resolver-policy.yaml',
            cnp(
              'client',
              `  egress:
    - toEntities: [all]
      toPorts: [{ ports: [{ port: "53", protocol: UDP }], rules: { dns: [{ matchName: api.allowed.test }, { matchName: shop.alias.test }, { matchPattern: "*.wild.test" }, { matchName: v6.allowed.test }, { matchName: v6denied.test }] } }]
    - toFQDNs: [{ matchName: api.allowed.test }, { matchPattern: "*.cdn.test" }, { matchPattern: "*.wild.test" }, { matchName: v6.allowed.test }]
      toPorts: [{ ports: [{ port: "${serverPort}", protocol: TCP }] }]`,
            ),
          );
          assert.deepEqual(loaded.problems, []);

          const startAgent = (): Promise<TestAgent> => startTrackedAgent({ cluster, stateDir, policies: loaded.policies, proxyPort });
          const startProxy = (observer: DnsAnswerObserver): Promise<BuiltinProxy> =>
            h.startProxy({
              // The restart tests start a second proxy on the same ports before closing the first.
              portHandover: true,
              ...datapathProxyOptions(cluster),
              dnsAnswerObserver: observer,
            });
          const getaddrinfo = async (name: string, family: 4 | 6, connectPort = 0): Promise<GetaddrinfoResult> => {
            const r = await pods[0]!.exec(
              'unshare',
              ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec python3 -c "$1" "$2" "$3" "$4"', resolvConf, GETADDRINFO, name, String(family), String(connectPort)],
              { timeoutMs: 20_000 },
            );
            const line = r.stdout.trim().split('\n').pop() ?? '';
            try {
              return JSON.parse(line) as GetaddrinfoResult;
            } catch {
              throw new Error(`getaddrinfo ${name} in the pod printed no result: code ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
            }
          };
          const dig = async (name: string, type = 'A') => parseDigOutput((await pods[0]!.exec(DIG, digArgs(dnsmasq, name, type), { timeoutMs: 20_000 })).stdout);
          await fn({ cluster, addresses, serverPort, proxyPort, stateDir, resolver: dnsmasq, harness: h, startAgent, startProxy, getaddrinfo, dig });
        });
      }),
    );
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** dnsmasq on address:53 (getaddrinfo always asks port 53). */
async function startDnsmasqOn53(h: ProxyHarness, address: string, records: readonly string[]): Promise<{ address: string; port: number }> {
  const d = await startDnsmasq(h.cleanup, records, address, 53);
  return { address: d.address, port: d.port };
}
