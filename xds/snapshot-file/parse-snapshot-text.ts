// The snapshot file format of `meshd xds serve` (docs/cli.md, "meshd xds serve"). One or more YAML
// or JSON documents, each a map of any of:
//   version:           a string; the snapshot's version (default: a hash of the contents)
//   resources:         [ {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", name: …}, … ]
//   static_resources:  {listeners, clusters, secrets}: Envoy bootstrap's StaticResources, pasted as is
//   listeners, routes, clusters, endpoints, secrets: lists of that type ("@type" optional)
// Every resource is the proto3 JSON mapping of its message, parsed by xds/codec's messageFromJson so
// that unknown fields and "@type"s are errors with their path. Problems are collected, not thrown
// one at a time, each with file:line:col and the field path.
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { TYPE_URL, XdsCodecError, messageFromJson, messageSchemaOfUrl, typeNameOfUrl } from '../codec/index.js';
import { ListenerSchema, type Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import { RouteConfigurationSchema, type RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import { ClusterSchema, type Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { ClusterLoadAssignmentSchema, type ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { SecretSchema, type Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { XdsSnapshotFileProblem } from './errors.js';
import { parseYamlSource, type FieldPath, type ParsedYamlDocument as YamlDocument } from '../../policy/index.js';

/** A resource of a type other than the five Envoy kinds (meshd's own types), with its schema. */
export interface ExtraResource {
  name: string;
  schema: DescMessage;
  message: MessageShape<DescMessage>;
}

export interface SnapshotFileContents {
  file: string;
  /** From a `version:` key; undefined lets the cache derive one from the contents. */
  version: string | undefined;
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
  secrets: Secret[];
  /** typeUrl → resources of that type. */
  extra: Map<string, ExtraResource[]>;
}

type Kind = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets';

interface KindInfo {
  typeUrl: string;
  schema: DescMessage;
  /** The field that names the resource (its xDS resource name). */
  nameField: string;
}

const KINDS: Record<Kind, KindInfo> = {
  listeners: { typeUrl: TYPE_URL.listener, schema: ListenerSchema, nameField: 'name' },
  routes: { typeUrl: TYPE_URL.route, schema: RouteConfigurationSchema, nameField: 'name' },
  clusters: { typeUrl: TYPE_URL.cluster, schema: ClusterSchema, nameField: 'name' },
  // A ClusterLoadAssignment is named by its cluster (or eds_cluster_config.service_name).
  endpoints: { typeUrl: TYPE_URL.endpoint, schema: ClusterLoadAssignmentSchema, nameField: 'clusterName' },
  secrets: { typeUrl: TYPE_URL.secret, schema: SecretSchema, nameField: 'name' },
};

const KIND_BY_TYPE_NAME = new Map<string, Kind>((Object.keys(KINDS) as Kind[]).map((k) => [typeNameOfUrl(KINDS[k].typeUrl), k]));

const STATIC_RESOURCES_KEYS: ReadonlySet<string> = new Set(['listeners', 'clusters', 'secrets']);
const TOP_LEVEL_HINT = 'a snapshot document holds only version, resources, static_resources, listeners, routes, clusters, endpoints and secrets';

/** Parses the text of a snapshot file. Never throws for bad input: problems come back in the result. */
export function parseSnapshotText(file: string, text: string): { contents: SnapshotFileContents; problems: XdsSnapshotFileProblem[] } {
  const contents: SnapshotFileContents = { file, version: undefined, listeners: [], routes: [], clusters: [], endpoints: [], secrets: [], extra: new Map() };
  const problems: XdsSnapshotFileProblem[] = [];
  const { documents, syntaxProblems } = parseYamlSource(file, text);
  for (const s of syntaxProblems) problems.push({ code: 'MESHD_ERR_XDS_SNAPSHOT_FILE_SYNTAX', message: s.message, path: '', position: s.position });
  if (syntaxProblems.length > 0) return { contents, problems };
  const names = new Map<string, Map<string, string>>(); // typeUrl → name → display path of its first definition
  for (const doc of documents) new DocumentReader(doc, contents, problems, names).read();
  return { contents, problems };
}

class DocumentReader {
  constructor(
    private readonly doc: YamlDocument,
    private readonly contents: SnapshotFileContents,
    private readonly problems: XdsSnapshotFileProblem[],
    private readonly names: Map<string, Map<string, string>>,
  ) {}

  read(): void {
    const root = this.doc.value;
    if (!isPlainObject(root)) {
      this.shape([], `a snapshot document must be a map, got ${describe(root)}`, TOP_LEVEL_HINT);
      return;
    }
    for (const [key, value] of Object.entries(root)) {
      switch (key) {
        case 'version':
          if (typeof value !== 'string' || value === '') this.shape([key], `version must be a non-empty string, got ${describe(value)}`, 'quote it: version: "42"');
          else if (this.contents.version !== undefined && this.contents.version !== value) this.shape([key], `a second, different version "${value}" (already "${this.contents.version}")`);
          else this.contents.version = value;
          break;
        case 'resources':
          this.readList([key], value, undefined);
          break;
        case 'static_resources':
        case 'staticResources':
          this.readStaticResources([key], value);
          break;
        case 'listeners':
        case 'routes':
        case 'clusters':
        case 'endpoints':
        case 'secrets':
          this.readList([key], value, key);
          break;
        default:
          this.shape([key], `unknown key "${key}"`, TOP_LEVEL_HINT, 'key');
      }
    }
  }

  private readStaticResources(path: FieldPath, value: unknown): void {
    if (!isPlainObject(value)) {
      this.shape(path, `static_resources must be a map of listeners, clusters and secrets, got ${describe(value)}`);
      return;
    }
    for (const [key, list] of Object.entries(value)) {
      if (!STATIC_RESOURCES_KEYS.has(key)) {
        this.shape([...path, key], `Envoy's static_resources has no "${key}"`, 'static_resources holds listeners, clusters and secrets; put routes and endpoints in top-level routes: and endpoints: lists', 'key');
        continue;
      }
      this.readList([...path, key], list, key as Kind);
    }
  }

  /** A list of resources; `kind` undefined means each item names its type with "@type". */
  private readList(path: FieldPath, value: unknown, kind: Kind | undefined): void {
    if (value === null) return; // `listeners:` with nothing under it
    if (!Array.isArray(value)) {
      this.shape(path, `expected a list of resources, got ${describe(value)}`);
      return;
    }
    value.forEach((item, i) => this.readResource([...path, i], item, kind));
  }

  private readResource(path: FieldPath, item: unknown, kind: Kind | undefined): void {
    if (!isPlainObject(item)) {
      this.shape(path, `expected a resource (a map), got ${describe(item)}`);
      return;
    }
    const declared = item['@type'];
    if (declared !== undefined && typeof declared !== 'string') {
      this.shape([...path, '@type'], `"@type" must be a string, got ${describe(declared)}`);
      return;
    }
    let typeUrl: string;
    let schema: DescMessage;
    if (kind !== undefined) {
      typeUrl = KINDS[kind].typeUrl;
      schema = KINDS[kind].schema;
      if (declared !== undefined && typeNameOfUrl(declared) !== schema.typeName) {
        this.shape([...path, '@type'], `a ${path[0] === 'static_resources' || path[0] === 'staticResources' ? `static_resources.${String(path[1])}` : String(path[0])} entry of type "${declared}"; expected ${typeUrl}`, `move it to the list of its type, or to resources:`);
        return;
      }
    } else {
      if (declared === undefined) {
        this.shape(path, 'a resource in resources: needs "@type", e.g. "type.googleapis.com/envoy.config.listener.v3.Listener"', 'or put it in the list of its type (listeners:, routes:, clusters:, endpoints:, secrets:), where "@type" is optional');
        return;
      }
      const found = messageSchemaOfUrl(declared);
      if (!found) {
        this.problem('MESHD_ERR_XDS_UNKNOWN_TYPE_URL', [...path, '@type'], `unknown type "${declared}" (meshd knows Envoy's v3 API types it serves and its own)`);
        return;
      }
      schema = found;
      const known = KIND_BY_TYPE_NAME.get(schema.typeName);
      typeUrl = known !== undefined ? KINDS[known].typeUrl : `type.googleapis.com/${schema.typeName}`;
      kind = known;
    }
    const { ['@type']: _declared, ...body } = item;
    let message: MessageShape<DescMessage>;
    try {
      message = messageFromJson(schema, body);
    } catch (err) {
      if (!(err instanceof XdsCodecError)) throw err;
      for (const p of err.problems) this.problem(p.code, [...path, ...codecPathSteps(p.path)], p.message, undefined, displayPath(path) + p.path.slice(1));
      return;
    }
    const nameField = kind !== undefined ? KINDS[kind].nameField : 'name';
    const name = (message as unknown as Record<string, unknown>)[nameField];
    if (typeof name !== 'string' || name === '') {
      const wireName = kind === 'endpoints' ? 'cluster_name' : 'name';
      this.shape(path, `the ${schema.name} has no ${wireName}; xDS names every resource`, kind === undefined && !schema.fields.some((f) => f.localName === 'name') ? `${schema.typeName} has no name field, so it cannot be served as a resource` : undefined);
      return;
    }
    let seen = this.names.get(typeUrl);
    if (!seen) this.names.set(typeUrl, (seen = new Map()));
    const first = seen.get(name);
    if (first !== undefined) {
      this.shape(path, `a second ${schema.name} named "${name}" (the first is ${first})`, 'resource names are unique per type');
      return;
    }
    seen.set(name, displayPath(path));
    this.add(kind, typeUrl, schema, name, message);
  }

  private add(kind: Kind | undefined, typeUrl: string, schema: DescMessage, name: string, message: MessageShape<DescMessage>): void {
    switch (kind) {
      case 'listeners':
        this.contents.listeners.push(message as Listener);
        return;
      case 'routes':
        this.contents.routes.push(message as RouteConfiguration);
        return;
      case 'clusters':
        this.contents.clusters.push(message as Cluster);
        return;
      case 'endpoints':
        this.contents.endpoints.push(message as ClusterLoadAssignment);
        return;
      case 'secrets':
        this.contents.secrets.push(message as Secret);
        return;
      case undefined: {
        let list = this.contents.extra.get(typeUrl);
        if (!list) this.contents.extra.set(typeUrl, (list = []));
        list.push({ name, schema, message });
        return;
      }
    }
  }

  private shape(path: FieldPath, message: string, hint?: string, at: 'key' | 'value' = 'value'): void {
    this.problem('MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE', path, message, hint, undefined, at);
  }

  private problem(code: string, path: FieldPath, message: string, hint?: string, shownPath?: string, at: 'key' | 'value' = 'value'): void {
    // An unknown field is best shown at its key; everything else at its value.
    const where = code === 'MESHD_ERR_XDS_UNKNOWN_FIELD' ? 'key' : at;
    this.problems.push({ code, message, path: shownPath ?? displayPath(path), position: this.doc.positionOf(path, where), ...(hint !== undefined ? { hint } : {}) });
  }
}

/**
 * `$.filter_chains[0].typed_config<HttpConnectionManager>.bogus["k"]` → the steps into the YAML
 * tree. `<Type>` marks where an Any was opened; its fields sit in the same YAML map, so it adds no step.
 */
export function codecPathSteps(codecPath: string): Array<string | number> {
  const steps: Array<string | number> = [];
  const token = /\.([^.[<]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|<[^>]*>/g;
  for (const m of codecPath.slice(1).matchAll(token)) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else if (m[3] !== undefined) steps.push(JSON.parse(m[3]) as string);
  }
  return steps;
}

function displayPath(path: FieldPath): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'nothing (null)';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}
