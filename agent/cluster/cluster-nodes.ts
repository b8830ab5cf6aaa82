// Node membership: each agent registers its node (name, node IP, pod CIDRs) under its lease;
// every agent sees nodes join and leave (a node that dies leaves when its lease expires).
import type { ClusterSession } from './cluster-session.js';
import { LeaseBoundRecords } from './lease-bound-records.js';
import { PrefixReflector } from './prefix-reflector.js';

export interface ClusterNode {
  readonly name: string;
  /** Address other nodes route pod traffic to. */
  readonly nodeIp: string;
  readonly podCidrs: readonly string[];
  readonly registeredAt: string;
}

export type NodeEvent = { readonly type: 'join' | 'update'; readonly node: ClusterNode } | { readonly type: 'leave'; readonly node: ClusterNode };
export type NodeListener = (event: NodeEvent) => void;

export class ClusterNodes {
  readonly #session: ClusterSession;
  readonly #own: LeaseBoundRecords;
  readonly #nodes = new Map<string, ClusterNode>();
  readonly #reflector: PrefixReflector;
  #listeners: NodeListener[] = [];

  private constructor(session: ClusterSession) {
    this.#session = session;
    this.#own = new LeaseBoundRecords(session);
    this.#reflector = new PrefixReflector({
      client: session.client,
      prefix: session.keys.nodes,
      logger: session.logger,
      handlers: {
        onPut: (key, value) => {
          const node = this.#decode(value.value);
          if (!node) return;
          const known = this.#nodes.has(key);
          this.#nodes.set(key, node);
          this.#emit({ type: known ? 'update' : 'join', node });
        },
        onDelete: (key) => {
          const node = this.#nodes.get(key);
          if (!node) return;
          this.#nodes.delete(key);
          this.#emit({ type: 'leave', node });
        },
      },
    });
  }

  /** Registers this node and mirrors the membership; resolves after the initial list. */
  static async open(o: { session: ClusterSession; self: { nodeIp: string; podCidrs: readonly string[] }; listener?: NodeListener }): Promise<ClusterNodes> {
    const nodes = new ClusterNodes(o.session);
    if (o.listener) nodes.#listeners.push(o.listener);
    const self: ClusterNode = { name: o.session.nodeName, nodeIp: o.self.nodeIp, podCidrs: [...o.self.podCidrs], registeredAt: new Date().toISOString() };
    await nodes.#own.put(o.session.keys.node(self.name), JSON.stringify(self));
    await nodes.#reflector.start();
    return nodes;
  }

  list(): ClusterNode[] {
    return [...this.#nodes.values()];
  }

  get(name: string): ClusterNode | undefined {
    return this.#nodes.get(this.#session.keys.node(name));
  }

  onChange(listener: NodeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  async close(): Promise<void> {
    this.#own.close();
    await this.#reflector.close();
  }

  #decode(value: string): ClusterNode | undefined {
    try {
      const n = JSON.parse(value) as Partial<ClusterNode>;
      if (typeof n.name !== 'string' || typeof n.nodeIp !== 'string' || !Array.isArray(n.podCidrs)) throw new Error('missing name, nodeIp or podCidrs');
      return { name: n.name, nodeIp: n.nodeIp, podCidrs: n.podCidrs.map(String), registeredAt: String(n.registeredAt ?? '') };
    } catch (err) {
      this.#session.logger.warn({ code: 'MESHD_ERR_CLUSTER_BAD_RECORD', err: String(err) }, 'ignoring an undecodable node record');
      return undefined;
    }
  }

  #emit(event: NodeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#session.logger.error({ err: String(err) }, 'node listener failed');
      }
    }
  }
}
