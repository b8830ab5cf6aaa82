// Field lookups in the codec's schema descriptors, for building response values by hand: the codec
// writes properties left undefined as their defaults, but rejects a non-default value in a field the
// version does not have, so a builder sets a field only after asking `has`.

import { KAFKA_MESSAGE_DESCRIPTORS, type KafkaFieldDescriptor, type KafkaMessageDescriptor, type KafkaStructDescriptor } from '../protocol/index.js';

const responses = new Map<number, KafkaMessageDescriptor>();
for (const d of KAFKA_MESSAGE_DESCRIPTORS) if (d.apiKey !== undefined && d.kind === 'response') responses.set(d.apiKey, d);

export function responseDescriptorOf(apiKey: number): KafkaMessageDescriptor | undefined {
  return responses.get(apiKey);
}

const byName = new WeakMap<KafkaStructDescriptor, Map<string, KafkaFieldDescriptor>>();

export function fieldOf(struct: KafkaStructDescriptor, name: string): KafkaFieldDescriptor | undefined {
  let fields = byName.get(struct);
  if (!fields) {
    fields = new Map(struct.fields.map((f) => [f.n, f]));
    byName.set(struct, fields);
  }
  return fields.get(name);
}

export function inVersion(range: readonly [number, number] | null | undefined, version: number): boolean {
  return range !== undefined && range !== null && version >= range[0] && version <= range[1];
}

/** The struct has the field in this version (tagged or not). */
export function has(struct: KafkaStructDescriptor, name: string, version: number): boolean {
  const f = fieldOf(struct, name);
  return f !== undefined && inVersion(f.v, version);
}

export function nullableIn(struct: KafkaStructDescriptor, name: string, version: number): boolean {
  const f = fieldOf(struct, name);
  return f !== undefined && inVersion(f.v, version) && inVersion(f.nv, version);
}

/** The element (or nested) struct of a struct or struct-array field. */
export function structOf(struct: KafkaStructDescriptor, name: string): KafkaStructDescriptor {
  const s = fieldOf(struct, name)?.s;
  if (!s) throw new Error(`kafka schema: ${struct.name} has no struct field ${name}`);
  return s;
}
