// Writes a value by a struct plan. Properties left undefined are written as their defaults, so
// callers may build values from defaultMessage() or by hand with only the fields they care about.
// As Kafka's generated code does, a non-default value in a field the version does not have is an
// error unless the schema marks the field ignorable.
import { KafkaProtocolError, withOuterPath } from './errors.js';
import { defaultOf, Kind, Mode, type FieldPlan, type StructPlan } from './plan.js';
import type { KafkaRawTaggedField } from './schema-types.js';
import { KafkaWriter } from './writer.js';

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

function fail(w: KafkaWriter, detail: string): never {
  throw new KafkaProtocolError('MESHD_ERR_KAFKA_ENCODE', detail, '', w.pos);
}

export function encodeStruct(plan: StructPlan, value: unknown, w: KafkaWriter): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(w, `expected an object for ${plan.name}`);
  const obj = value as Record<string, unknown>;
  const fields = plan.fields;
  let i = 0;
  try {
    for (; i < fields.length; i++) {
      const f = fields[i]!;
      const v = obj[f.name];
      if (f.mode === Mode.Regular) writeField(f, v === undefined ? defaultOf(f) : v, w);
      else if (f.mode === Mode.Absent && !f.ignorable && !isDefault(f, v)) {
        fail(w, `a non-default value in a field that version ${plan.version} does not have`);
      }
    }
  } catch (err) {
    throw withOuterPath(err, fields[i]!.name);
  }
  const unknown = obj._unknownTaggedFields as KafkaRawTaggedField[] | undefined;
  if (plan.flexible) writeTaggedFields(plan, obj, unknown, w);
  else if (unknown !== undefined && unknown.length > 0) fail(w, `tagged fields in non-flexible version ${plan.version} of ${plan.name}`);
}

function writeTaggedFields(plan: StructPlan, obj: Record<string, unknown>, unknown: KafkaRawTaggedField[] | undefined, w: KafkaWriter): void {
  const tagged = plan.taggedInOrder;
  let count = unknown?.length ?? 0;
  for (let i = 0; i < tagged.length; i++) if (!isDefault(tagged[i]!, obj[tagged[i]!.name])) count++;
  w.uvarint(count);
  if (count === 0) return;
  const raws = unknown ? [...unknown].sort((a, b) => a.tag - b.tag) : [];
  let u = 0;
  for (let i = 0; i < tagged.length; i++) {
    const f = tagged[i]!;
    for (; u < raws.length && raws[u]!.tag < f.tag; u++) writeRaw(raws[u]!, w);
    const v = obj[f.name];
    if (isDefault(f, v)) continue;
    const scratch = new KafkaWriter(64);
    try {
      if (f.kind === Kind.Struct && f.nullable) {
        if (v === null) scratch.uvarint(0);
        else {
          scratch.uvarint(1);
          encodeStruct(f.struct!, v, scratch);
        }
      } else writeField(f, v, scratch);
    } catch (err) {
      throw withOuterPath(err, f.name);
    }
    w.uvarint(f.tag);
    w.uvarint(scratch.pos);
    w.raw(scratch.finish());
  }
  for (; u < raws.length; u++) writeRaw(raws[u]!, w);
}

function writeRaw(raw: KafkaRawTaggedField, w: KafkaWriter): void {
  w.uvarint(raw.tag);
  w.uvarint(raw.data.length);
  w.raw(raw.data);
}

/** Whether `v` equals the field's default (undefined counts as the default). */
export function isDefault(f: FieldPlan, v: unknown): boolean {
  if (v === undefined) return true;
  if (f.defaultNull) return v === null;
  switch (f.kind) {
    case Kind.Array:
      return Array.isArray(v) && v.length === 0;
    case Kind.Bytes:
    case Kind.Records:
      return v instanceof Uint8Array && v.length === 0;
    case Kind.Struct:
      return typeof v === 'object' && v !== null && structIsDefault(f.struct!, v as Record<string, unknown>);
    case Kind.Int64:
      return v === f.defaultValue || (typeof v === 'number' && BigInt(v) === f.defaultValue);
    case Kind.Uuid:
      return typeof v === 'string' && v.toLowerCase() === f.defaultValue;
    default:
      return v === f.defaultValue;
  }
}

function structIsDefault(plan: StructPlan, obj: Record<string, unknown>): boolean {
  for (const f of plan.fields) if (!isDefault(f, obj[f.name])) return false;
  const unknown = obj._unknownTaggedFields as unknown[] | undefined;
  return unknown === undefined || unknown.length === 0;
}

