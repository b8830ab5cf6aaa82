// toFQDNs end to end on real pods: a pod resolves through the built-in DNS proxy (the kernel
// redirects its queries; dnsmasq in this test's namespace is the upstream), FqdnManager learns the
// answer and writes the IP into the kernel's ipcache and the pod's policy before the answer is
// released; the pod then connects to the IP (allowed by the kernel) and to an IP no answer
// returned (EPERM from connect). After the TTL a new connection is denied while an open one keeps
// working. The "answer IPs" are test addresses on the node's loopback, served by a TCP echo
// server in this process. Needs root and BPF; fails with the missing piece's name otherwise.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadFqdnState } from '../../agent/index.js';
import type { DnsAnswerObserver } from '../../proxylib/index.js';
import { loadPolicyText } from '../../policy/index.js';
import { LineProcess, cnp, timedConnect, withCluster, type TestCluster } from '../datapath/datapath-harness.js';
import { envoyMessages } from '../proxy/harness.js';
import { datapathProxyOptions, withFqdnProxy, withLoopbackEcho, type TestAgent } from './fqdn-agent-harness.js';
import { DIG, digArgs, dnsPolicyJson, freeDnsPort, parseDigOutput, requireTools, startDnsmasq, udpDnsListenerJson } from './dns-harness.js';

const T = { timeout: 180_000 };

/** Host addresses of this run on the node's loopback (198.18.0.0/15, RFC 2544's test range). */
function testAddresses(): { answerIp: string; otherIp: string; cnameIp: string; longIp: string } {
  const base = `198.18.${process.pid % 250}`;
  return { answerIp: `${base}.10`, otherIp: `${base}.11`, cnameIp: `${base}.12`, longIp: `${base}.13` };
}

const SHORT_TTL_SECONDS = 2;

/** Holds a TCP connection from the pod open and echoes one line on demand. */
const HOLD_CONNECTION = String.raw`
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    print(json.dumps({"connected": False, "errno": e.errno}), flush=True)
    sys.exit(0)
print(json.dumps({"connected": True}), flush=True)
for line in sys.stdin:
    try:
        s.sendall(line.encode())
        print(json.dumps({"echo": s.recv(4096).decode().strip()}), flush=True)
    except OSError as e:
        print(json.dumps({"echo": None, "errno": e.errno}), flush=True)
`;

interface FqdnPodWorld {
  cluster: TestCluster;
  ips: ReturnType<typeof testAddresses>;
  serverPort: number;
  stateDir: string;
  dnsmasq: { address: string; port: number };
  /** The agent's learning chain on the state directory, as a (re)started agent builds it. */
  startAgent(options?: { udpFlowIdleMs?: number }): Promise<TestAgent>;
  /** The built-in proxy (the DNS data plane) with an answer observer; a running one is closed first. */
  startProxy(observer: DnsAnswerObserver): Promise<void>;
  stopProxy(): Promise<void>;
  dig(name: string): Promise<ReturnType<typeof parseDigOutput>>;
}

