// The shapes of the agent's other modules, as docs/adr/0007 and the agent contract fix them:
// the local API (agent/api), endpoints (agent/endpoints), the policy store (agent/policy-store),
// flows and metrics (agent/flows, agent/metrics), the proxy link (agent/proxy-link) and the
// inspect routes (agent/inspect). The daemon wires them together through these interfaces, so each
// module can be built and tested on its own.
import type { Logger } from 'pino';
import type { Datapath } from '../../bpf/index.js';
import type { IdentityAllocator, Repository, SelectorCache } from '../../policy/index.js';
import type { NodeNetwork } from '../pods/index.js';
import type { FqdnManager } from '../fqdn/index.js';

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  signal: AbortSignal;
}
export type ApiHandler = (req: ApiRequest) => Promise<unknown> | AsyncIterable<unknown>;
export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  handler: ApiHandler;
}

export interface EndpointInfoShape {
  id: string;
  endpointId: number;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  identity: number;
  ipv4: string;
  ipv6: string;
}

export interface EndpointManagerShape {
  list(): EndpointInfoShape[];
  get(id: string): EndpointInfoShape | undefined;
  routes(): ApiRoute[];
  close(): Promise<void>;
}

export interface EndpointManagerOpenOptions {
  stateDir: string;
  node: NodeNetwork;
  datapath: Datapath;
  allocator: IdentityAllocator;
  selectorCache: SelectorCache;
  repository: Repository;
  logger: Logger;
  onChange(ids: string[]): Promise<void>;
}

export interface PolicyStoreShape {
  isAudit(policyKey: string): boolean;
  routes(): ApiRoute[];
  close(): Promise<void>;
}

export interface PolicyStoreOpenOptions {
  stateDir: string;
  repository: Repository;
  logger: Logger;
  policyDir?: string;
  onChange(): Promise<void>;
}

/** The daemon's handles everything else reads: route handlers, metrics, the CLI's status. */
export interface CoreServices {
  logger: Logger;
  node: NodeNetwork;
  datapath: Datapath;
  allocator: IdentityAllocator;
  selectorCache: SelectorCache;
  repository: Repository;
  fqdn: FqdnManager;
  startedAt: Date;
}