function checkInt(w: KafkaWriter, v: unknown, lo: number, hi: number, type: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(w, `expected ${type}, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

function writeLength(f: FieldPlan, n: number, classicInt32: boolean, w: KafkaWriter): void {
  if (f.compact) w.uvarint(n + 1);
  else if (classicInt32) w.int32(n);
  else w.int16(n);
}

function writeNull(f: FieldPlan, classicInt32: boolean, w: KafkaWriter): void {
  if (!f.nullable) fail(w, 'null where the field is not nullable in this version');
  writeLength(f, -1, classicInt32, w);
}

export function writeField(f: FieldPlan, v: unknown, w: KafkaWriter): void {
  switch (f.kind) {
    case Kind.Array:
      if (v === null) return writeNull(f, true, w);
      if (!Array.isArray(v)) fail(w, `expected an array, got ${describe(v)}`);
      writeLength(f, v.length, true, w);
      writeElements(f, v, w);
      return;
    case Kind.Struct:
      if (v === null) {
        if (!f.nullable) fail(w, 'null where the struct is not nullable in this version');
        w.int8(-1);
        return;
      }
      if (f.nullable) w.int8(1);
      encodeStruct(f.struct!, v, w);
      return;
    case Kind.String:
      if (v === null) return writeNull(f, false, w);
      return writeString(f.compact, v, w);
    case Kind.Bytes:
    case Kind.Records:
      if (v === null) return writeNull(f, true, w);
      if (!(v instanceof Uint8Array)) fail(w, `expected a Buffer, got ${describe(v)}`);
      writeLength(f, v.length, true, w);
      w.raw(v);
      return;
    default:
      writeScalar(f.kind, v, w);
  }
}

function writeString(compact: boolean, v: unknown, w: KafkaWriter): void {
  if (typeof v !== 'string') fail(w, `expected a string, got ${describe(v)}`);
  const n = Buffer.byteLength(v, 'utf8');
  if (compact) w.uvarint(n + 1);
  else {
    if (n > 32767) fail(w, `string of ${n} bytes is longer than 32767`);
    w.int16(n);
  }
  w.utf8(v, n);
}

function writeScalar(kind: Kind, v: unknown, w: KafkaWriter): void {
  switch (kind) {
    case Kind.Bool:
      if (typeof v !== 'boolean') fail(w, `expected a boolean, got ${describe(v)}`);
      return w.bool(v);
    case Kind.Int8:
      return w.int8(checkInt(w, v, -128, 127, 'int8'));
    case Kind.Int16:
      return w.int16(checkInt(w, v, -32768, 32767, 'int16'));
    case Kind.Int32:
      return w.int32(checkInt(w, v, -2147483648, 2147483647, 'int32'));
    case Kind.Uint16:
      return w.uint16(checkInt(w, v, 0, 65535, 'uint16'));
    case Kind.Uint32:
      return w.uint32(checkInt(w, v, 0, 4294967295, 'uint32'));
    case Kind.Float64:
      if (typeof v !== 'number') fail(w, `expected a number, got ${describe(v)}`);
      return w.float64(v);
    case Kind.Int64: {
      const b = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v;
      if (typeof b !== 'bigint' || b > MAX_INT64 || b < MIN_INT64) fail(w, `expected an int64 bigint, got ${describe(v)}`);
      return w.int64(b);
    }
    case Kind.Uuid:
      if (typeof v !== 'string') fail(w, `expected a UUID string, got ${describe(v)}`);
      return w.uuid(v);
    default:
      fail(w, 'unsupported scalar type');
  }
}

function writeElements(f: FieldPlan, arr: unknown[], w: KafkaWriter): void {
  let i = 0;
  try {
    switch (f.elem) {
      case Kind.Struct:
        for (; i < arr.length; i++) encodeStruct(f.struct!, arr[i], w);
        return;
      case Kind.String:
        for (; i < arr.length; i++) writeString(f.compact, arr[i], w);
        return;
      case Kind.Bytes:
      case Kind.Records:
        for (; i < arr.length; i++) {
          const b = arr[i];
          if (!(b instanceof Uint8Array)) fail(w, `expected a Buffer, got ${describe(b)}`);
          if (f.compact) w.uvarint(b.length + 1);
          else w.int32(b.length);
          w.raw(b);
        }
        return;
      default:
        for (; i < arr.length; i++) writeScalar(f.elem, arr[i], w);
    }
  } catch (err) {
    throw withOuterPath(err, `[${i}]`);
  }
}
