// One entry point by resource kind, for the config store: compiles a decoded xDS resource of any of
// the five kinds the proxy subscribes to.
import type { Message } from '@bufbuild/protobuf';
import type { envoy } from '../../xds/index.js';
import { compileCluster, compileLoadAssignment } from './cluster.js';
import { compileListener } from './listener.js';
import { compileRouteConfiguration } from './route-table.js';
import { compileSecret } from './secret.js';
import type { ClusterConfig, Compiled, EndpointSet, ListenerConfig, RouteTable, SecretMaterial } from './types.js';

export interface CompiledResource {
  listener: ListenerConfig;
  route: RouteTable;
  cluster: ClusterConfig;
  endpoints: EndpointSet;
  secret: SecretMaterial;
}

export function compileResource<K extends keyof CompiledResource>(kind: K, message: Message): Compiled<CompiledResource[K]> {
  switch (kind) {
    case 'listener':
      return compileListener(message as envoy.Listener) as Compiled<CompiledResource[K]>;
    case 'route':
      return compileRouteConfiguration(message as envoy.RouteConfiguration) as Compiled<CompiledResource[K]>;
    case 'cluster':
      return compileCluster(message as envoy.Cluster) as Compiled<CompiledResource[K]>;
    case 'endpoints':
      return compileLoadAssignment(message as envoy.ClusterLoadAssignment) as Compiled<CompiledResource[K]>;
    case 'secret':
      return compileSecret(message as envoy.Secret) as Compiled<CompiledResource[K]>;
  }
  return { ok: false, problems: [{ path: '', message: `unknown resource kind ${String(kind)}` }] };
}
