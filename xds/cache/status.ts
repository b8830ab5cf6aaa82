// What the cache knows about each node's clients, for `meshd xds status` and alerts: when it last
// asked, which version of each type it accepted, and the last NACK with its message.

export interface NackStatus {
  version: string;
  message: string;
  at: Date;
}

export interface TypeStatus {
  typeUrl: string;
  sentVersion?: string;
  ackedVersion?: string;
  ackedAt?: Date;
  lastNack?: NackStatus;
}

export interface NodeStatus {
  nodeId: string;
  lastRequestAt?: Date;
  /** The version of the snapshot that serves the node (its own, or the '*' default). */
  snapshotVersion?: string;
  hasOwnSnapshot: boolean;
  /** Watches waiting for a change (about one per open stream and type). */
  openWatches: number;
  types: TypeStatus[];
}

export class NodeStatusBook {
  private readonly nodes = new Map<string, { lastRequestAt?: Date; types: Map<string, TypeStatus> }>();

  private entry(nodeId: string): { lastRequestAt?: Date; types: Map<string, TypeStatus> } {
    let e = this.nodes.get(nodeId);
    if (!e) this.nodes.set(nodeId, (e = { types: new Map() }));
    return e;
  }

  private type(nodeId: string, typeUrl: string): TypeStatus {
    const types = this.entry(nodeId).types;
    let t = types.get(typeUrl);
    if (!t) types.set(typeUrl, (t = { typeUrl }));
    return t;
  }

  recordRequest(nodeId: string, at: Date): void {
    this.entry(nodeId).lastRequestAt = at;
  }

  recordSent(nodeId: string, typeUrl: string, version: string): void {
    this.type(nodeId, typeUrl).sentVersion = version;
  }

  recordAck(nodeId: string, typeUrl: string, version: string, at: Date): void {
    const t = this.type(nodeId, typeUrl);
    t.ackedVersion = version;
    t.ackedAt = at;
  }

  recordNack(nodeId: string, typeUrl: string, nack: NackStatus): void {
    this.type(nodeId, typeUrl).lastNack = nack;
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  snapshotOf(nodeId: string): { lastRequestAt?: Date; types: TypeStatus[] } {
    const e = this.nodes.get(nodeId);
    if (!e) return { types: [] };
    const types = [...e.types.values()].map((t) => ({ ...t, ...(t.lastNack ? { lastNack: { ...t.lastNack } } : {}) }));
    return e.lastRequestAt ? { lastRequestAt: e.lastRequestAt, types } : { types };
  }
}
