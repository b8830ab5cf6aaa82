// Discovery responses encoded from pre-encoded parts. Each resource is wrapped (Any, or Delta's
// Resource) once and the wrapped bytes are kept beside the resource, so a push to N streams copies
// bytes instead of re-serializing messages N times (research/xds.md §2.8, §4). Hand-written framing:
// protobuf concatenation of fields is a valid message, which lets the per-stream nonce be appended to
// shared parts; the generated schemas still supply the field numbers.
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { DeltaDiscoveryResponseSchema, DiscoveryResponseSchema, ResourceSchema } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import type { XdsResource } from '../cache/index.js';

/** grpc-js and Envoy refuse messages above 4 MiB by default (research/xds.md §1.8). */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Room left for version, type URL, nonce and removed names beside the resources. */
const HEADER_RESERVE_BYTES = 4096;

const SOTW = DiscoveryResponseSchema.field;
const DELTA = DeltaDiscoveryResponseSchema.field;

const sotwParts = new WeakMap<XdsResource, Uint8Array>();
const deltaParts = new WeakMap<XdsResource, Uint8Array>();

function lengthDelimited(fieldNo: number, bytes: Uint8Array): Uint8Array {
  return new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).bytes(bytes).finish();
}

/** `resources` field entry of a DiscoveryResponse: the resource as an Any. */
export function sotwResourcePart(r: XdsResource): Uint8Array {
  let part = sotwParts.get(r);
  if (!part) {
    part = lengthDelimited(SOTW.resources.number, toBinary(AnySchema, create(AnySchema, { typeUrl: r.typeUrl, value: r.body })));
    sotwParts.set(r, part);
  }
  return part;
}

/** `resources` field entry of a DeltaDiscoveryResponse: a Resource with name, version and the Any. */
export function deltaResourcePart(r: XdsResource): Uint8Array {
  let part = deltaParts.get(r);
  if (!part) {
    const resource = create(ResourceSchema, { name: r.name, version: r.version, resource: create(AnySchema, { typeUrl: r.typeUrl, value: r.body }) });
    part = lengthDelimited(DELTA.resources.number, toBinary(ResourceSchema, resource));
    deltaParts.set(r, part);
  }
  return part;
}

/** Groups parts into chunks whose total stays under the limit; a part larger than the limit is returned in `tooLarge`. */
export function splitParts<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number): { chunks: T[][]; tooLarge: T[] } {
  const budget = maxBytes - HEADER_RESERVE_BYTES;
  const chunks: T[][] = [];
  const tooLarge: T[] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = sizeOf(item);
    if (n > budget) {
      tooLarge.push(item);
      continue;
    }
    if (current.length > 0 && size + n > budget) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return { chunks, tooLarge };
}

export function encodeSotwResponse(versionInfo: string, typeUrl: string, resources: readonly XdsResource[], nonce: string): Uint8Array {
  const w = new BinaryWriter();
  w.tag(SOTW.versionInfo.number, WireType.LengthDelimited).string(versionInfo);
  w.tag(SOTW.typeUrl.number, WireType.LengthDelimited).string(typeUrl);
  w.tag(SOTW.nonce.number, WireType.LengthDelimited).string(nonce);
  return concat([w.finish(), ...resources.map(sotwResourcePart)]);
}

export function encodeDeltaResponse(systemVersionInfo: string, typeUrl: string, resources: readonly XdsResource[], removed: readonly string[], nonce: string): Uint8Array {
  const w = new BinaryWriter();
  w.tag(DELTA.systemVersionInfo.number, WireType.LengthDelimited).string(systemVersionInfo);
  w.tag(DELTA.typeUrl.number, WireType.LengthDelimited).string(typeUrl);
  w.tag(DELTA.nonce.number, WireType.LengthDelimited).string(nonce);
  for (const name of removed) w.tag(DELTA.removedResources.number, WireType.LengthDelimited).string(name);
  return concat([w.finish(), ...resources.map(deltaResourcePart)]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
