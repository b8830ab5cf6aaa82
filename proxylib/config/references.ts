// What accepted resources refer to, for the xDS client's named subscriptions (RDS, EDS, SDS) and
// for consistency checks (clusters named by routes and tcp_proxy filters).
import type { ClusterConfig, DownstreamTlsConfig, FilterChainConfig, ListenerConfig, UpstreamTlsConfig } from './types.js';

export interface ListenerReferences {
  /** RouteConfiguration names of HCMs using RDS. */
  routes: string[];
  /** Clusters of tcp_proxy filters and of inline route tables. */
  clusters: string[];
  /** SDS secret names of the chains' TLS contexts. */
  secrets: string[];
}

export interface ClusterReferences {
  /** ClusterLoadAssignment names (EDS service names) to subscribe to. */
  endpoints: string[];
  secrets: string[];
}

export function referencesOfListener(listener: ListenerConfig): ListenerReferences {
  const routes = new Set<string>();
  const clusters = new Set<string>();
  const secrets = new Set<string>();
  const chains: FilterChainConfig[] = [...listener.filterChains, ...(listener.defaultFilterChain ? [listener.defaultFilterChain] : [])];
  for (const chain of chains) {
    if (chain.downstreamTls) for (const s of secretsOfTls(chain.downstreamTls)) secrets.add(s);
    for (const f of chain.networkFilters) {
      if (f.kind === 'tcp_proxy') clusters.add(f.cluster);
      else if (f.kind === 'http_connection_manager') {
        const r = f.hcm.routes;
        if (r.kind === 'rds') routes.add(r.name);
        else for (const c of r.table.clusterNames ?? []) clusters.add(c);
      }
    }
  }
  return { routes: [...routes].sort(), clusters: [...clusters].sort(), secrets: [...secrets].sort() };
}

export function referencesOfCluster(cluster: ClusterConfig): ClusterReferences {
  return {
    endpoints: cluster.discovery.kind === 'eds' ? [cluster.discovery.serviceName] : [],
    secrets: cluster.upstreamTls ? secretsOfTls(cluster.upstreamTls) : [],
  };
}

function secretsOfTls(tls: DownstreamTlsConfig | UpstreamTlsConfig): string[] {
  const names: string[] = [];
  const certs = 'certificates' in tls ? tls.certificates : tls.certificate ? [tls.certificate] : [];
  for (const c of certs) if (c.kind === 'sds') names.push(c.name);
  if (tls.validation?.kind === 'sds') names.push(tls.validation.name);
  return [...new Set(names)].sort();
}
