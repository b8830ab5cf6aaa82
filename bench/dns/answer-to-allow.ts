// bench/dns, "time from an upstream answer to the kernel allowing the IP" (issue 7), on a real pod
// and the real datapath. One pod (netns, veth, cgroup) with a Datapath on its own pin root; a
// policy whose DNS rule sends the pod's queries to the built-in proxy (kernel redirect) and whose
// toFQDNs rule allows TCP to `*.learn.test`; dnsmasq serving COUNT names, each with its own fresh
// address on the node's loopback (so every answer is a first learning); the built-in proxy in this
// process with FqdnManager (agent/fqdn) as its answer observer, as in the tests.
//
// Per name, on one clock (CLOCK_MONOTONIC: Node's process.hrtime and Python's time.monotonic_ns
// read the same clock, in and out of the pod's netns):
//   t0  the proxy hands the upstream answer to the learning side (onAnswer is called);
//   ts  identity allocated and the selector cache updated: the policy rewrite starts;
//   tp  the endpoint's policy map rewritten with the new identity (PolicyUpdater returned);
//   ti  the ipcache entry IP/32 → identity written (after the policy: FqdnManager's order);
//   t1  onAnswer resolved (the cache file saved too; checked: the ipcache gives the IP a local
//       identity) — the proxy releases the answer now;
//   t2  the pod has the answer (recv returned);
//   t3  the pod's connect() to the answer's IP returned OK (the kernel allowed it).
// Reported: ts−t0, tp−t0, ti−t0 (answer → kernel entries visible), t1−t0 (answer released), t3−t0 (answer → a connect from the pod succeeds), and
// t3−t2 (the pod's own connect). The pod resolves and connects one name after another (no load).
//
// In-process proxy, not the agent's separate proxy process: the agent process model sends answers
// to the agent over its API socket (agent/proxy-link), which adds one local HTTP round trip to t1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointPolicyRegenerator, FqdnManager, withPods } from '../../agent/index.js';
import { Datapath } from '../../bpf/index.js';
import { BuiltinProxy, type DnsAnswerEvent } from '../../proxylib/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { Snapshot, SnapshotCache, TYPE_URL, XdsServer, messageFromJson, messageSchemaOfUrl } from '../../xds/index.js';

const DNSMASQ = '/usr/sbin/dnsmasq';
const POD_IDENTITY = 1000;
const FIRST_LOCAL_IDENTITY = 16_777_216;

export interface AnswerToAllow {
  count: number;
  /** Percentiles in ms. */
  toPolicyStart: { p50: number; p99: number; max: number };
  toPolicyMap: { p50: number; p99: number; max: number };
  toIpcache: { p50: number; p99: number; max: number };
  toKernel: { p50: number; p99: number; max: number };
  toPodConnect: { p50: number; p99: number; max: number };
  podConnect: { p50: number; p99: number; max: number };
}

/** Resolves each name (raw UDP A query to the redirected resolver), then connects to the answer. */
const POD_CLIENT = String.raw`
import errno, json, socket, struct, sys, time
server, port, tcp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = sys.argv[4:]
for i, name in enumerate(names):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    q = struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.connect((server, port))
    u.send(q)
    r = u.recv(4096)
    t2 = time.monotonic_ns()
    u.close()
    ip = socket.inet_ntoa(r[-4:])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((ip, tcp_port))
        code = "OK"
    except OSError as e:
        code = errno.errorcode.get(e.errno, "TIMEOUT") if e.errno else "TIMEOUT"
    t3 = time.monotonic_ns()
    s.close()
    print(json.dumps({"name": name, "ip": ip, "t2": t2, "t3": t3, "code": code}), flush=True)
    time.sleep(0.01)
`;

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? Number.NaN };
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

