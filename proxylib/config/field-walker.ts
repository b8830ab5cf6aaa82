// The supported-field walker: every field set in a resource that meshd's built-in proxy does not
// implement becomes a problem with its proto field path, so the xDS client NACKs the update rather
// than running a configuration Envoy would run differently. Driven by protobuf reflection (every
// field of the descriptor, set or not, oneof members and wrappers included), so a field added to
// Envoy's protos is reported by default instead of slipping through.
import type { DescField, DescMessage, MessageShape } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { at, NOT_IMPLEMENTED, type Problems } from './problems.js';
import { ACCEPTED_VALUES, SUPPORTED_FIELDS } from './supported-fields.js';

/** Reports every set field of `message` (recursively) that SUPPORTED_FIELDS does not list. */
export function checkSupportedFields<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, path: string, problems: Problems): void {
  walk(reflect(schema, message), path, problems);
}

function walk(msg: ReflectMessage, path: string, problems: Problems): void {
  const typeName = msg.desc.typeName;
  const rules = SUPPORTED_FIELDS[typeName];
  if (!rules) {
    problems.add(path, `${typeName} ${NOT_IMPLEMENTED}`);
    return;
  }
  // Fields from a newer Envoy than meshd's protos: decoded as unknown, so their meaning is unknown too.
  for (const u of msg.getUnknown() ?? []) problems.add(at(path, `<field ${u.no}>`), `field number ${u.no} of ${typeName} is unknown to meshd's Envoy protos`);
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    const fieldPath = at(path, field.name);
    const use = rules[field.name];
    if (use === undefined) {
      const accepted = ACCEPTED_VALUES[typeName]?.[field.name];
      if (accepted?.((msg.message as unknown as Record<string, unknown>)[field.localName])) continue;
      problems.add(fieldPath, field.deprecated ? `${NOT_IMPLEMENTED} (a deprecated field Envoy still honours)` : NOT_IMPLEMENTED);
      continue;
    }
    if (use === 'delegated') continue;
    walkValue(msg, field, fieldPath, problems);
  }
}

function walkValue(msg: ReflectMessage, field: DescField, path: string, problems: Problems): void {
  switch (field.fieldKind) {
    case 'message':
      if (!isWellKnown(field.message)) walk(msg.get(field), path, problems);
      return;
    case 'list': {
      if (field.listKind !== 'message' || isWellKnown(field.message)) return;
      let i = 0;
      for (const item of msg.get(field)) walk(item as ReflectMessage, `${path}[${i++}]`, problems);
      return;
    }
    case 'map': {
      if (field.mapKind !== 'message' || isWellKnown(field.message)) return;
      for (const [key, value] of msg.get(field)) walk(value as ReflectMessage, `${path}[${JSON.stringify(String(key))}]`, problems);
      return;
    }
    default:
      return;
  }
}

// Durations, wrappers, Any and Struct have no sub-fields a proxy could ignore.
function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith('google.protobuf.');
}
