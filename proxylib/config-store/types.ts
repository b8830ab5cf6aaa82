// The configuration the proxy currently runs with: every accepted (compiled) resource by name. The
// xDS client applies each response to it resource by resource (refused resources keep their previous
// version and are NACKed); the data plane reads it per connection and per request, and listens for
// changes.
import type { ClusterConfig, ConfigProblem, EndpointSet, ListenerConfig, RouteTable, SecretMaterial } from '../config/types.js';

export type ResourceKind = 'listener' | 'route' | 'cluster' | 'endpoints' | 'secret';

export interface ConfigChange {
  kind: ResourceKind;
  added: string[];
  updated: string[];
  removed: string[];
}

export interface ConfigView {
  listener(name: string): ListenerConfig | undefined;
  listenerNames(): string[];
  routeTable(name: string): RouteTable | undefined;
  cluster(name: string): ClusterConfig | undefined;
  /** By ClusterLoadAssignment.cluster_name (the EDS service name). */
  endpoints(name: string): EndpointSet | undefined;
  secret(name: string): SecretMaterial | undefined;
  /** Called after every applied change, synchronously, in apply order. Returns an unsubscribe. */
  onChange(listener: (change: ConfigChange) => void): () => void;
}

export interface ConfigApplyResult {
  /** Problems of the refused resources (empty: everything applied). Non-empty → NACK with these. */
  problems: ApplyProblem[];
  warnings: string[];
  /** Names applied (active, or warming for listeners and clusters). */
  applied: string[];
  /** Names refused: each keeps its previous version, if any. */
  refused: string[];
}

/** One resource of an xDS update: its name (ClusterLoadAssignment: cluster_name), version and decoded message. */
export interface ResourceUpdate<M = unknown> {
  name: string;
  version: string;
  message: M;
}

/** A problem of one resource in a rejected update: `resource` names it, `path` is inside it. */
export interface ApplyProblem extends ConfigProblem {
  kind: ResourceKind;
  resource: string;
}

/** Names the accepted resources refer to, which the xDS client subscribes to by name. */
export interface ConfigReferences {
  /** RDS route configuration names (HCM `rds.route_config_name`). */
  routes: ReadonlySet<string>;
  /** EDS service names of EDS clusters. */
  endpoints: ReadonlySet<string>;
  /** SDS secret names of downstream and upstream TLS contexts. */
  secrets: ReadonlySet<string>;
}
