// The proxy's accepted configuration. The xDS client hands it each response's resources of one kind;
// every one is compiled and applied on its own, as Envoy does: the resources that compile replace
// their previous version, the ones that do not are refused (their previous version, if any, stays in
// force, and their problems become the response's NACK). So one listener with a filter the proxy does
// not implement costs that listener, not every listener of the node.
import type { envoy } from '../../xds/index.js';
import { referencesOfCluster, referencesOfListener, type CompiledResource } from '../config/index.js';
import type { ClusterConfig, Compiled, EndpointSet, ListenerConfig, RouteTable, SecretMaterial } from '../config/types.js';
import type {
  ApplyProblem,
  ConfigApplyResult,
  ConfigChange,
  ConfigReferences,
  ConfigView,
  ResourceKind,
  ResourceUpdate,
} from './types.js';

/** The compile functions of proxylib/config, one per resource kind (injected so the store has no
 *  opinion on what is supported: that is the compiler's job). */
export interface ResourceCompilers {
  listener(m: envoy.Listener): Compiled<ListenerConfig>;
  route(m: envoy.RouteConfiguration): Compiled<RouteTable>;
  cluster(m: envoy.Cluster): Compiled<ClusterConfig>;
  endpoints(m: envoy.ClusterLoadAssignment): Compiled<EndpointSet>;
  secret(m: envoy.Secret): Compiled<SecretMaterial>;
}

/** What the store keeps of one accepted resource. */
export interface AcceptedResource<T> {
  name: string;
  version: string;
  /** The message as received (for /config_dump). */
  message: unknown;
  config: T;
  acceptedAt: Date;
}

type Tables = { [K in ResourceKind]: Map<string, AcceptedResource<CompiledResource[K]>> };

export class ConfigStore implements ConfigView {
  private readonly tables: Tables = {
    listener: new Map(),
    route: new Map(),
    cluster: new Map(),
    endpoints: new Map(),
    secret: new Map(),
  };
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  /** Accepted listeners / clusters not active yet: they wait for resources they name. */
  private readonly warming = {
    listener: new Map<string, AcceptedResource<ListenerConfig>>(),
    cluster: new Map<string, AcceptedResource<ClusterConfig>>(),
  };
  /** Names the server answered as removed (it does not have them): warming does not wait for them. */
  private readonly absent: Record<ResourceKind, Set<string>> = { listener: new Set(), route: new Set(), cluster: new Set(), endpoints: new Set(), secret: new Set() };
  /** Names whose only answer so far was refused (no version held): warming does not wait for them either. */
  private readonly refused: Record<ResourceKind, Set<string>> = { listener: new Set(), route: new Set(), cluster: new Set(), endpoints: new Set(), secret: new Set() };

  constructor(private readonly compilers: ResourceCompilers) {}

