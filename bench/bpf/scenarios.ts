// The three comparisons of the issue, each as pods + servers + variants + workloads:
//   policy   — new connections between two pods under an egress policy of N entries:
//              meshd's eBPF policy trie vs iptables with N rules (nft and legacy backends);
//   redirect — connections redirected into a relay on the node (the proxy's place):
//              meshd's cgroup/connect4 rewrite vs an iptables DNAT in the client pod;
//   sockhash — app ↔ proxy traffic of a redirected connection with and without meshd's
//              sockops + sk_msg short-circuit.
// Every variant has a client pod of its own, so its programs or rules touch nobody else's
// traffic, and all variants can be interleaved without reconfiguring anything in between.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeNetwork, Pod } from '../../agent/index.js';
import { benchPolicy, type BenchDatapath } from './ebpf.js';
import type { BpfBenchFlags, ScenarioName } from './flags.js';
import { loadRules, policyRules, redirectRules } from './iptables.js';
import type { Loadgen } from './loadgen.js';
import { crr, rr, tput, type Variant, type Workload } from './measure.js';
import type { Comparison } from './report.js';

export const SERVER_POD = 'server';
export const DIRECT_POD = 'direct';
const SERVER_IDENTITY = 50_000;
/** The server's ports (loadgen srv): echo, sink, echo-once-then-close. */
const SERVER_PORTS = { echo: 7000, sink: 7001, once: 7002 };
const RELAY_EBPF_PORT = 15101;
const RELAY_IPT_PORTS = { echo: 15102, once: 15103 };
const PROXY_SERVER_BASE_PORT = 15201;
const PROBE_TIMEOUT_MS = 700;

export interface ScenarioContext {
  node: NodeNetwork;
  pods: ReadonlyMap<string, Pod>;
  loadgen: Loadgen;
  flags: BpfBenchFlags;
  /** meshd's datapath, opened on first use (with the server's identity in the ipcache). */
  datapath(): BenchDatapath;
  log(line: string): void;
}

export interface ScenarioRun {
  variants: Variant[];
  labels: Map<string, string>;
  workloads: Workload[];
  baseline: string;
  comparisons: Comparison[];
  /** Sentences printed under the tables: how the variants are set up. */
  notes: string[];
}

export interface ScenarioPlan {
  name: ScenarioName;
  title: string;
  podNames: string[];
  setup(ctx: ScenarioContext): Promise<ScenarioRun>;
}

let nextEndpointId = 1;
function attachEndpoint(ctx: ScenarioContext, pod: Pod, policy: Parameters<typeof benchPolicy>[0]): void {
  const id = nextEndpointId++;
  ctx.datapath().attach(pod, id, SERVER_IDENTITY + id, benchPolicy(policy));
}

function pod(ctx: ScenarioContext, name: string): Pod {
  const p = ctx.pods.get(name);
  if (!p) throw new Error(`bench: pod ${name} was not created`);
  return p;
}

function toServer(server: Pod): (w: Workload) => { host: string; port: number } {
  return (w) => ({ host: server.ipv4, port: w.port });
}