/** Test addresses on lo, an echo server, pods with a datapath, dnsmasq, the proxy's xDS; all removed afterwards. */
async function withFqdnPod(fn: (w: FqdnPodWorld) => Promise<void>): Promise<void> {
  await requireTools();
  const ips = testAddresses();
  const stateDir = mkdtempSync(join(tmpdir(), 'meshd-fqdn-pod-'));
  try {
    await withLoopbackEcho(Object.values(ips), { dualStack: false }, (serverPort) =>
      withCluster(['client'], async (cluster) => {
        const { pods, members, node } = cluster;
        await withFqdnProxy(`fqdn-pod-${process.pid}`, async (h, startTrackedAgent) => {
          const dnsmasq = await startDnsmasq(
            h.cleanup,
            [
              `--host-record=api.allowed.test,${ips.answerIp},${SHORT_TTL_SECONDS}`,
              `--host-record=long.allowed.test,${ips.longIp},300`,
              `--host-record=edge.cdn.test,${ips.cnameIp},60`,
              '--cname=shop.alias.test,edge.cdn.test,60',
            ],
            node.gateway4,
          );
          const proxyPort = await freeDnsPort();
          const client = members[0]!;
          const dnsPolicy = dnsPolicyJson({
            endpoint_ips: [client.ipv4, client.ipv6],
            destination_ports: { start: dnsmasq.port, end: dnsmasq.port },
            upstream: { cluster: 'original-dst' },
            rules: [{ name: 'allow all names', remotes: { any: true }, names: [{ match_pattern: '*' }] }],
          });
          h.setSnapshot(
            envoyMessages({
              listeners: [
                udpDnsListenerJson('dns-udp', [dnsPolicy], node.gateway4, proxyPort),
              ],
              clusters: [{ name: 'original-dst', type: 'ORIGINAL_DST', connect_timeout: '2s', lb_policy: 'CLUSTER_PROVIDED' }],
            }),
          );
          const loaded = loadPolicyText(
            'fqdn-policy.yaml',
            cnp(
              'client',
              `  egress:
    - toEntities: [host]
      toPorts: [{ ports: [{ port: "${dnsmasq.port}", protocol: UDP }], rules: { dns: [{ matchPattern: "*" }] } }]
    - toFQDNs: [{ matchName: api.allowed.test }, { matchName: long.allowed.test }, { matchPattern: "*.cdn.test" }]
      toPorts: [{ ports: [{ port: "${serverPort}", protocol: TCP }, { port: "${serverPort}", protocol: UDP }] }]`,
            ),
          );
          assert.deepEqual(loaded.problems, []);

          const startAgent = (options: { udpFlowIdleMs?: number } = {}): Promise<TestAgent> =>
            startTrackedAgent({ cluster, stateDir, policies: loaded.policies, proxyPort, fqdn: options });

          let proxyRunning = false;
          const stopProxy = async () => {
            if (proxyRunning) await h.proxy.close();
            proxyRunning = false;
          };
          const startProxy = async (observer: DnsAnswerObserver) => {
            await stopProxy();
            await h.startProxy({
              ...datapathProxyOptions(cluster),
              dnsAnswerObserver: observer,
            });
            proxyRunning = true;
          };
          const dig = async (name: string) => parseDigOutput((await pods[0]!.exec(DIG, digArgs(dnsmasq, name, 'A'), { timeoutMs: 20_000 })).stdout);
          await fn({ cluster, ips, serverPort, stateDir, dnsmasq, startAgent, startProxy, stopProxy, dig });
        });
      }),
    );
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Sends one unconnected UDP datagram (sendto) every 100 ms for `seconds`; reports the errors. */
const UDP_SENDER = String.raw`
import errno, json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, sent, errors = time.monotonic() + float(sys.argv[3]), 0, []
while time.monotonic() < end:
    try:
        s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
        sent += 1
    except OSError as e:
        errors.append(errno.errorcode.get(e.errno, str(e.errno)))
    time.sleep(0.1)
print(json.dumps({"sent": sent, "errors": errors}), flush=True)
`;

/** A python process in the pod holding one TCP connection open; `echo` sends a line over it. */
async function holdConnection(w: FqdnPodWorld, ip: string): Promise<{ echo(text: string): Promise<Record<string, unknown>>; stop(): void }> {
  const held = new LineProcess(w.cluster.pods[0]!.spawn('python3', ['-c', HOLD_CONNECTION, ip, String(w.serverPort)], { stdio: ['pipe', 'pipe', 'pipe'] }));
  try {
    assert.deepEqual(await held.waitFor((l) => 'connected' in l, 10_000), { connected: true });
  } catch (err) {
    held.stop();
    throw err;
  }
  let echoes = 0;
  return {
    echo: async (text) => {
      held.child.stdin!.write(`${text}\n`);
      const n = ++echoes;
      return held.waitFor((l) => 'echo' in l && held.lines.filter((x) => 'echo' in x).indexOf(l) === n - 1, 5_000);
    },
    stop: () => held.stop(),
  };
}

describe('toFQDNs enforcement from a pod through the DNS proxy', () => {
  test('an answer allows its IP in the kernel before the pod sees it, other IPs are denied, and TTL expiry blocks new connections but not an open one', T, async () => {
    await withFqdnPod(async (w) => {
      const { dp, pods } = w.cluster;
      const pod = pods[0]!;
      const { answerIp, otherIp, cnameIp } = w.ips;
      const agent = await w.startAgent();
      await w.startProxy(agent.observer);
      const fqdn = agent.manager;

      // Nothing learned yet: the kernel denies the address.
      assert.equal((await timedConnect(pod, answerIp, w.serverPort)).code, 'EPERM');

      const answer = await w.dig('api.allowed.test');
      assert.equal(answer.status, 'NOERROR', answer.raw);
      assert.deepEqual(answer.answers.map((a) => a.data), [answerIp]);
      // The proxy held the answer until onAnswer resolved, and by then the kernel had the IP.
      const seen = agent.observed.find((o) => o.event.queryName === 'api.allowed.test');
      assert.ok(seen, 'the observer saw the answer');
      assert.ok(seen.ms < 100, `onAnswer took ${seen.ms} ms, longer than the proxy holds an answer`);
      assert.ok(seen.kernelIdentities.every((id) => id >= 16_777_216), `local identities in the ipcache: ${seen.kernelIdentities}`);
      // The first connect right after the answer: the kernel allows it.
      assert.deepEqual((await timedConnect(pod, answerIp, w.serverPort)).codes, ['OK']);
      assert.deepEqual((await timedConnect(pod, otherIp, w.serverPort)).codes, ['EPERM'], 'an IP no answer returned');

      // A CNAME chain onto a wildcard-selected name: the IP is attributed to the target too.
      const viaCname = await w.dig('shop.alias.test');
      assert.equal(viaCname.status, 'NOERROR', viaCname.raw);
      assert.ok(viaCname.answers.some((a) => a.type === 'CNAME'), viaCname.raw);
      assert.deepEqual((await timedConnect(pod, cnameIp, w.serverPort)).codes, ['OK']);

      // The state directory already holds what a restarted agent needs.
      const saved = await loadFqdnState(w.stateDir);
      assert.ok(saved?.ips.some((i) => i.ip === answerIp && i.selectors.includes('api.allowed.test')));

      // An open connection across the expiry; re-resolve first so the TTL window starts now.
      await w.dig('api.allowed.test');
      const held = await holdConnection(w, answerIp);
      try {
        const deadline = Date.now() + (SHORT_TTL_SECONDS + 5) * 1000;
        while (fqdn.identityOf(answerIp) !== undefined && Date.now() < deadline) await sleep(100);
        assert.equal(fqdn.identityOf(answerIp), undefined, 'the IP expired from the cache');
        assert.equal(dp.ipcache.identityOf(answerIp), 9, 'and the ipcache says world-ipv4 (9) again');
        assert.deepEqual((await timedConnect(pod, answerIp, w.serverPort)).codes, ['EPERM'], 'a new connection after expiry');
        assert.deepEqual(await held.echo('still-open'), { echo: 'still-open' }, 'the open connection keeps working');
      } finally {
        held.stop();
      }
      // The wildcard-selected IP (TTL 60) is still allowed.
      assert.deepEqual((await timedConnect(pod, cnameIp, w.serverPort)).codes, ['OK']);
    });
  });

  test('a restarted agent restores the learned IPs with the same identities before its proxy answers, and drops no connection', T, async () => {
    await withFqdnPod(async (w) => {
      const { dp, pods } = w.cluster;
      const pod = pods[0]!;
      const { longIp } = w.ips;
      const first = await w.startAgent();
      await w.startProxy(first.observer);
      assert.equal((await w.dig('long.allowed.test')).status, 'NOERROR');
      const identity = dp.ipcache.identityOf(longIp);
      assert.ok(identity >= 16_777_216, `a local identity, got ${identity}`);
      const held = await holdConnection(w, longIp);
      try {
        // Agent and proxy down: the kernel's pinned maps still allow, and the open connection works.
        await w.stopProxy();
        await first.stop();
        assert.deepEqual((await timedConnect(pod, longIp, w.serverPort)).codes, ['OK'], 'a new connection while the agent is down');
        assert.deepEqual(await held.echo('agent-down'), { echo: 'agent-down' });

        const second = await w.startAgent();
        assert.equal(second.manager.identityOf(longIp), identity, 'restored with the same identity number');
        assert.equal(dp.ipcache.identityOf(longIp), identity);
        await w.startProxy(second.observer);
        assert.deepEqual((await timedConnect(pod, longIp, w.serverPort)).codes, ['OK'], 'a new connection after the restart');
        assert.deepEqual(await held.echo('agent-back'), { echo: 'agent-back' }, 'the connection opened before the restart');
        const again = await w.dig('long.allowed.test');
        assert.equal(again.status, 'NOERROR', again.raw);
        assert.equal(dp.ipcache.identityOf(longIp), identity, 'a new answer keeps the identity');
      } finally {
        held.stop();
      }
    });
  });
  test('an expired IP stays allowed while the pod keeps sending unconnected UDP to it, and goes once the flow is idle', T, async () => {
    await withFqdnPod(async (w) => {
      const { dp, pods } = w.cluster;
      const { answerIp } = w.ips;
      const agent = await w.startAgent({ udpFlowIdleMs: 1000 });
      await w.startProxy(agent.observer);
      assert.equal((await w.dig('api.allowed.test')).status, 'NOERROR');
      const identity = dp.ipcache.identityOf(answerIp);
      assert.ok(identity >= 16_777_216);
      // sendmsg judges every datagram: this flow would be cut if the expired IP left the ipcache.
      const sender = pods[0]!.exec('python3', ['-c', UDP_SENDER, answerIp, String(w.serverPort), String(SHORT_TTL_SECONDS + 2)], { timeoutMs: 20_000 });
      const deadline = Date.now() + (SHORT_TTL_SECONDS + 2) * 1000;
      while (!agent.manager.snapshot().zombies.some((z) => z.ip === answerIp) && Date.now() < deadline) await sleep(50);
      assert.ok(agent.manager.snapshot().zombies.some((z) => z.ip === answerIp), 'the name expired and the IP is kept for the flow');
      assert.equal(dp.ipcache.identityOf(answerIp), identity, 'still in the ipcache after the TTL');
      const sent = JSON.parse((await sender).stdout.trim().split('\n').pop() ?? '{}') as { sent: number; errors: string[] };
      assert.deepEqual(sent.errors, [], 'no datagram of the open flow was denied');
      assert.ok(sent.sent >= 20, `the flow ran across the expiry (${sent.sent} datagrams)`);
      // Idle for udpFlowIdleMs (1 s): the IP goes, and new traffic is denied.
      const gone = Date.now() + 5_000;
      while (agent.manager.identityOf(answerIp) !== undefined && Date.now() < gone) await sleep(100);
      assert.equal(agent.manager.identityOf(answerIp), undefined);
      assert.equal(dp.ipcache.identityOf(answerIp), 9);
      assert.deepEqual((await timedConnect(pods[0]!, answerIp, w.serverPort)).codes, ['EPERM']);
    });
  });
});
