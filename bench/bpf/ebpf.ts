// The eBPF contenders: meshd's own datapath (bpf/ Datapath), loaded under a pin root of the
// bench's own and attached to the variant's client pod only. Policies go through the same
// translation the agent uses (translateEndpointPolicy), so the tries are what meshd installs.

import { rmSync } from 'node:fs';
import { Datapath, translateEndpointPolicy, type PolicyMapContent } from '../../bpf/index.js';
import type { LabelSelector, PolicyEntry } from '../../policy/index.js';
import type { NodeNetwork, Pod } from '../../agent/index.js';

/** First identity of the filler peers; the bench's endpoints use 50 000 and up. */
const FILLER_IDENTITY_BASE = 100_000;

export class BenchDatapath {
  readonly #node: NodeNetwork;
  readonly #pinRoot: string;
  #datapath: Datapath;
  #acceleration: boolean;

  private constructor(node: NodeNetwork, pinRoot: string, acceleration: boolean) {
    this.#node = node;
    this.#pinRoot = pinRoot;
    this.#acceleration = acceleration;
    this.#datapath = this.#open();
  }

  static open(node: NodeNetwork, pinRoot: string): BenchDatapath {
    return new BenchDatapath(node, pinRoot, false);
  }

  #open(): Datapath {
    return Datapath.open({
      pinRoot: this.#pinRoot,
      proxyCgroup: this.#node.proxyCgroup,
      podsCgroup: this.#node.podsCgroup,
      nodeProxyAddress: { ipv4: this.#node.gateway4, ipv6: this.#node.gateway6 },
      socketAcceleration: this.#acceleration,
    });
  }

  /** Socket acceleration (sockops + sk_msg) is a load-time option: switching it reopens the
   *  datapath, which swaps the programs into the pinned links and writes the config. */
  setAcceleration(on: boolean): void {
    if (on === this.#acceleration) return;
    this.#acceleration = on;
    this.#datapath.close();
    this.#datapath = this.#open();
  }

  /** `pod` becomes endpoint `id` with `identity`, egress enforced by `policy`. */
  attach(pod: Pod, id: number, identity: number, policy: PolicyMapContent): void {
    this.#datapath.attachEndpoint({ id, cgroupPath: pod.cgroupPath, identity, ingressEnforced: false, egressEnforced: true, ipv4: pod.ipv4, ipv6: pod.ipv6 });
    this.#datapath.replacePolicy(id, policy);
  }

  /** The peer's addresses → its identity (what the agent's ipcache sync does). */
  setIdentity(pod: Pod, identity: number): void {
    this.#datapath.ipcache.upsert(`${pod.ipv4}/32`, identity);
    this.#datapath.ipcache.upsert(`${pod.ipv6}/128`, identity);
  }

  /** Detaches everything and removes the pins. Safe to call twice. */
  unload(): void {
    try {
      this.#datapath.unload();
    } catch {
      this.#datapath.close();
    }
    rmSync(this.#pinRoot, { recursive: true, force: true });
  }
}

export interface BenchPolicy {
  /** Trie entries in total (sentinels included), as close as the translation allows. */
  size: number;
  serverIdentity: number;
  /** Plain allows to the server. */
  allowPorts?: readonly number[];
  /** L7 entries to the server: port → node proxy port. */
  redirects?: ReadonlyMap<number, number>;
}

function anyPeer(key: string, value: string): LabelSelector {
  return { requirements: [{ source: 'any', key, operator: 'In', values: [value] }] };
}

function egressEntry(peer: LabelSelector, port: number, isL7: boolean): PolicyEntry {
  return {
    direction: 'egress',
    peers: [peer],
    protocol: 'TCP',
    portStart: port,
    portEnd: port,
    isDeny: false,
    ...(isL7 ? { l7: { type: 'http' as const, http: [] } } : {}),
    isL7VisibilityOnly: false,
    serverNames: [],
    origin: { kind: 'allow-localhost' },
  };
}

/**
 * An egress policy for the client pod: `size - 2 - real entries` fillers (each a different peer
 * identity on its own port, like one rule per remote service), then the real entries to the
 * server. Translated as the agent would: two sentinels + one key per filler and real entry.
 */
export function benchPolicy(p: BenchPolicy): PolicyMapContent {
  const identities = new Map<LabelSelector, number>();
  const server = anyPeer('bench-role', 'server');
  identities.set(server, p.serverIdentity);
  const real: PolicyEntry[] = [
    ...(p.allowPorts ?? []).map((port) => egressEntry(server, port, false)),
    ...[...(p.redirects?.keys() ?? [])].map((port) => egressEntry(server, port, true)),
  ];
  const fillers: PolicyEntry[] = [];
  for (let i = 0; i < Math.max(0, p.size - 2 - real.length); i++) {
    const peer = anyPeer('bench-filler', String(i));
    identities.set(peer, FILLER_IDENTITY_BASE + i);
    fillers.push(egressEntry(peer, 1024 + (i % 60000), false));
  }
  const content = translateEndpointPolicy(
    {
      ingress: { isDefaultDeny: false, entries: [], rules: [] },
      egress: { isDefaultDeny: true, entries: [...fillers, ...real], rules: [] },
    },
    {
      identitiesOf: (selector) => [identities.get(selector)!],
      proxyPortOf: (_type, _direction, port) => p.redirects?.get(port),
    },
  );
  if (content.skipped.length > 0) throw new Error(`bench policy: ${content.skipped.length} entries skipped: ${content.skipped[0]!.reason}`);
  return content;
}
