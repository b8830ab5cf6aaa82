// The proto3 JSON mapping for Envoy resources written by people (snapshot files, bootstraps):
// "@type" on every Any, "1s" durations, bare wrapper values, snake_case or camelCase names.
// @bufbuild/protobuf's fromJson does the conversion (conformance-tested, unlike protobufjs'
// fromObject, which drops unknown fields). Its errors name the message type and key but not where
// in the document they are, so a walk over the JSON against the schema first collects every unknown
// field and unknown "@type" with its full path; fromJson then catches what remains (bad durations,
// enum names, scalar types), reported at the deepest path the walk can attribute.
import { fromJson, type DescField, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { xdsRegistry } from './registry.js';
import { typeNameOfUrl } from './type-urls.js';
import { XdsCodecError, type XdsFieldProblem } from './errors.js';

/** Parses `json` as a `schema` message; throws XdsCodecError listing every problem with its path. */
export function messageFromJson<Desc extends DescMessage>(schema: Desc, json: unknown, where?: string): MessageShape<Desc> {
  const problems: XdsFieldProblem[] = [];
  walkMessage(schema, json, '$', problems);
  if (problems.length > 0) throw new XdsCodecError(problems, where);
  try {
    return fromJson(schema, json as JsonValue, { registry: xdsRegistry, ignoreUnknownFields: false });
  } catch (err) {
    throw new XdsCodecError([{ code: 'MESHD_ERR_XDS_INVALID_VALUE', path: '$', message: cleanMessage(err) }], where);
  }
}

/** Validates without building the message: the list of problems (empty when the JSON is good). */
export function checkMessageJson(schema: DescMessage, json: unknown): XdsFieldProblem[] {
  try {
    messageFromJson(schema, json);
    return [];
  } catch (err) {
    if (err instanceof XdsCodecError) return err.problems;
    throw err;
  }
}

function walkMessage(schema: DescMessage, json: unknown, path: string, problems: XdsFieldProblem[]): void {
  // Well-known types have their own JSON forms (strings, bare values); fromJson checks them.
  if (schema.typeName.startsWith('google.protobuf.') && schema.typeName !== 'google.protobuf.Any') return;
  if (schema.typeName === 'google.protobuf.Any') return walkAny(json, path, problems);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    // Let fromJson word the type error; give it this path.
    if (json !== null) problems.push({ code: 'MESHD_ERR_XDS_INVALID_VALUE', path, message: `expected an object for ${schema.typeName}, got ${describe(json)}` });
    return;
  }
  const seenOneofs = new Map<string, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = fieldByJsonKey(schema, key);
    const fieldPath = `${path}.${key}`;
    if (!field) {
      problems.push({ code: 'MESHD_ERR_XDS_UNKNOWN_FIELD', path: fieldPath, message: `${schema.typeName} has no field "${key}"` });
      continue;
    }
    if (field.oneof && value !== null) {
      const other = seenOneofs.get(field.oneof.name);
      if (other !== undefined) {
        problems.push({ code: 'MESHD_ERR_XDS_INVALID_VALUE', path: fieldPath, message: `"${key}" and "${other}" are members of the same oneof ${field.oneof.name}; set only one` });
      }
      seenOneofs.set(field.oneof.name, key);
    }
    walkField(field, value, fieldPath, problems);
  }
}

function walkField(field: DescField, value: unknown, path: string, problems: XdsFieldProblem[]): void {
  if (value === null) return;
  switch (field.fieldKind) {
    case 'message':
      walkMessage(field.message, value, path, problems);
      return;
    case 'list':
      if (field.listKind !== 'message') return;
      if (!Array.isArray(value)) {
        problems.push({ code: 'MESHD_ERR_XDS_INVALID_VALUE', path, message: `expected a list, got ${describe(value)}` });
        return;
      }
      value.forEach((item, i) => walkMessage(field.message, item, `${path}[${i}]`, problems));
      return;
    case 'map':
      if (field.mapKind !== 'message') return;
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ code: 'MESHD_ERR_XDS_INVALID_VALUE', path, message: `expected a map (object), got ${describe(value)}` });
        return;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walkMessage(field.message, v, `${path}[${JSON.stringify(k)}]`, problems);
      return;
    default:
      return;
  }
}

function walkAny(json: unknown, path: string, problems: XdsFieldProblem[]): void {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    problems.push({ code: 'MESHD_ERR_XDS_INVALID_VALUE', path, message: `expected an Any object with "@type", got ${describe(json)}` });
    return;
  }
  const typeUrl = (json as Record<string, unknown>)['@type'];
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    problems.push({ code: 'MESHD_ERR_XDS_UNKNOWN_TYPE_URL', path, message: 'an Any needs a "@type"' });
    return;
  }
  const inner = xdsRegistry.getMessage(typeNameOfUrl(typeUrl));
  if (!inner) {
    problems.push({ code: 'MESHD_ERR_XDS_UNKNOWN_TYPE_URL', path: `${path}["@type"]`, message: `unknown type "${typeUrl}" (meshd knows Envoy's v3 API types it serves and its own)` });
    return;
  }
  const innerPath = `${path}<${inner.name}>`;
  if (inner.typeName.startsWith('google.protobuf.')) return; // {"@type": ..., "value": <wkt json>}
  const { ['@type']: _ignored, ...rest } = json as Record<string, unknown>;
  walkMessage(inner, rest, innerPath, problems);
}

function fieldByJsonKey(schema: DescMessage, key: string): DescField | undefined {
  return schema.fields.find((f) => f.name === key || f.jsonName === key);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v;
}

function cleanMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^\[[a-z_]+\]\s*/, '');
}
