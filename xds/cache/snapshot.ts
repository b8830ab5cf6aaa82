// An immutable set of resources for one node (or the '*' default), indexed by type URL, each resource
// encoded once. `consistencyProblems()` is what SnapshotCache.setSnapshot checks before accepting it.
import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { TYPE_URL, typeNameOfUrl } from '../codec/index.js';
import { ListenerSchema, type Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import { RouteConfigurationSchema, type RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import { ClusterSchema, type Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { ClusterLoadAssignmentSchema, type ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { SecretSchema, type Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import { XdsSnapshotError } from './errors.js';
import { makeResource, versionOfSet, type XdsResource } from './resource.js';
import { findConsistencyProblems } from './consistency.js';

export interface SnapshotInit {
  version?: string;
  resources: Partial<Record<string /* typeUrl */, XdsResource[]>>;
}

export interface ExtraMessage {
  name: string;
  schema: DescMessage;
  message: MessageShape<DescMessage>;
}

export interface SnapshotMessages {
  version?: string;
  listeners?: Listener[];
  routes?: RouteConfiguration[];
  clusters?: Cluster[];
  endpoints?: ClusterLoadAssignment[];
  secrets?: Secret[];
  /** Other (meshd) types: typeUrl → resources of that type. */
  extra?: Record<string, ExtraMessage[]>;
}

const EMPTY: ReadonlyMap<string, XdsResource> = new Map();

export class Snapshot {
  readonly version: string | undefined;
  private readonly byType = new Map<string, Map<string, XdsResource>>();
  private readonly typeVersions = new Map<string, string>();
  /** Messages given to fromMessages, so the consistency check need not decode them again. */
  private readonly decoded = new Map<XdsResource, unknown>();
  private problems: string[] | undefined;

  /** Throws XdsSnapshotError (MESHD_ERR_XDS_INVALID_RESOURCE) for unnamed or duplicate resources. */
  constructor(init: SnapshotInit) {
    this.version = init.version;
    const problems: string[] = [];
    for (const [typeUrl, list] of Object.entries(init.resources)) {
      const byName = new Map<string, XdsResource>();
      for (const r of list ?? []) {
        if (r.typeUrl !== typeUrl) problems.push(`resource "${r.name}" of type ${r.typeUrl} is listed under ${typeUrl}`);
        else if (r.name === '') problems.push(`a ${typeNameOfUrl(typeUrl)} has no name`);
        else if (byName.has(r.name)) problems.push(`${typeNameOfUrl(typeUrl)} "${r.name}" appears twice`);
        else byName.set(r.name, r);
      }
      if (byName.size > 0) this.byType.set(typeUrl, byName);
    }
    if (problems.length > 0) throw new XdsSnapshotError('MESHD_ERR_XDS_INVALID_RESOURCE', problems);
  }

  /** Encodes real Envoy (and meshd) messages; each resource's version is a hash of its bytes. */
  static fromMessages(init: SnapshotMessages): Snapshot {
    const resources: Record<string, XdsResource[]> = {};
    const decoded = new Map<XdsResource, unknown>();
    const problems: string[] = [];
    const add = (schema: DescMessage, typeUrl: string, name: string, message: MessageShape<DescMessage>): void => {
      if (schema.typeName !== typeNameOfUrl(typeUrl)) {
        problems.push(`resource "${name}" is a ${schema.typeName}, listed under ${typeUrl}`);
        return;
      }
      const r = makeResource(typeUrl, name, toBinary(schema, message));
      decoded.set(r, message);
      (resources[typeUrl] ??= []).push(r);
    };
    for (const m of init.listeners ?? []) add(ListenerSchema, TYPE_URL.listener, m.name, m);
    for (const m of init.routes ?? []) add(RouteConfigurationSchema, TYPE_URL.route, m.name, m);
    for (const m of init.clusters ?? []) add(ClusterSchema, TYPE_URL.cluster, m.name, m);
    for (const m of init.endpoints ?? []) add(ClusterLoadAssignmentSchema, TYPE_URL.endpoint, m.clusterName, m);
    for (const m of init.secrets ?? []) add(SecretSchema, TYPE_URL.secret, m.name, m);
    for (const [typeUrl, list] of Object.entries(init.extra ?? {})) {
      for (const e of list) add(e.schema, typeUrl, e.name, e.message);
    }
    if (problems.length > 0) throw new XdsSnapshotError('MESHD_ERR_XDS_INVALID_RESOURCE', problems);
    const snapshot = new Snapshot(init.version !== undefined ? { version: init.version, resources } : { resources });
    for (const [r, m] of decoded) snapshot.decoded.set(r, m);
    return snapshot;
  }

  resources(typeUrl: string): ReadonlyMap<string, XdsResource> {
    return this.byType.get(typeUrl) ?? EMPTY;
  }

  typeUrls(): string[] {
    return [...this.byType.keys()];
  }

  /** SotW version_info of a type: a hash of its (name, version) pairs, so equal contents → equal versions. */
  typeVersion(typeUrl: string): string {
    let v = this.typeVersions.get(typeUrl);
    if (v === undefined) this.typeVersions.set(typeUrl, (v = versionOfSet(this.resources(typeUrl).values())));
    return v;
  }

  /**
   * Problems (empty = consistent): RDS names referenced by listeners exactly equal the route
   * configurations present; EDS names referenced by EDS clusters exactly equal the endpoint sets present;
   * SDS secrets referenced by TLS transport sockets present; clusters named by routes / tcp_proxy present.
   */
  consistencyProblems(): string[] {
    if (!this.problems) {
      const decodeProblems: string[] = [];
      this.problems = findConsistencyProblems({
        listeners: this.messages<Listener>(TYPE_URL.listener, ListenerSchema, decodeProblems),
        routes: this.messages<RouteConfiguration>(TYPE_URL.route, RouteConfigurationSchema, decodeProblems),
        clusters: this.messages<Cluster>(TYPE_URL.cluster, ClusterSchema, decodeProblems),
        endpointNames: new Set(this.resources(TYPE_URL.endpoint).keys()),
        secretNames: new Set(this.resources(TYPE_URL.secret).keys()),
        decodeProblems,
      });
      // The answer is kept, so the messages are not needed again: a snapshot lives on as bytes only.
      this.decoded.clear();
    }
    return [...this.problems];
  }

  private messages<T>(typeUrl: string, schema: DescMessage, decodeProblems: string[]): T[] {
    const out: T[] = [];
    for (const r of this.resources(typeUrl).values()) {
      const known = this.decoded.get(r);
      if (known !== undefined) out.push(known as T);
      else {
        try {
          out.push(fromBinary(schema, r.body) as T);
        } catch (err) {
          decodeProblems.push(`${typeNameOfUrl(typeUrl)} "${r.name}" does not decode: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    return out;
  }
}
