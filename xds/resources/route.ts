// Route configurations: once the RBAC filter has allowed a request, every request of the listener
// goes to one cluster (the original destination). One RouteConfiguration per upstream cluster, so
// listeners share them and RDS names stay few and stable.
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { RouteConfigurationSchema, type RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { RouteConfigPlan } from './plan.js';
import { ProblemList, type ResourceProblem } from './problems.js';
import { checkHeaderMatcher } from './rbac-filter.js';

export function buildRouteConfiguration(plan: RouteConfigPlan): RouteConfiguration {
  return create(RouteConfigurationSchema, {
    name: plan.name,
    virtualHosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: [
          {
            match: { pathSpecifier: { case: 'prefix', value: '/' } },
            action: {
              case: 'route',
              // No route timeout: gRPC streams and long polls live as long as the peers want.
              value: { clusterSpecifier: { case: 'cluster', value: plan.cluster }, timeout: create(DurationSchema, { seconds: 0n }) },
            },
          },
        ],
      },
    ],
  });
}

export function validateRouteConfiguration(route: RouteConfiguration): ResourceProblem[] {
  const p = new ProblemList();
  p.nonEmpty('name', route.name);
  if (route.virtualHosts.length === 0) p.add('virtual_hosts', 'must not be empty (every request would get 404)');
  p.unique('virtual_hosts', route.virtualHosts.map((v) => v.name), 'virtual host name');
  p.unique('virtual_hosts[].domains', route.virtualHosts.flatMap((v) => v.domains), 'domain');
  route.virtualHosts.forEach((vh, i) => {
    p.nonEmpty(`virtual_hosts[${i}].name`, vh.name);
    if (vh.domains.length === 0) p.add(`virtual_hosts[${i}].domains`, 'must not be empty');
    vh.routes.forEach((r, j) => {
      const at = `virtual_hosts[${i}].routes[${j}]`;
      if (!r.match || r.match.pathSpecifier.case === undefined) p.add(`${at}.match`, 'needs a path specifier');
      r.match?.headers.forEach((h, k) => checkHeaderMatcher(p, `${at}.match.headers[${k}]`, h));
      if (r.action.case !== 'route') p.add(`${at}.route`, 'meshd routes only forward');
      else if (r.action.value.clusterSpecifier.case !== 'cluster' || r.action.value.clusterSpecifier.value === '') p.add(`${at}.route.cluster`, 'must name a cluster');
    });
  });
  return p.items;
}

export { RouteConfigurationSchema };