  /**
   * Applies one xDS response's resources of one kind, resource by resource, as Envoy does for LDS and
   * CDS (each listener / cluster is added or updated on its own and the failures are collected into
   * one NACK) and, in effect, for RDS, EDS and SDS (each name is its own subscription there, so one
   * bad route configuration never blocks another). Every upsert is compiled; those that compile
   * replace or add their resource, those that do not are refused: their previous version (if any)
   * stays in force, and their problems are returned (the NACK's error_detail). `removedNames` are
   * always applied. Listeners hear of everything applied in one change.
   */
  apply(kind: ResourceKind, upserts: readonly ResourceUpdate[], removedNames: readonly string[] = []): ConfigApplyResult {
    const problems: ApplyProblem[] = [];
    const warnings: string[] = [];
    const refused: string[] = [];
    const compiled: Array<AcceptedResource<CompiledResource[typeof kind]>> = [];
    const seen = new Set<string>();
    for (const u of upserts) {
      if (seen.has(u.name)) {
        // Which of the two copies is meant is unknowable: refuse the later one, keep the first.
        problems.push({ kind, resource: u.name, path: '', message: `${kind} "${u.name}" appears twice in one update` });
        continue;
      }
      seen.add(u.name);
      let result: Compiled<CompiledResource[typeof kind]>;
      try {
        result = this.compile(kind, u.message);
      } catch (err) {
        // A compiler bug must not take the proxy down nor let the resource through: it is refused.
        result = { ok: false, problems: [{ path: '', message: `internal error compiling it: ${err instanceof Error ? err.message : String(err)}` }] };
      }
      if (!result.ok) {
        refused.push(u.name);
        for (const p of result.problems) problems.push({ kind, resource: u.name, path: p.path, message: p.message });
        continue;
      }
      for (const w of result.warnings) warnings.push(`${kind} "${u.name}": ${w}`);
      compiled.push({ name: u.name, version: u.version, message: u.message, config: result.value, acceptedAt: new Date() });
    }

    const table = this.tables[kind] as Map<string, AcceptedResource<CompiledResource[typeof kind]>>;
    const change: ConfigChange = { kind, added: [], updated: [], removed: [] };
    for (const name of removedNames) {
      if (seen.has(name)) continue; // an upsert of the same name in the same response wins
      this.refused[kind].delete(name);
      if (table.delete(name)) change.removed.push(name);
      // A name the server says it does not have: nothing warming should wait for it any longer.
      else this.absent[kind].add(name);
      if (kind === 'listener' || kind === 'cluster') this.warming[kind].delete(name);
    }
    for (const name of refused) {
      // A refused name the proxy holds no version of: the server did answer for it, so a listener or
      // cluster that names it must not warm forever (Envoy marks the init target ready on a rejected
      // update too); it runs without it, as with a name the server does not have.
      if (!table.has(name)) this.refused[kind].add(name);
    }
    for (const c of compiled) {
      this.absent[kind].delete(c.name);
      this.refused[kind].delete(c.name);
      if (kind === 'listener' || kind === 'cluster') {
        // Envoy's warming: a listener waits for its RDS route configurations and SDS secrets, a cluster
        // for its EDS endpoints; meanwhile the previous version (if any) keeps serving.
        const warming = this.warming[kind] as Map<string, AcceptedResource<unknown>>;
        warming.delete(c.name);
        if (this.missingDependencies(kind, c.config as never).length > 0) {
          warming.set(c.name, c);
          continue;
        }
      }
      (table.has(c.name) ? change.updated : change.added).push(c.name);
      table.set(c.name, c);
    }
    if (change.added.length + change.updated.length + change.removed.length > 0) this.emit(change);
    if (kind === 'route' || kind === 'secret') this.promoteWarming('listener');
    if (kind === 'endpoints' || kind === 'secret') this.promoteWarming('cluster');
    return { problems, warnings, applied: compiled.map((c) => c.name), refused: [...new Set(refused)] };
  }

  /**
   * Forgets named resources nothing subscribes to any more (RDS/EDS/SDS unsubscribe): drops the
   * accepted ones (one change) and whatever the store knew of the others (absent, refused), so a
   * later subscription to the same name waits for a fresh answer.
   */
  release(kind: ResourceKind, names: readonly string[]): void {
    const table = this.tables[kind];
    const change: ConfigChange = { kind, added: [], updated: [], removed: [] };
    for (const name of names) {
      this.absent[kind].delete(name);
      this.refused[kind].delete(name);
      if (table.delete(name)) change.removed.push(name);
    }
    if (change.removed.length > 0) this.emit(change);
  }

  /** Listeners and clusters still waiting for resources they name (Envoy's "warming"). */
  warmingNames(kind: 'listener' | 'cluster'): string[] {
    return [...this.warming[kind].keys()];
  }

  /** RDS/SDS (listener) or EDS/SDS (cluster) names not answered yet (neither present, known absent, nor refused). */
  private missingDependencies(kind: 'listener' | 'cluster', config: ListenerConfig | ClusterConfig): string[] {
    const refs = dependenciesOf(kind, config);
    const missing: string[] = [];
    const answered = (k: 'route' | 'endpoints' | 'secret', n: string): boolean => this.tables[k].has(n) || this.absent[k].has(n) || this.refused[k].has(n);
    for (const n of refs.routes) if (!answered('route', n)) missing.push(`route ${n}`);
    for (const n of refs.endpoints) if (!answered('endpoints', n)) missing.push(`endpoints ${n}`);
    for (const n of refs.secrets) if (!answered('secret', n)) missing.push(`secret ${n}`);
    return missing;
  }

