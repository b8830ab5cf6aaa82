// Snapshot consistency, as go-control-plane's Snapshot.Consistent() and stricter: a listener must never
// reach a node before the routes and clusters it names exist for that node (xDS protocol, "eventual
// consistency considerations"), and an unreferenced route configuration or endpoint set is a sign that
// the translation and the snapshot disagree.
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { collectClusterReferences, collectListenerReferences, collectRouteConfigReferences, emptyReferences } from './references.js';

export interface ConsistencyInput {
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpointNames: ReadonlySet<string>;
  secretNames: ReadonlySet<string>;
  decodeProblems: string[];
}

export function findConsistencyProblems(input: ConsistencyInput): string[] {
  const refs = emptyReferences();
  for (const l of input.listeners) collectListenerReferences(l, refs);
  for (const r of input.routes) collectRouteConfigReferences(r, refs);
  for (const c of input.clusters) collectClusterReferences(c, refs);
  const problems = [...input.decodeProblems, ...refs.problems];
  const routeNames = new Set(input.routes.map((r) => r.name));
  const clusterNames = new Set(input.clusters.map((c) => c.name));

  for (const ref of refs.routes) if (!routeNames.has(ref.name)) problems.push(`${ref.from} refers to route configuration "${ref.name}", which the snapshot does not have`);
  const referencedRoutes = new Set(refs.routes.map((r) => r.name));
  for (const name of routeNames) if (!referencedRoutes.has(name)) problems.push(`route configuration "${name}" is not referred to by any listener`);

  for (const ref of refs.endpoints) if (!input.endpointNames.has(ref.name)) problems.push(`${ref.from} needs endpoints "${ref.name}", which the snapshot does not have`);
  const referencedEndpoints = new Set(refs.endpoints.map((r) => r.name));
  for (const name of input.endpointNames) if (!referencedEndpoints.has(name)) problems.push(`endpoints "${name}" are not referred to by any EDS cluster`);

  for (const ref of refs.clusters) if (!clusterNames.has(ref.name)) problems.push(`${ref.from} routes to cluster "${ref.name}", which the snapshot does not have`);
  for (const ref of refs.secrets) if (!input.secretNames.has(ref.name)) problems.push(`${ref.from} refers to secret "${ref.name}", which the snapshot does not have`);
  return problems;
}
