// Compiles a schema descriptor into the field plan of one version: which fields are on the wire,
// how (classic or compact, tagged or not, nullable or not) and their defaults. Plans are built
// once per (struct, version) and cached, so decoding and encoding only walk arrays of plans.
import type { KafkaFieldDescriptor, KafkaStructDescriptor, KafkaVersionRange } from './schema-types.js';

export const enum Kind {
  // Fixed-width kinds first, Uuid last of them: decode.ts tests `kind <= Kind.Uuid`.
  Bool,
  Int8,
  Int16,
  Int32,
  Int64,
  Uint16,
  Uint32,
  Float64,
  Uuid,
  String,
  Bytes,
  Records,
  Struct,
  Array,
}

export const enum Mode {
  /** Not in this version: the value is the default. */
  Absent,
  Regular,
  Tagged,
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const KIND_BY_TYPE: Readonly<Record<string, Kind>> = {
  bool: Kind.Bool, int8: Kind.Int8, int16: Kind.Int16, int32: Kind.Int32, int64: Kind.Int64,
  uint16: Kind.Uint16, uint32: Kind.Uint32, float64: Kind.Float64, uuid: Kind.Uuid, string: Kind.String,
  bytes: Kind.Bytes, records: Kind.Records, struct: Kind.Struct,
};

/** Fewest bytes a value of the kind takes on the wire (bounds array counts before allocating). */
const MIN_BYTES: readonly number[] = [1, 1, 2, 4, 8, 2, 4, 8, 16, 1, 1, 1, 0, 1];

export interface FieldPlan {
  readonly name: string;
  readonly kind: Kind;
  readonly mode: Mode;
  readonly nullable: boolean;
  /** Compact (flexible) encoding of strings, bytes and arrays. */
  readonly compact: boolean;
  readonly tag: number;
  readonly ignorable: boolean;
  /** Element kind of an array. */
  readonly elem: Kind;
  /** Struct plan of a struct or struct-array field (same version). */
  readonly struct: StructPlan | undefined;
  /** The default is null (schema default "null"). */
  readonly defaultNull: boolean;
  /** Default of number/bigint/boolean/string/uuid fields. */
  readonly defaultValue: unknown;
  /** Bytes the smallest element of an array takes (0 for structs that can be empty). */
  readonly elemMinBytes: number;
}

export interface StructPlan {
  readonly name: string;
  readonly version: number;
  readonly flexible: boolean;
  readonly fields: readonly FieldPlan[];
  /** Tagged fields of this version by tag. */
  readonly taggedByTag: ReadonlyMap<number, FieldPlan>;
  /** Tagged fields of this version in ascending tag order (the order they are written). */
  readonly taggedInOrder: readonly FieldPlan[];
  readonly minBytes: number;
  /** An object with every field (values undefined), cloned so decoded values share one hidden class. */
  readonly shape: Readonly<Record<string, unknown>>;
}

export function inRange(range: KafkaVersionRange | null | undefined, version: number): boolean {
  return range !== undefined && range !== null && version >= range[0] && version <= range[1];
}

function parseDefault(f: KafkaFieldDescriptor, kind: Kind): unknown {
  const d = f.d;
  switch (kind) {
    case Kind.Bool:
      return d === true || d === 'true';
    case Kind.Int64:
      return d === undefined || d === '' ? 0n : BigInt(d as string | number);
    case Kind.Int8:
    case Kind.Int16:
    case Kind.Int32:
    case Kind.Uint16:
    case Kind.Uint32:
    case Kind.Float64:
      return d === undefined || d === '' ? 0 : Number(d);
    case Kind.String:
      return typeof d === 'string' && d !== 'null' ? d : '';
    case Kind.Uuid:
      return ZERO_UUID;
    default:
      return undefined;
  }
}

const cache = new WeakMap<KafkaStructDescriptor, Map<string, StructPlan>>();

/** The plan of `struct` at `version`; `flexible` is whether the message is flexible there. */
export function structPlan(struct: KafkaStructDescriptor, version: number, flexible: boolean): StructPlan {
  let byVersion = cache.get(struct);
  if (!byVersion) {
    byVersion = new Map();
    cache.set(struct, byVersion);
  }
  const key = flexible ? `${version}f` : `${version}`;
  const hit = byVersion.get(key);
  if (hit) return hit;
  const fields: FieldPlan[] = [];
  const taggedByTag = new Map<number, FieldPlan>();
  let minBytes = flexible ? 1 : 0;
  for (const f of struct.fields) {
    const isArray = f.t.startsWith('[]');
    const elemKind = KIND_BY_TYPE[isArray ? f.t.slice(2) : f.t];
    if (elemKind === undefined) throw new Error(`kafka schema: unknown type ${f.t} in ${struct.name}.${f.n}`);
    const kind = isArray ? Kind.Array : elemKind;
    const present = inRange(f.v, version);
    const tagged = present && inRange(f.tv, version);
    const mode = !present ? Mode.Absent : tagged ? Mode.Tagged : Mode.Regular;
    const compact = f.fv !== undefined ? inRange(f.fv, version) : flexible;
    const sub = f.s ? structPlan(f.s, version, flexible) : undefined;
    const plan: FieldPlan = {
      name: f.n,
      kind,
      mode,
      nullable: present && inRange(f.nv, version),
      compact,
      tag: f.tag ?? -1,
      ignorable: f.ig === true,
      elem: elemKind,
      struct: sub,
      defaultNull: f.d === 'null' || (kind === Kind.Records && f.d === undefined),
      defaultValue: parseDefault(f, kind),
      elemMinBytes: elemKind === Kind.Struct ? (sub?.minBytes ?? 0) : MIN_BYTES[elemKind]!,
    };
    fields.push(plan);
    if (mode === Mode.Tagged) taggedByTag.set(plan.tag, plan);
    if (mode === Mode.Regular) {
      if (kind === Kind.Struct) minBytes += plan.nullable ? 1 : (sub?.minBytes ?? 0);
      else minBytes += MIN_BYTES[kind]!;
    }
  }
  const shape: Record<string, unknown> = {};
  for (const f of fields) shape[f.name] = undefined;
  const result: StructPlan = {
    shape,
    name: struct.name,
    version,
    flexible,
    fields,
    taggedByTag,
    taggedInOrder: [...taggedByTag.values()].sort((a, b) => a.tag - b.tag),
    minBytes,
  };
  byVersion.set(key, result);
  return result;
}

/** A fresh default value of a field (new arrays and structs each time: values are mutable). */
export function defaultOf(f: FieldPlan): unknown {
  if (f.defaultNull) return null;
  switch (f.kind) {
    case Kind.Array:
      return [];
    case Kind.Struct:
      return defaultStruct(f.struct!);
    case Kind.Bytes:
    case Kind.Records:
      return Buffer.alloc(0);
    default:
      return f.defaultValue;
  }
}

export function defaultStruct(plan: StructPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    out[f.name] = defaultOf(f);
  }
  return out;
}
