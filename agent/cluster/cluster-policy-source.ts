// Policies distributed through etcd: `meshd policy apply` on any node puts each applied document
// (its original text) under <p>/policies/<kind>/<namespace>/<name>; every node watches the tree and
// feeds what changes to its PolicyStore. Policy records have no lease: they outlive the node that
// applied them, like a Kubernetes object.
import type { ClusterSession } from './cluster-session.js';
import { PrefixReflector } from './prefix-reflector.js';

export interface ClusterPolicyRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export interface ClusterPolicyDocument extends ClusterPolicyRef {
  /** The document's original text (YAML or JSON), as applied. */
  readonly text: string;
  /** The node that applied it, and when. */
  readonly node: string;
  readonly appliedAt: string;
  /** etcd mod revision: orders changes of the same policy. */
  readonly revision: number;
}

export type PolicyEvent = { readonly type: 'put'; readonly document: ClusterPolicyDocument } | { readonly type: 'delete'; readonly document: ClusterPolicyDocument };
export type PolicyListener = (event: PolicyEvent) => void;

export class ClusterPolicySource {
  readonly #session: ClusterSession;
  readonly #documents = new Map<string, ClusterPolicyDocument>();
  readonly #reflector: PrefixReflector;
  #listeners: PolicyListener[] = [];

  private constructor(session: ClusterSession) {
    this.#session = session;
    this.#reflector = new PrefixReflector({
      client: session.client,
      prefix: session.keys.policies,
      logger: session.logger,
      handlers: {
        onPut: (key, value) => {
          const document = this.#decode(value.value, value.modRevision);
          if (!document) return;
          this.#documents.set(key, document);
          this.#emit({ type: 'put', document });
        },
        onDelete: (key) => {
          const document = this.#documents.get(key);
          if (!document) return;
          this.#documents.delete(key);
          this.#emit({ type: 'delete', document });
        },
      },
    });
  }

  /** Resolves after the initial list; `listener` sees every document of it as a 'put'. */
  static async open(o: { session: ClusterSession; listener?: PolicyListener }): Promise<ClusterPolicySource> {
    const source = new ClusterPolicySource(o.session);
    if (o.listener) source.#listeners.push(o.listener);
    await source.#reflector.start();
    return source;
  }

  /** Publishes one validated document. Resolves when etcd acknowledged it (durable). */
  async put(ref: ClusterPolicyRef, text: string): Promise<void> {
    this.#session.assertOpen();
    const record = { kind: ref.kind, ...(ref.namespace ? { namespace: ref.namespace } : {}), name: ref.name, text, node: this.#session.nodeName, appliedAt: new Date().toISOString() };
    await this.#session.client.put(this.#session.keys.policy(ref.kind, ref.namespace, ref.name)).value(JSON.stringify(record));
  }

  async delete(ref: ClusterPolicyRef): Promise<void> {
    this.#session.assertOpen();
    await this.#session.client.delete().key(this.#session.keys.policy(ref.kind, ref.namespace, ref.name));
  }

  get(ref: ClusterPolicyRef): ClusterPolicyDocument | undefined {
    return this.#documents.get(this.#session.keys.policy(ref.kind, ref.namespace, ref.name));
  }

  list(): ClusterPolicyDocument[] {
    return [...this.#documents.values()];
  }

  onChange(listener: PolicyListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  async close(): Promise<void> {
    await this.#reflector.close();
  }

  #decode(value: string, revision: number): ClusterPolicyDocument | undefined {
    try {
      const d = JSON.parse(value) as Partial<ClusterPolicyDocument>;
      if (typeof d.kind !== 'string' || typeof d.name !== 'string' || typeof d.text !== 'string') throw new Error('missing kind, name or text');
      return { kind: d.kind, ...(typeof d.namespace === 'string' ? { namespace: d.namespace } : {}), name: d.name, text: d.text, node: String(d.node ?? ''), appliedAt: String(d.appliedAt ?? ''), revision };
    } catch (err) {
      this.#session.logger.warn({ code: 'MESHD_ERR_CLUSTER_BAD_RECORD', err: String(err) }, 'ignoring an undecodable policy record');
      return undefined;
    }
  }

  #emit(event: PolicyEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#session.logger.error({ err: String(err) }, 'policy listener failed');
      }
    }
  }
}
