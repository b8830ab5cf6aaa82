// Interprets a struct plan over a KafkaReader. No closures or key walks per call: a loop over
// the plan's fields and a switch on each field's kind. Nesting depth is the schema's (values
// cannot make it deeper), so recursion is bounded.
import { KafkaProtocolError, withOuterPath } from './errors.js';
import { defaultOf, Kind, Mode, type FieldPlan, type StructPlan } from './plan.js';
import type { KafkaReader } from './reader.js';
import type { KafkaRawTaggedField } from './schema-types.js';

/** Arrays of values that can take zero bytes (structs with no fields in a version) are capped here. */
const MAX_EMPTY_ELEMENTS = 65_536;

export function decodeStruct(plan: StructPlan, r: KafkaReader): Record<string, unknown> {
  const out: Record<string, unknown> = { ...plan.shape };
  const fields = plan.fields;
  let i = 0;
  try {
    for (; i < fields.length; i++) {
      const f = fields[i]!;
      out[f.name] = f.mode === Mode.Regular ? readField(f, r) : defaultOf(f);
    }
  } catch (err) {
    throw withOuterPath(err, fields[i]!.name);
  }
  if (plan.flexible) readTaggedFields(plan, r, out);
  return out;
}

function readTaggedFields(plan: StructPlan, r: KafkaReader, out: Record<string, unknown>): void {
  const count = r.uvarint();
  if (count > r.remaining) r.fail(`${count} tagged fields announced, ${r.remaining} byte(s) left`);
  let unknown: KafkaRawTaggedField[] | undefined;
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    if (size > r.remaining) r.fail(`tagged field ${tag} of ${size} byte(s), ${r.remaining} left`);
    const f = plan.taggedByTag.get(tag);
    if (f === undefined) {
      (unknown ??= []).push({ tag, data: r.bytes(size) });
      continue;
    }
    const end = r.pos + size;
    const outerEnd = r.end;
    r.end = end;
    try {
      out[f.name] = readTaggedValue(f, r);
      if (r.pos !== end) r.fail(`tagged field ${tag} has ${end - r.pos} byte(s) after its value`);
    } catch (err) {
      throw withOuterPath(err, f.name);
    } finally {
      r.end = outerEnd;
    }
  }
  if (unknown) out._unknownTaggedFields = unknown;
}

function readTaggedValue(f: FieldPlan, r: KafkaReader): unknown {
  if (f.kind === Kind.Struct && f.nullable) {
    // A nullable tagged struct has a varint presence marker (0 = null), not the int8 of untagged ones.
    if (r.uvarint() === 0) return null;
    return decodeStruct(f.struct!, r);
  }
  return readField(f, r);
}

function lengthOf(f: FieldPlan, r: KafkaReader, classicInt32: boolean): number {
  const at = r.pos;
  const n = f.compact ? r.uvarint() - 1 : classicInt32 ? r.int32() : r.int16();
  if (n < -1) r.fail(`negative length ${n}`, at);
  if (n === -1 && !f.nullable) r.fail('null where the field is not nullable', at);
  return n;
}

export function readField(f: FieldPlan, r: KafkaReader): unknown {
  if (f.kind <= Kind.Uuid) return readFixedWidth(f.kind, r);
  switch (f.kind) {
    case Kind.String: {
      const n = lengthOf(f, r, false);
      return n === -1 ? null : r.utf8(n);
    }
    case Kind.Bytes:
    case Kind.Records: {
      const n = lengthOf(f, r, true);
      return n === -1 ? null : r.bytes(n);
    }
    case Kind.Struct:
      if (f.nullable && r.int8() < 0) return null;
      return decodeStruct(f.struct!, r);
    case Kind.Array:
      return readArray(f, r);
  }
}

function readArray(f: FieldPlan, r: KafkaReader): unknown[] | null {
  const at = r.pos;
  const n = lengthOf(f, r, true);
  if (n === -1) return null;
  const min = f.elemMinBytes;
  if (min > 0 ? n * min > r.remaining : n > MAX_EMPTY_ELEMENTS) {
    r.fail(`array of ${n} element(s) cannot fit in the ${r.remaining} byte(s) left`, at);
  }
  const out = new Array<unknown>(n);
  let i = 0;
  try {
    switch (f.elem) {
      case Kind.Struct:
        for (; i < n; i++) out[i] = decodeStruct(f.struct!, r);
        break;
      case Kind.Int32:
        for (; i < n; i++) out[i] = r.int32();
        break;
      case Kind.Int64:
        for (; i < n; i++) out[i] = r.int64();
        break;
      case Kind.String:
        for (; i < n; i++) {
          const len = f.compact ? r.uvarint() - 1 : r.int16();
          if (len < 0) r.fail(`string of length ${len} in an array`);
          out[i] = r.utf8(len);
        }
        break;
      default:
        for (; i < n; i++) out[i] = readElement(f.elem, f.compact, r);
    }
  } catch (err) {
    throw withOuterPath(err, `[${i}]`);
  }
  return out;
}

/** The kinds up to Uuid in plan.ts's order, whose width does not depend on the version. */
function readFixedWidth(kind: Kind, r: KafkaReader): unknown {
  switch (kind) {
    case Kind.Bool:
      return r.bool();
    case Kind.Int8:
      return r.int8();
    case Kind.Int16:
      return r.int16();
    case Kind.Int32:
      return r.int32();
    case Kind.Int64:
      return r.int64();
    case Kind.Uint16:
      return r.uint16();
    case Kind.Uint32:
      return r.uint32();
    case Kind.Float64:
      return r.float64();
    case Kind.Uuid:
      return r.uuid();
    default:
      throw new KafkaProtocolError('MESHD_ERR_KAFKA_DECODE', 'not a fixed-width type', '', r.pos);
  }
}

function readElement(kind: Kind, compact: boolean, r: KafkaReader): unknown {
  if (kind <= Kind.Uuid) return readFixedWidth(kind, r);
  switch (kind) {
    case Kind.String: {
      const len = compact ? r.uvarint() - 1 : r.int16();
      if (len < 0) r.fail(`string of length ${len} in an array`);
      return r.utf8(len);
    }
    case Kind.Bytes:
    case Kind.Records: {
      const len = compact ? r.uvarint() - 1 : r.int32();
      if (len < 0) r.fail(`bytes of length ${len} in an array`);
      return r.bytes(len);
    }
    default:
      throw new KafkaProtocolError('MESHD_ERR_KAFKA_DECODE', 'unsupported array element type', '', r.pos);
  }
}
