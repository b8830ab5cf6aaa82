// An independent check of deny responses: kafkajs 2.2.4's own response decoders (CommonJS files
// under node_modules/kafkajs/src/protocol/requests/<api>/v<N>/response.js) read every deny response
// of every version kafkajs implements, and kafkajs must report the authorization error, as it
// would to an application.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeRequestBody, decodeRequestHeader, encodeRequest, KAFKA_APIS, sampleMessage, type KafkaMessage } from '../protocol/index.js';
import { DEFAULT_DENY_ERRORS, denyResponse } from './index.js';

const require = createRequire(import.meta.url);
const requestsDir = join(dirname(require.resolve('kafkajs/package.json')), 'src/protocol/requests');
const keyByName = new Map([...KAFKA_APIS].map(([key, api]) => [api.name.toLowerCase(), key]));

/** The authorization error kafkajs must report, by kafkajs request folder. */
const EXPECTED: Readonly<Record<string, string>> = {
  produce: 'TOPIC_AUTHORIZATION_FAILED',
  fetch: 'TOPIC_AUTHORIZATION_FAILED',
  listOffsets: 'TOPIC_AUTHORIZATION_FAILED',
  metadata: 'TOPIC_AUTHORIZATION_FAILED',
  offsetCommit: 'TOPIC_AUTHORIZATION_FAILED',
  offsetFetch: 'TOPIC_AUTHORIZATION_FAILED',
  findCoordinator: 'GROUP_AUTHORIZATION_FAILED',
  joinGroup: 'GROUP_AUTHORIZATION_FAILED',
  heartbeat: 'GROUP_AUTHORIZATION_FAILED',
  leaveGroup: 'GROUP_AUTHORIZATION_FAILED',
  syncGroup: 'GROUP_AUTHORIZATION_FAILED',
  describeGroups: 'GROUP_AUTHORIZATION_FAILED',
  deleteGroups: 'GROUP_AUTHORIZATION_FAILED',
  listGroups: 'CLUSTER_AUTHORIZATION_FAILED',
  apiVersions: 'CLUSTER_AUTHORIZATION_FAILED',
  saslHandshake: 'CLUSTER_AUTHORIZATION_FAILED',
  saslAuthenticate: 'CLUSTER_AUTHORIZATION_FAILED',
  createTopics: 'TOPIC_AUTHORIZATION_FAILED',
  deleteTopics: 'TOPIC_AUTHORIZATION_FAILED',
  deleteRecords: 'TOPIC_AUTHORIZATION_FAILED',
  createPartitions: 'TOPIC_AUTHORIZATION_FAILED',
  describeConfigs: 'TOPIC_AUTHORIZATION_FAILED',
  alterConfigs: 'TOPIC_AUTHORIZATION_FAILED',
  initProducerId: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  addPartitionsToTxn: 'TOPIC_AUTHORIZATION_FAILED',
  addOffsetsToTxn: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  endTxn: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  txnOffsetCommit: 'TOPIC_AUTHORIZATION_FAILED',
  describeAcls: 'CLUSTER_AUTHORIZATION_FAILED',
  createAcls: 'CLUSTER_AUTHORIZATION_FAILED',
  deleteAcls: 'CLUSTER_AUTHORIZATION_FAILED',
  alterPartitionReassignments: 'CLUSTER_AUTHORIZATION_FAILED',
  listPartitionReassignments: 'CLUSTER_AUTHORIZATION_FAILED',
};

interface KafkajsResponse {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}

function populatedRequest(apiKey: number, apiVersion: number): KafkaMessage {
  const m = sampleMessage('request', apiKey, apiVersion, 31 + apiVersion);
  if (apiKey === 10) m['keyType'] = 0;
  if (apiKey === 22) m['transactionalId'] = 'tx';
  if (apiKey === 32 || apiKey === 33 || apiKey === 44) for (const r of m['resources'] as KafkaMessage[]) r['resourceType'] = 2;
  return m;
}

/** The error type kafkajs reports: thrown by parse, or (APIs that report per entry) attached to an entry. */
async function reportedError(response: KafkajsResponse, payload: Buffer): Promise<string | undefined> {
  const decoded = await response.decode(payload);
  try {
    const parsed = await response.parse(decoded);
    return findErrorType(parsed);
  } catch (err) {
    const e = err as { type?: string; errors?: Array<{ type?: string }> };
    // Aggregates: CreateTopics lists errors, DeleteRecords attaches them to partitions.
    return e.type ?? e.errors?.[0]?.type ?? findErrorType(err);
  }
}

function findErrorType(m: unknown): string | undefined {
  if (Array.isArray(m)) {
    for (const e of m) {
      const t = findErrorType(e);
      if (t) return t;
    }
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (o['name'] === 'KafkaJSProtocolError' && typeof o['type'] === 'string') return o['type'];
  for (const v of Object.values(o)) {
    const t = findErrorType(v);
    if (t) return t;
  }
  return undefined;
}

describe('deny responses read by kafkajs 2.2.4', () => {
  const apis = readdirSync(requestsDir).filter((d) => keyByName.has(d.toLowerCase())).sort();

  test('kafkajs implements the APIs this check expects', () => {
    assert.deepEqual(apis.filter((a) => !(a in EXPECTED)), [], 'every kafkajs API has an expected error');
    assert.ok(apis.length >= 30, `found ${apis.length} kafkajs request folders`);
  });

  for (const api of apis) {
    const apiKey = keyByName.get(api.toLowerCase())!;
    test(`${api}: kafkajs decodes the deny response of every version it speaks and reports ${EXPECTED[api]}`, async () => {
      const versions = readdirSync(join(requestsDir, api)).filter((d) => /^v\d+$/.test(d) && existsSync(join(requestsDir, api, d, 'response.js')));
      assert.ok(versions.length > 0);
      for (const vdir of versions) {
        const v = Number(vdir.slice(1));
        const frame = encodeRequest({ apiKey, apiVersion: v, correlationId: 99, clientId: 'kafkajs' }, populatedRequest(apiKey, v)).subarray(4);
        const h = decodeRequestHeader(frame);
        const body = decodeRequestBody(apiKey, v, frame, h.bodyOffset);
        const deny = denyResponse(h, body, DEFAULT_DENY_ERRORS);
        assert.equal(deny.readInt32BE(4), 99, 'correlation id');
        // kafkajs hands a response decoder the bytes after the size and the correlation id.
        const payload = deny.subarray(8);
        const mod = require(join(requestsDir, api, vdir, 'response.js')) as KafkajsResponse | ((req: unknown) => KafkajsResponse);
        // DeleteRecords' response module is a factory over the request's topics.
        const response = typeof mod === 'function'
          ? mod({ topics: (body['topics'] as KafkaMessage[]).map((t) => ({ topic: t['name'], partitions: (t['partitions'] as KafkaMessage[]).map((p) => ({ partition: p['partitionIndex'], offset: String(p['offset']) })) })) })
          : mod;
        assert.equal(await reportedError(response, payload), EXPECTED[api], `${api} v${v}`);
      }
    });
  }
});
