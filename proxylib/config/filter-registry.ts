// Network filters by typed_config type name: what a filter chain may contain and how each one
// compiles. The HTTP connection manager, tcp_proxy and the network RBAC filter are built in; meshd's
// own L7 filters (Kafka, DNS) add themselves with registerNetworkFilter, one file each, and until
// they do a chain that carries one is NACKed with the filter's path.
import type { Message } from '@bufbuild/protobuf';
import type { envoy } from '../../xds/index.js';
import { compileNetworkRbac } from '../rbac/index.js';
import { checkSupportedFields } from './field-walker.js';
import { compileHcm } from './hcm.js';
import { at, checkedDurationMs, type Problems } from './problems.js';
import { HttpConnectionManagerSchema, NetworkRbacSchema, TcpProxySchema } from './schemas.js';
import type { NetworkFilterConfig } from './types.js';

export interface NetworkFilterContext {
  /** The filter's name in the chain (Filter.name). */
  name: string;
  /** Path of the filter's typed_config from the resource root; report problems below it. */
  path: string;
  problems: Problems;
}

/** Compiles one decoded typed_config; returns undefined after reporting problems into ctx.problems. */
export type NetworkFilterCompiler = (config: Message, ctx: NetworkFilterContext) => NetworkFilterConfig | undefined;

interface NetworkFilterEntry {
  /** Terminal filters end a chain (they own the connection's bytes); exactly the last filter is one. */
  terminal: boolean;
  compile: NetworkFilterCompiler;
}

const networkFilters = new Map<string, NetworkFilterEntry>();

/**
 * Adds (or replaces) the compiler of a network filter type, e.g. `meshd.filters.kafka.v1.KafkaPolicy`.
 * A meshd filter's compiler returns `{ kind: 'meshd', name, typeName, config }`.
 */
export function registerNetworkFilter(typeName: string, compile: NetworkFilterCompiler, options: { terminal: boolean } = { terminal: true }): void {
  networkFilters.set(typeName, { terminal: options.terminal, compile });
}

export function networkFilterOf(typeName: string): NetworkFilterEntry | undefined {
  return networkFilters.get(typeName);
}

/** Envoy's tcp_proxy idle_timeout default. */
export const TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS = 60 * 60_000;

registerNetworkFilter(HttpConnectionManagerSchema.typeName, (config, ctx) => {
  const hcm = compileHcm(ctx.problems, ctx.path, config as envoy.HttpConnectionManager);
  return hcm ? { kind: 'http_connection_manager', name: ctx.name, hcm } : undefined;
});

registerNetworkFilter(TcpProxySchema.typeName, (config, ctx) => {
  const tcp = config as envoy.TcpProxy;
  const p = ctx.problems;
  const before = p.items.length;
  checkSupportedFields(TcpProxySchema, tcp, ctx.path, p);
  if (tcp.statPrefix === '') p.add(at(ctx.path, 'stat_prefix'), 'must not be empty');
  if (tcp.clusterSpecifier.case === undefined) p.add(ctx.path, 'needs cluster');
  else if (tcp.clusterSpecifier.case === 'cluster' && tcp.clusterSpecifier.value === '') p.add(at(ctx.path, 'cluster'), 'must not be empty');
  const idleTimeoutMs = checkedDurationMs(p, at(ctx.path, 'idle_timeout'), tcp.idleTimeout, TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS);
  if (p.items.length > before || tcp.clusterSpecifier.case !== 'cluster') return undefined;
  return { kind: 'tcp_proxy', name: ctx.name, statPrefix: tcp.statPrefix, cluster: tcp.clusterSpecifier.value, idleTimeoutMs };
});

registerNetworkFilter(
  NetworkRbacSchema.typeName,
  (config, ctx) => {
    // The RBAC compiler checks every field of its config (rules, shadow rules, enforcement type...).
    const rbac = ctx.problems.take(compileNetworkRbac(config as envoy.NetworkRbac, ctx.path, ctx.name));
    return rbac ? { kind: 'rbac', name: ctx.name, rbac } : undefined;
  },
  { terminal: false },
);