/** Connects from `from` to host:port once; 'open', an errno code, or 'timeout' (a dropped SYN). */
const PROBE = `const s=require('node:net').connect({host:process.argv[1],port:+process.argv[2]});
const t=setTimeout(()=>{console.log('timeout');process.exit(0)},+process.argv[3]);
s.on('connect',()=>{console.log('open');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;

async function probe(from: Pod, host: string, port: number): Promise<string> {
  const r = await from.exec(process.execPath, ['-e', PROBE, host, String(port), String(PROBE_TIMEOUT_MS)], { timeoutMs: 10_000 });
  return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
}

async function expectProbe(from: Pod, host: string, port: number, wanted: (outcome: string) => boolean, what: string): Promise<void> {
  const outcome = await probe(from, host, port);
  if (!wanted(outcome)) throw new Error(`sanity check failed: ${from.name} → ${host}:${port} gave ${outcome}; expected ${what}`);
}

// ---- policy ---------------------------------------------------------------------------------

function policyPlan(flags: BpfBenchFlags): ScenarioPlan {
  const podNames = [DIRECT_POD];
  for (const n of flags.POLICY_SIZES) podNames.push(...(flags.EBPF ? [`a-ebpf-${n}`] : []), ...flags.IPTABLES.map((b) => `a-${b}-${n}`));
  return {
    name: 'policy',
    title: 'New connections between two pods under an egress policy of N entries',
    podNames,
    async setup(ctx) {
      const server = pod(ctx, SERVER_POD);
      const allowPorts = [SERVER_PORTS.echo, SERVER_PORTS.once];
      const variants: Variant[] = [{ name: 'direct', client: pod(ctx, DIRECT_POD), target: toServer(server) }];
      const labels = new Map([['direct', 'direct (no policy)']]);
      const comparisons: Comparison[] = [];
      const ebpf = ctx.flags.EBPF;
      for (const n of ctx.flags.POLICY_SIZES) {
        if (ebpf) {
          const ebpfPod = pod(ctx, `a-ebpf-${n}`);
          ctx.log(`  eBPF policy trie with ${n} entries for ${ebpfPod.name}`);
          attachEndpoint(ctx, ebpfPod, { size: n, serverIdentity: SERVER_IDENTITY, allowPorts });
          variants.push({ name: `ebpf-${n}`, client: ebpfPod, target: toServer(server) });
          labels.set(`ebpf-${n}`, `eBPF policy, ${n} entries`);
        }
        for (const backend of ctx.flags.IPTABLES) {
          const p = pod(ctx, `a-${backend}-${n}`);
          ctx.log(`  iptables-${backend}: ${n} rules in ${p.name}'s OUTPUT chain`);
          await loadRules(p, backend, policyRules(n, server.ipv4, allowPorts), 'filter', n);
          variants.push({ name: `${backend}-${n}`, client: p, target: toServer(server) });
          labels.set(`${backend}-${n}`, `iptables-${backend}, ${n} rules`);
          if (ebpf) comparisons.push({ label: `eBPF ${n} ÷ iptables-${backend} ${n}`, contender: `ebpf-${n}`, reference: `${backend}-${n}` });
        }
      }
      // Each policy lets the two allowed ports through and stops the sink port (7001).
      await expectProbe(pod(ctx, DIRECT_POD), server.ipv4, SERVER_PORTS.sink, (o) => o === 'open', 'open');
      for (const v of variants.slice(1)) {
        await expectProbe(v.client, server.ipv4, SERVER_PORTS.once, (o) => o === 'open', 'open');
        await expectProbe(v.client, server.ipv4, SERVER_PORTS.sink, (o) => o !== 'open', 'blocked');
      }
      const sizes = ctx.flags.POLICY_SIZES;
      const [smallest, largest] = [Math.min(...sizes), Math.max(...sizes)];
      if (smallest !== largest) {
        if (ebpf) comparisons.unshift({ label: `eBPF ${largest} ÷ eBPF ${smallest}`, contender: `ebpf-${largest}`, reference: `ebpf-${smallest}`, aim: 0.9 });
        for (const backend of ctx.flags.IPTABLES) {
          comparisons.push({ label: `iptables-${backend} ${largest} ÷ ${smallest}`, contender: `${backend}-${largest}`, reference: `${backend}-${smallest}` });
        }
      }
      return {
        variants,
        labels,
        workloads: [crr, rr(64)],
        baseline: 'direct',
        comparisons,
        notes: [
          'Client and server are pods on this node; pod → host veth → forwarded → server pod. Each variant has its own client pod.',
          'eBPF: meshd Datapath, the client pod attached as an endpoint (connect4/6, sendmsg, sockops, cgroup_skb ingress, …), egress default-deny, a policy trie of N entries (2 sentinels, N−4 filler peers with one port each, the 2 allowed ports of the server).',
          'iptables: N rules in the client pod netns filter OUTPUT (N−3 fillers, the 2 allows last, then DROP for other TCP): every packet the client sends walks the chain (linear rules, no ESTABLISHED shortcut). meshd decides once per connection, at connect().',
          'crr: connect, 64 B request, 64 B response, server closes; rr: 64 B ping-pong on one connection.',
        ],
      };
    },
  };
}