/** Runs the measurement; needs root, BPF, dnsmasq and python3. Cleans up everything it made. */
export async function measureAnswerToAllow(count: number): Promise<AnswerToAllow> {
  if (process.getuid?.() !== 0) throw new Error('needs root (BPF, netns, cgroups)');
  const third = (process.pid % 250) + 1;
  const ips = Array.from({ length: count }, (_, i) => `198.19.${third}.${10 + i}`);
  if (count > 240) throw new Error('at most 240 names (one /24 of test addresses)');
  const names = ips.map((_, i) => `n${i}.learn.test`);
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-bench-dns-allow-'));
  const pinRoot = `/sys/fs/bpf/meshd-bench-dns-${process.pid}`;
  const added: string[] = [];
  const sockets = new Set<Socket>();
  const echo = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.end();
  });
  let dnsmasq: ChildProcess | undefined;
  try {
    execFileSync('ip', ['-batch', '-'], { input: ips.map((ip) => `addr add ${ip}/32 dev lo`).join('\n') + '\n' });
    added.push(...ips);
    await new Promise<void>((resolve, reject) => echo.once('error', reject).listen(0, '0.0.0.0', resolve));
    const tcpPort = (echo.address() as { port: number }).port;
    return await withPods([{ name: 'bench-client' }], async (pods, node) => {
      const pod = pods[0]!;
      const dp = Datapath.open({ pinRoot, proxyCgroup: node.proxyCgroup, podsCgroup: node.podsCgroup, nodeProxyAddress: { ipv4: node.gateway4, ipv6: node.gateway6 } });
      const cache = new SnapshotCache();
      const xdsServer = new XdsServer({ cache, orderHoldMs: 0 });
      let proxy: BuiltinProxy | undefined;
      let manager: FqdnManager | undefined;
      try {
        dp.ipcache.replaceAll([
          [`${node.gateway4}/32`, 1],
          [`${node.gateway6}/128`, 1],
          [`${pod.ipv4}/32`, POD_IDENTITY],
          [`${pod.ipv6}/128`, POD_IDENTITY],
        ]);
        dp.attachEndpoint({ id: 1, cgroupPath: pod.cgroupPath, identity: POD_IDENTITY, ingressEnforced: false, egressEnforced: false, ipv4: pod.ipv4, ipv6: pod.ipv6 });

        const dnsPort = 40_000 + Math.floor(Math.random() * 10_000);
        dnsmasq = spawn(
          DNSMASQ,
          ['--no-resolv', '--no-hosts', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root', `--listen-address=${node.gateway4}`, '--bind-interfaces', `--port=${dnsPort}`, '--log-facility=-', ...names.map((n, i) => `--host-record=${n},${ips[i]},300`)],
          { stdio: 'ignore' },
        );
        await sleep(300);
        if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq did not start on ${node.gateway4}:${dnsPort}`);

        const proxyPort = 45_000 + Math.floor(Math.random() * 5_000);
        const loaded = loadPolicyText(
          'bench-allow.yaml',
          `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bench-allow, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: bench-client } }
  egress:
    - toEntities: [all]
      toPorts: [{ ports: [{ port: "${dnsPort}", protocol: UDP }], rules: { dns: [{ matchPattern: "*.learn.test" }] } }]
    - toFQDNs: [{ matchPattern: "*.learn.test" }]
      toPorts: [{ ports: [{ port: "${tcpPort}", protocol: TCP }] }]
`,
        );
        if (loaded.problems.length > 0) throw new Error(`bench policy: ${JSON.stringify(loaded.problems)}`);
        const { allocator } = await IdentityAllocator.open(stateDir);
        const selectorCache = new SelectorCache();
        for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
        const repository = new Repository();
        const ep = repository.upsertEndpoint({ name: 'bench-client', namespace: 'default', labels: { app: 'bench-client' }, ips: [pod.ipv4, pod.ipv6], namedPorts: [] });
        selectorCache.addIdentity(POD_IDENTITY, ep.identityLabels);
        for (const p of loaded.policies) repository.upsertPolicy(p);
        const regenerator = new EndpointPolicyRegenerator({
          repository,
          selectorCache,
          datapath: dp,
          endpointIdOf: (name) => (name === 'default/bench-client' ? 1 : undefined),
          proxyPortOf: (type) => (type === 'dns' ? proxyPort : undefined),
        });
        // When the policy map and the ipcache were written, per answer: wrappers that note the time.
        let policyWrittenAt = 0n;
        let policyStartedAt = 0n;
        const ipcacheWrittenAt = new Map<string, bigint>();
        const timedIpcache = {
          upsert: (prefix: string, identity: number) => {
            dp.ipcache.upsert(prefix, identity);
            ipcacheWrittenAt.set(prefix.split('/')[0]!, process.hrtime.bigint());
          },
          delete: (prefix: string) => dp.ipcache.delete(prefix),
        };
        const timedRegenerator = {
          selectionsChanged: (keys: ReadonlySet<string>) => {
            policyStartedAt = process.hrtime.bigint();
            regenerator.selectionsChanged(keys);
            policyWrittenAt = process.hrtime.bigint();
          },
        };
        const opened = await FqdnManager.open({ stateDir, allocator, selectorCache, ipcache: timedIpcache, policyUpdater: timedRegenerator, policies: loaded.policies });
        manager = opened.manager;
        regenerator.regenerateAll();

        const xds = await xdsServer.listen('127.0.0.1:0');
        const of = (typeUrl: string, json: unknown) => messageFromJson(messageSchemaOfUrl(typeUrl)!, json, typeUrl);
        const policy = {
          '@type': 'type.googleapis.com/meshd.filters.dns.v1.DnsPolicy',
          stat_prefix: 'bench.dns.allow',
          endpoint: 'default/bench-client',
          direction: 'EGRESS',
          endpoint_ips: [pod.ipv4, pod.ipv6],
          destination_ports: { start: dnsPort, end: dnsPort },
          default_deny: true,
          upstream: { cluster: 'original-dst' },
          rules: [{ name: 'learn', remotes: { any: true }, names: [{ match_pattern: '*.learn.test' }] }],
        };
        const listener = {
          name: 'dns-udp',
          address: { socket_address: { protocol: 'UDP', address: node.gateway4, port_value: proxyPort } },
          udp_listener_config: {},
          listener_filters: [{ name: 'meshd.filters.dns/bench-allow', typed_config: policy }],
        };
        const cluster = { name: 'original-dst', type: 'ORIGINAL_DST', connect_timeout: '2s', lb_policy: 'CLUSTER_PROVIDED' };
        cache.setSnapshot('bench-dns-allow', Snapshot.fromMessages({ version: 'v1', listeners: [of(TYPE_URL.listener, listener)], clusters: [of(TYPE_URL.cluster, cluster)] } as never));

        const timings = new Map<string, { t0: bigint; t1: bigint; policyStart: bigint; policy: bigint; ipcache: bigint; identity: number }>();
        const learning = manager;
        proxy = await BuiltinProxy.start({
          xds,
          nodeId: 'bench-dns-allow',
          countFlows: false,
          originalDestination: (tuple) => {
            const o = dp.originalDestination(tuple);
            return o ? { address: o.address, port: o.port } : undefined;
          },
          identityOf: (ip) => dp.ipcache.identityOf(ip),
          dnsAnswerObserver: {
            onAnswer: async (event: DnsAnswerEvent) => {
              const t0 = process.hrtime.bigint();
              policyWrittenAt = 0n;
              await learning.onAnswer(event);
              const t1 = process.hrtime.bigint();
              const ip = event.addresses[0]?.ip ?? '';
              timings.set(event.queryName, { t0, t1, policyStart: policyStartedAt, policy: policyWrittenAt, ipcache: ipcacheWrittenAt.get(ip) ?? 0n, identity: dp.ipcache.identityOf(ip) });
            },
          },
        });
        await proxy.ready(20_000);

        const client = pod.spawn('python3', ['-c', POD_CLIENT, node.gateway4, String(dnsPort), String(tcpPort), ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        client.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => client.kill('SIGKILL'), 30_000 + count * 200);
        await once(client, 'close');
        clearTimeout(timer);
        const rows = out
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { name: string; ip: string; t2: number; t3: number; code: string });
        if (rows.length !== count) throw new Error(`the pod client resolved ${rows.length} of ${count} names: ${err}`);
        const toPolicyStart: number[] = [];
        const toPolicyMap: number[] = [];
        const toIpcache: number[] = [];
        const toKernel: number[] = [];
        const toPodConnect: number[] = [];
        const podConnect: number[] = [];
        for (const r of rows) {
          const t = timings.get(r.name);
          if (!t) throw new Error(`the learning side never saw ${r.name}`);
          if (r.code !== 'OK') throw new Error(`connect to ${r.ip} (${r.name}) from the pod: ${r.code}`);
          if (t.identity < FIRST_LOCAL_IDENTITY) throw new Error(`${r.ip} has identity ${t.identity} after onAnswer, not a local one`);
          if (t.policy === 0n || t.ipcache === 0n) throw new Error(`${r.name}: the policy map or the ipcache was not written during onAnswer`);
          toPolicyStart.push(ms(t.policyStart - t.t0));
          toPolicyMap.push(ms(t.policy - t.t0));
          toIpcache.push(ms(t.ipcache - t.t0));
          toKernel.push(ms(t.t1 - t.t0));
          toPodConnect.push(ms(BigInt(r.t3) - t.t0));
          podConnect.push(ms(BigInt(r.t3) - BigInt(r.t2)));
        }
        return { count, toPolicyStart: percentiles(toPolicyStart), toPolicyMap: percentiles(toPolicyMap), toIpcache: percentiles(toIpcache), toKernel: percentiles(toKernel), toPodConnect: percentiles(toPodConnect), podConnect: percentiles(podConnect) };
      } finally {
        await proxy?.close().catch(() => undefined);
        await manager?.close().catch(() => undefined);
        await xdsServer.close().catch(() => undefined);
        if (dnsmasq && dnsmasq.exitCode === null) {
          dnsmasq.kill('SIGTERM');
          await Promise.race([once(dnsmasq, 'exit'), sleep(2000)]);
        }
        try {
          dp.unload();
        } finally {
          rmSync(pinRoot, { recursive: true, force: true });
        }
      }
    });
  } finally {
    if (dnsmasq && dnsmasq.exitCode === null && dnsmasq.signalCode === null) dnsmasq.kill('SIGKILL');
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
    if (added.length > 0) {
      try {
        execFileSync('ip', ['-batch', '-'], { input: added.map((ip) => `addr del ${ip}/32 dev lo`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
      } catch {
        // Some already gone.
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
}
