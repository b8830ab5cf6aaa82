// Request and response framing: headers (request v0/v1/v2, response v0/v1) and bodies, using
// plans compiled once per (api key, version, kind) and cached.
// Hand-written: no npm package generates TypeScript codecs from Kafka's JSON schemas, and the
// proxy needs bounded, zero-copy decoding that general-purpose clients (kafkajs) do not offer.
import { decodeStruct } from './decode.js';
import { encodeStruct } from './encode.js';
import { KafkaProtocolError } from './errors.js';
import { defaultStruct, structPlan, type StructPlan } from './plan.js';
import { KafkaReader } from './reader.js';
import { descriptorByName, isFlexible, KAFKA_APIS, requestDescriptor, responseDescriptor } from './registry.js';
import type { KafkaMessageDescriptor } from './schema-types.js';
import { KafkaWriter } from './writer.js';

export type KafkaMessage = Record<string, unknown>;

export interface KafkaRequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** v1+ nullable string; the v0 header has none → null. */
  clientId: string | null;
  headerVersion: 0 | 1 | 2;
  /** Offset of the body within the frame given to decodeRequestHeader (frame = bytes after the size). */
  bodyOffset: number;
}

const API_VERSIONS = 18;
const CONTROLLED_SHUTDOWN = 7;

type Kind = 'request' | 'response';
const planCache = new Map<number, StructPlan>();

/** Cache key: api key (16 bits), version (15 bits), kind (1 bit). */
function bodyPlan(kind: Kind, apiKey: number, apiVersion: number, code: 'MESHD_ERR_KAFKA_DECODE' | 'MESHD_ERR_KAFKA_ENCODE'): StructPlan {
  const key = ((apiKey & 0xffff) * 65536 + (apiVersion & 0x7fff)) * 2 + (kind === 'request' ? 0 : 1);
  const hit = planCache.get(key);
  // Only valid (api key, version) pairs are ever cached, so masked keys of invalid pairs miss.
  if (hit !== undefined) return hit;
  const d = kind === 'request' ? requestDescriptor(apiKey) : responseDescriptor(apiKey);
  if (d === undefined) throw new KafkaProtocolError(code, `unknown API key ${apiKey}`);
  if (apiVersion < d.valid[0] || apiVersion > d.valid[1]) {
    throw new KafkaProtocolError(code, `${d.name} has no version ${apiVersion} (valid ${d.valid[0]}-${d.valid[1]})`);
  }
  const plan = structPlan(d.root, apiVersion, isFlexible(d, apiVersion));
  planCache.set(key, plan);
  return plan;
}

/**
 * Request header version by api key and version: -1 where the version does not exist. Precomputed
 * because the proxy reads a header for every request.
 */
const REQUEST_HEADER_VERSIONS: Array<Int8Array | undefined> = [];
for (const [apiKey, info] of KAFKA_APIS) {
  const table = new Int8Array(info.maxVersion + 1).fill(-1);
  const flexibleFrom = info.requestFlexibleFrom ?? Infinity;
  for (let v = info.minVersion; v <= info.maxVersion; v++) {
    // ControlledShutdown v0 has a non-standard header without a client id.
    table[v] = apiKey === CONTROLLED_SHUTDOWN && v === 0 ? 0 : v >= flexibleFrom ? 2 : 1;
  }
  REQUEST_HEADER_VERSIONS[apiKey] = table;
}

/** Request header version of an API version (KIP-482); -1 for versions that do not exist. */
function knownHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey < 0 || apiVersion < 0) return -1;
  return REQUEST_HEADER_VERSIONS[apiKey]?.[apiVersion] ?? -1;
}

/** The request header version of an API version; unknown keys and versions read as v1. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 | 2 {
  const v = knownHeaderVersion(apiKey, apiVersion);
  return v === -1 ? 1 : (v as 0 | 1 | 2);
}

/** The response header version (ApiVersions responses always use v0, KIP-511). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === API_VERSIONS) return 0;
  const d = responseDescriptor(apiKey);
  return d !== undefined && isFlexible(d, apiVersion) ? 1 : 0;
}

function skipTaggedFields(r: KafkaReader): void {
  const count = r.uvarint();
  if (count > r.remaining) r.fail(`${count} tagged fields announced, ${r.remaining} byte(s) left`);
  for (let i = 0; i < count; i++) {
    r.uvarint();
    const size = r.uvarint();
    r.bytes(size);
  }
}

function inHeader(err: unknown): unknown {
  return err instanceof KafkaProtocolError ? new KafkaProtocolError(err.code, err.detail, 'header', err.offset, err.hint) : err;
}

/**
 * Decodes the request header at the start of `frame` (the bytes after the 4-byte size). Unknown api
 * keys or versions are read as a v1 header (api key, version, correlation id and client id are
 * readable for every request ever defined) with `known: false`: their body cannot be decoded.
 */
export function decodeRequestHeader(frame: Uint8Array): KafkaRequestHeader & { known: boolean } {
  const r = new KafkaReader(frame);
  try {
    const apiKey = r.int16();
    const apiVersion = r.int16();
    const correlationId = r.int32();
    const known = knownHeaderVersion(apiKey, apiVersion);
    const headerVersion = known === -1 ? 1 : (known as 0 | 1 | 2);
    let clientId: string | null = null;
    if (headerVersion >= 1) {
      // The client id stays a classic (int16-length) string even in the flexible v2 header.
      const at = r.pos;
      const n = r.int16();
      if (n < -1) r.fail(`negative client id length ${n}`, at);
      clientId = n === -1 ? null : r.utf8(n);
    }
    if (headerVersion === 2) skipTaggedFields(r);
    return { apiKey, apiVersion, correlationId, clientId, headerVersion, bodyOffset: r.pos, known: known !== -1 };
  } catch (err) {
    throw inHeader(err);
  }
}