// ---- redirect -------------------------------------------------------------------------------

function redirectPlan(flags: BpfBenchFlags): ScenarioPlan {
  return {
    name: 'redirect',
    title: 'Redirect into a relay on the node: cgroup/connect4 vs iptables DNAT',
    podNames: [DIRECT_POD, ...(flags.EBPF ? ['b-ebpf'] : []), ...flags.IPTABLES.map((b) => `b-${b}`)],
    async setup(ctx) {
      const server = pod(ctx, SERVER_POD);
      const gateway = ctx.node.gateway4;
      const ebpf = ctx.flags.EBPF;
      const variants: Variant[] = [{ name: 'direct', client: pod(ctx, DIRECT_POD), target: toServer(server) }];
      const labels = new Map([['direct', 'direct (no relay)']]);
      if (ebpf) {
        const ebpfPod = pod(ctx, 'b-ebpf');
        attachEndpoint(ctx, ebpfPod, {
          size: 4,
          serverIdentity: SERVER_IDENTITY,
          redirects: new Map([
            [SERVER_PORTS.echo, RELAY_EBPF_PORT],
            [SERVER_PORTS.once, RELAY_EBPF_PORT],
          ]),
        });
        variants.push({ name: 'ebpf', client: ebpfPod, target: toServer(server) });
        labels.set('ebpf', 'eBPF connect4 → relay');
      }
      const comparisons: Comparison[] = [];
      for (const backend of ctx.flags.IPTABLES) {
        const p = pod(ctx, `b-${backend}`);
        const rules = redirectRules(server.ipv4, gateway, new Map([[SERVER_PORTS.echo, RELAY_IPT_PORTS.echo], [SERVER_PORTS.once, RELAY_IPT_PORTS.once]]));
        await loadRules(p, backend, rules, 'nat', 2);
        variants.push({ name: backend, client: p, target: toServer(server) });
        labels.set(backend, `iptables-${backend} DNAT → relay`);
        if (ebpf) comparisons.push({ label: `eBPF ÷ iptables-${backend}`, contender: 'ebpf', reference: backend });
      }
      // Redirected before any relay listens: the connection must be refused at the relay's
      // address, while the direct pod reaches the server.
      await expectProbe(pod(ctx, DIRECT_POD), server.ipv4, SERVER_PORTS.echo, (o) => o === 'open', 'open');
      for (const v of variants.slice(1)) await expectProbe(v.client, server.ipv4, SERVER_PORTS.echo, (o) => o === 'ECONNREFUSED', 'ECONNREFUSED (redirected to a closed relay port)');

      // The eBPF relay asks SO_ORIGINAL_DST (answered by meshd_getsockopt on the proxy cgroup);
      // the iptables relays have their upstream fixed per port, because the DNAT's conntrack
      // entry is in the client pod's netns, where the node relay cannot ask it.
      if (ebpf) await ctx.loadgen.startServer({ cgroup: ctx.node.proxyCgroup }, ['relay', gateway, String(RELAY_EBPF_PORT)]);
      const iptRelayCgroup = join(ctx.node.nodeCgroup, 'relay-ipt');
      mkdirSync(iptRelayCgroup, { recursive: true });
      await ctx.loadgen.startServer({ cgroup: iptRelayCgroup }, ['relay', gateway, String(RELAY_IPT_PORTS.echo), server.ipv4, String(SERVER_PORTS.echo)]);
      await ctx.loadgen.startServer({ cgroup: iptRelayCgroup }, ['relay', gateway, String(RELAY_IPT_PORTS.once), server.ipv4, String(SERVER_PORTS.once)]);
      return {
        variants,
        labels,
        workloads: [crr, rr(64)],
        baseline: 'direct',
        comparisons,
        notes: [
          `The relay (bench/bpf/loadgen.c relay) runs on the node at ${gateway}, the pods' gateway and the address meshd redirects to; it connects to the original destination and copies bytes both ways. Every redirected connection is two TCP connections.`,
          `eBPF: meshd Datapath with an L7 entry for the server's ports → connect4 rewrites to ${gateway}:${RELAY_EBPF_PORT}, sockops records the original destination, the relay asks SO_ORIGINAL_DST (meshd_getsockopt). No conntrack anywhere.`,
          `iptables: nat OUTPUT DNAT in the client pod netns to ${gateway}:${RELAY_IPT_PORTS.echo}/${RELAY_IPT_PORTS.once} (conntrack + NAT in the client pod). The conntrack entry lives in the pod netns, so these relays are given their upstream per port instead of asking SO_ORIGINAL_DST (one syscall less than the eBPF relay).`,
        ],
      };
    },
  };
}