  /** Activates the warming listeners (or clusters) whose dependencies have all been answered. */
  private promoteWarming(kind: 'listener' | 'cluster'): void {
    const warming = this.warming[kind] as Map<string, AcceptedResource<unknown>>;
    const table = this.tables[kind] as Map<string, AcceptedResource<unknown>>;
    const change: ConfigChange = { kind, added: [], updated: [], removed: [] };
    for (const [name, r] of [...warming]) {
      if (this.missingDependencies(kind, r.config as never).length > 0) continue;
      warming.delete(name);
      (table.has(name) ? change.updated : change.added).push(name);
      table.set(name, r);
    }
    if (change.added.length + change.updated.length > 0) this.emit(change);
  }

  private compile(kind: ResourceKind, message: unknown): Compiled<CompiledResource[ResourceKind]> {
    switch (kind) {
      case 'listener':
        return this.compilers.listener(message as envoy.Listener);
      case 'route':
        return this.compilers.route(message as envoy.RouteConfiguration);
      case 'cluster':
        return this.compilers.cluster(message as envoy.Cluster);
      case 'endpoints':
        return this.compilers.endpoints(message as envoy.ClusterLoadAssignment);
      case 'secret':
        return this.compilers.secret(message as envoy.Secret);
    }
  }

  private emit(change: ConfigChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own; the change is applied and the others must still hear of it.
      }
    }
  }

  // ---- ConfigView --------------------------------------------------------------------------

  listener(name: string): ListenerConfig | undefined {
    return this.tables.listener.get(name)?.config;
  }
  listenerNames(): string[] {
    return [...this.tables.listener.keys()];
  }
  routeTable(name: string): RouteTable | undefined {
    return this.tables.route.get(name)?.config;
  }
  cluster(name: string): ClusterConfig | undefined {
    return this.tables.cluster.get(name)?.config;
  }
  endpoints(name: string): EndpointSet | undefined {
    return this.tables.endpoints.get(name)?.config;
  }
  secret(name: string): SecretMaterial | undefined {
    return this.tables.secret.get(name)?.config;
  }
  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- for the xDS client and the admin server -------------------------------------------------

  /** Accepted resources of a kind, by name, with versions. */
  accepted<K extends ResourceKind>(kind: K): ReadonlyMap<string, AcceptedResource<CompiledResource[K]>> {
    return this.tables[kind];
  }

  /** name → version of every accepted resource of a kind (Delta initial_resource_versions). */
  versions(kind: ResourceKind): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, r] of this.tables[kind]) out[name] = r.version;
    return out;
  }

  /** The RDS, EDS and SDS names the accepted listeners and clusters refer to (active and warming). */
  references(): ConfigReferences {
    const routes = new Set<string>();
    const endpoints = new Set<string>();
    const secrets = new Set<string>();
    const add = (r: DependencyNames): void => {
      for (const n of r.routes) routes.add(n);
      for (const n of r.endpoints) endpoints.add(n);
      for (const n of r.secrets) secrets.add(n);
    };
    for (const { config } of [...this.tables.listener.values(), ...this.warming.listener.values()]) add(dependenciesOf('listener', config));
    for (const { config } of [...this.tables.cluster.values(), ...this.warming.cluster.values()]) add(dependenciesOf('cluster', config));
    return { routes, endpoints, secrets };
  }
}

interface DependencyNames {
  routes: readonly string[];
  endpoints: readonly string[];
  secrets: readonly string[];
}

/** The RDS/EDS/SDS names a compiled listener or cluster waits for (proxylib/config's references). */
function dependenciesOf(kind: 'listener' | 'cluster', config: ListenerConfig | ClusterConfig): DependencyNames {
  if (kind === 'listener') {
    const { routes, secrets } = referencesOfListener(config as ListenerConfig);
    return { routes, endpoints: [], secrets };
  }
  return { routes: [], ...referencesOfCluster(config as ClusterConfig) };
}
