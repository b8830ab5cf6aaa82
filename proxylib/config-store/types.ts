// The configuration the proxy currently runs with: every accepted (compiled) resource by name. The
// xDS client applies whole responses to it (or NACKs them and leaves it untouched); the data plane
// reads it per connection and per request, and listens for changes.
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
  /** Empty when applied; otherwise nothing was applied (NACK with these). */
  problems: ConfigProblem[];
  warnings: string[];
}
