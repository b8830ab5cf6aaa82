// Deterministic, fully populated messages of any API key, version and kind: every field of the
// version holds a non-default value (tagged fields too, so they are written), fields the version
// lacks hold their defaults. Round-trip tests and fuzz seeds use them.
import { defaultOf, Kind, Mode, structPlan, type FieldPlan, type StructPlan } from './plan.js';
import { isFlexible, requestDescriptor, responseDescriptor } from './registry.js';
import type { KafkaMessage } from './codec.js';

class Counter {
  n: number;
  constructor(seed: number) {
    this.n = seed;
  }
  next(): number {
    this.n = (this.n * 1103515245 + 12345) % 2147483648;
    return this.n;
  }
}

function scalar(kind: Kind, c: Counter): unknown {
  const n = c.next();
  switch (kind) {
    case Kind.Bool:
      return true;
    case Kind.Int8:
      return (n % 127) + 1;
    case Kind.Int16:
      return (n % 32000) + 1;
    case Kind.Int32:
      return (n % 2_000_000_000) + 1;
    case Kind.Int64:
      return BigInt(n) * 1_000_003n + 1n;
    case Kind.Uint16:
      return (n % 65000) + 1;
    case Kind.Uint32:
      return (n % 4_000_000_000) + 1;
    case Kind.Float64:
      return n / 7 + 0.5;
    case Kind.Uuid: {
      const hex = (n.toString(16).padStart(8, '0') + '0123456789abcdef0123456789abcdef').slice(0, 32);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case Kind.String:
      return `s${n % 100000}-é`;
    default:
      return Buffer.from(`bytes-${n}`);
  }
}

function value(f: FieldPlan, c: Counter, depth: number): unknown {
  switch (f.kind) {
    case Kind.Struct:
      return sampleStruct(f.struct!, c, depth + 1);
    case Kind.Array: {
      const out: unknown[] = [];
      for (let i = 0; i < 2; i++) out.push(f.elem === Kind.Struct ? sampleStruct(f.struct!, c, depth + 1) : scalar(f.elem, c));
      return out;
    }
    default:
      return scalar(f.kind, c);
  }
}

export function sampleStruct(plan: StructPlan, c: Counter, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) out[f.name] = f.mode === Mode.Absent ? defaultOf(f) : value(f, c, depth);
  return out;
}

/** A populated message; `seed` varies the values. */
export function sampleMessage(kind: 'request' | 'response', apiKey: number, apiVersion: number, seed = 1): KafkaMessage {
  const d = kind === 'request' ? requestDescriptor(apiKey) : responseDescriptor(apiKey);
  if (d === undefined) throw new Error(`no ${kind} schema for API key ${apiKey}`);
  return sampleStruct(structPlan(d.root, apiVersion, isFlexible(d, apiVersion)), new Counter(seed));
}
