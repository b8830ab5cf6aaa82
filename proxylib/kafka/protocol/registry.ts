// API facts derived from the generated descriptor tables: which API keys and versions exist,
// where flexible versions start, and the descriptor of each request, response and data schema.
import { KAFKA_MESSAGE_DESCRIPTORS } from './generated/messages.js';
import { KAFKA_VERSION_OPEN, type KafkaMessageDescriptor } from './schema-types.js';

export interface KafkaApiInfo {
  apiKey: number;
  /** 'Produce', 'OffsetCommit' (the schema name minus Request). */
  name: string;
  /** validVersions of the request. */
  minVersion: number;
  maxVersion: number;
  /** maxVersion, minus one when the schema marks its latest version unstable. */
  maxStableVersion: number;
  /** First flexible version (KIP-482); undefined = never flexible. */
  requestFlexibleFrom: number | undefined;
  responseFlexibleFrom: number | undefined;
}

const requests = new Map<number, KafkaMessageDescriptor>();
const responses = new Map<number, KafkaMessageDescriptor>();
const byName = new Map<string, KafkaMessageDescriptor>();
for (const d of KAFKA_MESSAGE_DESCRIPTORS) {
  byName.set(d.name, d);
  if (d.apiKey === undefined) continue;
  if (d.kind === 'request') requests.set(d.apiKey, d);
  else if (d.kind === 'response') responses.set(d.apiKey, d);
}

const apis = new Map<number, KafkaApiInfo>();
for (const [apiKey, req] of [...requests.entries()].sort((a, b) => a[0] - b[0])) {
  const res = responses.get(apiKey);
  apis.set(apiKey, Object.freeze({
    apiKey,
    name: req.name.replace(/Request$/, ''),
    minVersion: req.valid[0],
    maxVersion: req.valid[1],
    maxStableVersion: req.latestVersionUnstable ? req.valid[1] - 1 : req.valid[1],
    requestFlexibleFrom: req.flexible?.[0],
    responseFlexibleFrom: res?.flexible?.[0],
  }));
}

export const KAFKA_APIS: ReadonlyMap<number, KafkaApiInfo> = apis;

export function kafkaApiInfo(apiKey: number): KafkaApiInfo | undefined {
  return apis.get(apiKey);
}

export function requestDescriptor(apiKey: number): KafkaMessageDescriptor | undefined {
  return requests.get(apiKey);
}

export function responseDescriptor(apiKey: number): KafkaMessageDescriptor | undefined {
  return responses.get(apiKey);
}

export function descriptorByName(name: string): KafkaMessageDescriptor | undefined {
  return byName.get(name);
}

export function isFlexible(d: KafkaMessageDescriptor, version: number): boolean {
  const f = d.flexible;
  return f !== null && version >= f[0] && version <= (f[1] === KAFKA_VERSION_OPEN ? Infinity : f[1]);
}