/** Decodes a request body that runs from `offset` to the end of `frame`; trailing bytes are an error. */
export function decodeRequestBody(apiKey: number, apiVersion: number, frame: Uint8Array, offset: number): KafkaMessage {
  const plan = bodyPlan('request', apiKey, apiVersion, 'MESHD_ERR_KAFKA_DECODE');
  const r = new KafkaReader(frame, offset);
  const body = decodeStruct(plan, r);
  if (r.pos !== r.end) r.fail(`${r.end - r.pos} byte(s) after the end of ${plan.name} v${apiVersion}`);
  return body;
}

export function encodeRequest(
  header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
  body: KafkaMessage,
): Buffer {
  const plan = bodyPlan('request', header.apiKey, header.apiVersion, 'MESHD_ERR_KAFKA_ENCODE');
  const headerVersion = requestHeaderVersion(header.apiKey, header.apiVersion);
  const w = new KafkaWriter(256);
  w.int32(0);
  w.int16(header.apiKey);
  w.int16(header.apiVersion);
  w.int32(header.correlationId);
  if (headerVersion >= 1) {
    if (header.clientId === null) w.int16(-1);
    else {
      const n = Buffer.byteLength(header.clientId, 'utf8');
      if (n > 32767) throw new KafkaProtocolError('MESHD_ERR_KAFKA_ENCODE', `client id of ${n} bytes`, 'header.clientId', w.pos);
      w.int16(n);
      w.utf8(header.clientId, n);
    }
  }
  if (headerVersion === 2) w.uvarint(0);
  encodeStruct(plan, body, w);
  return sizePrefixed(w);
}

function sizePrefixed(w: KafkaWriter): Buffer {
  const out = w.finish();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** Decodes a response frame (bytes after the size) of the request's api key and version. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Uint8Array): { correlationId: number; body: KafkaMessage } {
  const plan = bodyPlan('response', apiKey, apiVersion, 'MESHD_ERR_KAFKA_DECODE');
  const r = new KafkaReader(frame);
  let correlationId: number;
  try {
    correlationId = r.int32();
    if (responseHeaderVersion(apiKey, apiVersion) === 1) skipTaggedFields(r);
  } catch (err) {
    throw inHeader(err);
  }
  const body = decodeStruct(plan, r);
  if (r.pos !== r.end) r.fail(`${r.end - r.pos} byte(s) after the end of ${plan.name} v${apiVersion}`);
  return { correlationId, body };
}

export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: KafkaMessage): Buffer {
  const plan = bodyPlan('response', apiKey, apiVersion, 'MESHD_ERR_KAFKA_ENCODE');
  const w = new KafkaWriter(256);
  w.int32(0);
  w.int32(correlationId);
  if (responseHeaderVersion(apiKey, apiVersion) === 1) w.uvarint(0);
  encodeStruct(plan, body, w);
  return sizePrefixed(w);
}

/** A message of that version with every field at its default. */
export function defaultMessage(kind: 'request' | 'response', apiKey: number, apiVersion: number): KafkaMessage {
  return defaultStruct(bodyPlan(kind, apiKey, apiVersion, 'MESHD_ERR_KAFKA_ENCODE'));
}

/** The data schemas clients carry inside bytes fields (JoinGroup/SyncGroup consumer protocol). */
export type KafkaDataSchemaName = 'ConsumerProtocolSubscription' | 'ConsumerProtocolAssignment';

function dataPlan(name: KafkaDataSchemaName, version: number, code: 'MESHD_ERR_KAFKA_DECODE' | 'MESHD_ERR_KAFKA_ENCODE'): StructPlan {
  const d: KafkaMessageDescriptor | undefined = descriptorByName(name);
  if (d === undefined || d.kind !== 'data') throw new KafkaProtocolError(code, `unknown data schema ${name}`);
  if (version < d.valid[0] || version > d.valid[1]) throw new KafkaProtocolError(code, `${name} has no version ${version}`);
  return structPlan(d.root, version, isFlexible(d, version));
}

/**
 * Decodes a data schema value (without the int16 version prefix the consumer protocol puts in
 * front of it). Trailing bytes are an error unless `allowTrailing` (newer versions append fields).
 */
export function decodeKafkaData(name: KafkaDataSchemaName, version: number, bytes: Uint8Array, allowTrailing = false): KafkaMessage {
  const r = new KafkaReader(bytes);
  const value = decodeStruct(dataPlan(name, version, 'MESHD_ERR_KAFKA_DECODE'), r);
  if (!allowTrailing && r.pos !== r.end) r.fail(`${r.end - r.pos} byte(s) after the end of ${name} v${version}`);
  return value;
}

/** Encodes a data schema value (without a version prefix). */
export function encodeKafkaData(name: KafkaDataSchemaName, version: number, value: KafkaMessage): Buffer {
  const w = new KafkaWriter(128);
  encodeStruct(dataPlan(name, version, 'MESHD_ERR_KAFKA_ENCODE'), value, w);
  return Buffer.from(w.finish());
}

export function defaultKafkaData(name: KafkaDataSchemaName, version: number): KafkaMessage {
  return defaultStruct(dataPlan(name, version, 'MESHD_ERR_KAFKA_ENCODE'));
}