// ---- sockhash -------------------------------------------------------------------------------

function sockhashPlan(): ScenarioPlan {
  return {
    name: 'sockhash',
    title: 'App ↔ proxy with and without the sockhash (sockops + sk_msg)',
    podNames: [DIRECT_POD, 'c-app'],
    async setup(ctx) {
      const server = pod(ctx, SERVER_POD);
      const app = pod(ctx, 'c-app');
      const gateway = ctx.node.gateway4;
      const toProxy = (servicePort: number) => PROXY_SERVER_BASE_PORT + (servicePort - SERVER_PORTS.echo);
      attachEndpoint(ctx, app, {
        size: 5,
        serverIdentity: SERVER_IDENTITY,
        redirects: new Map(Object.values(SERVER_PORTS).map((p) => [p, toProxy(p)])),
      });
      await expectProbe(app, server.ipv4, SERVER_PORTS.echo, (o) => o === 'ECONNREFUSED', 'ECONNREFUSED (redirected to a closed proxy port)');
      // The "proxy" answers itself (echo / sink), so the app ↔ proxy hop is measured alone.
      await ctx.loadgen.startServer({ cgroup: ctx.node.proxyCgroup }, ['srv', gateway, String(PROXY_SERVER_BASE_PORT)]);
      const datapath = ctx.datapath();
      return {
        variants: [
          { name: 'plain', client: pod(ctx, DIRECT_POD), target: (w) => ({ host: gateway, port: toProxy(w.port) }) },
          { name: 'redirect', client: app, target: toServer(server), before: () => datapath.setAcceleration(false) },
          { name: 'sockhash', client: app, target: toServer(server), before: () => datapath.setAcceleration(true) },
        ],
        labels: new Map([
          ['plain', 'to the proxy address, no eBPF'],
          ['redirect', 'eBPF redirect, no sockhash'],
          ['sockhash', 'eBPF redirect + sockhash'],
        ]),
        workloads: [rr(64), rr(4096), tput(65536), tput(1024), crr],
        baseline: 'redirect',
        comparisons: [
          { label: 'sockhash ÷ no sockhash', contender: 'sockhash', reference: 'redirect' },
          { label: 'eBPF redirect ÷ plain connection to the proxy', contender: 'redirect', reference: 'plain' },
        ],
        notes: [
          `The app pod connects to the server's address; meshd redirects it to an echo/sink server in the proxy cgroup at ${gateway} (the proxy answering itself), so only the app ↔ proxy hop is measured.`,
          'sockhash: Datapath opened with socketAcceleration (sockops puts both ends of the redirected connection into the sockhash, sk_msg hands each sendmsg to the peer socket). The datapath is reopened to switch it, between measurements.',
          'rr: ping-pong on one connection; tput: one connection writing into the sink for the whole period (writer-side rate).',
        ],
      };
    },
  };
}

export function scenarioPlans(flags: BpfBenchFlags): ScenarioPlan[] {
  const all = { policy: policyPlan(flags), redirect: redirectPlan(flags), sockhash: sockhashPlan() };
  // The sockhash scenario is meshd's datapath against itself: nothing to run without it.
  return flags.SCENARIOS.filter((name) => flags.EBPF || name !== 'sockhash').map((name) => all[name]);
}
