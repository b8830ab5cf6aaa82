// Golden frames through meshd's Kafka codec: request frames written by independent encoders (kcat/
// librdkafka and kafkajs captured on the wire, kafkajs's own request encoders, vectors written by
// hand from the protocol guide; test/fixtures/kafka-golden/) must split, decode (header and body)
// to the values stored beside them, and encode back to the very same bytes. The API-semantics side
// (request facts, deny responses) is golden-facts.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_FRAME_BYTES, KafkaFrameSplitter, decodeRequestBody, decodeRequestHeader, encodeRequest, kafkaApiInfo } from '../../proxylib/index.js';
import { loadGoldenFrames, partitionsByTopic, valueAtPath, type LoadedGoldenFrame } from '../fixtures/kafka-golden/golden-frames.js';

const frames = loadGoldenFrames();

/** The APIs the issue names as carrying topics or groups (and their transaction/config relatives). */
const TOPIC_OR_GROUP_APIS: Record<number, string> = {
  0: 'Produce',
  1: 'Fetch',
  2: 'ListOffsets',
  3: 'Metadata',
  8: 'OffsetCommit',
  9: 'OffsetFetch',
  10: 'FindCoordinator',
  11: 'JoinGroup',
  12: 'Heartbeat',
  13: 'LeaveGroup',
  14: 'SyncGroup',
  19: 'CreateTopics',
  20: 'DeleteTopics',
  21: 'DeleteRecords',
  23: 'OffsetForLeaderEpoch',
  24: 'AddPartitionsToTxn',
  28: 'TxnOffsetCommit',
  32: 'DescribeConfigs',
  33: 'AlterConfigs',
  44: 'IncrementalAlterConfigs',
  61: 'DescribeProducers',
};

function isFlexible(apiKey: number, version: number): boolean {
  const from = kafkaApiInfo(apiKey)?.requestFlexibleFrom;
  return from !== undefined && version >= from;
}

test('the golden set covers each topic- or group-bearing API in a classic and a flexible version', () => {
  const missing: string[] = [];
  for (const [key, name] of Object.entries(TOPIC_OR_GROUP_APIS)) {
    const apiKey = Number(key);
    const info = kafkaApiInfo(apiKey);
    assert.ok(info, `the codec knows ${name} (${apiKey})`);
    const versions = new Set(frames.filter((f) => f.apiKey === apiKey).map((f) => f.apiVersion));
    const hasFlexibleVersions = info.requestFlexibleFrom !== undefined;
    const hasClassicVersions = info.requestFlexibleFrom === undefined || info.requestFlexibleFrom > info.minVersion;
    const possible = info.maxVersion - info.minVersion + 1;
    if (versions.size < Math.min(2, possible)) missing.push(`${name}: ${versions.size} version(s) [${[...versions].join(', ')}]`);
    if (hasFlexibleVersions && ![...versions].some((v) => isFlexible(apiKey, v))) missing.push(`${name}: no flexible version (v${info.requestFlexibleFrom}+)`);
    if (hasClassicVersions && ![...versions].some((v) => !isFlexible(apiKey, v))) missing.push(`${name}: no classic version`);
  }
  assert.deepEqual(missing, [], `gaps in the golden set:\n${missing.join('\n')}`);
  const bySource = (s: string): number => frames.filter((f) => f.source === s).length;
  console.log(`golden frames: ${frames.length} (wire ${bySource('wire')}, kafkajs encoders ${bySource('kafkajs-encoder')}, hand ${bySource('hand')})`);
});

function frameOf(g: LoadedGoldenFrame): Buffer {
  return g.bytes.subarray(4);
}

describe('every golden frame decodes to its stored values and encodes back to the same bytes', () => {
  for (const g of frames) {
    test(`${g.name} (${g.origin})`, () => {
      const splitter = new KafkaFrameSplitter(DEFAULT_MAX_FRAME_BYTES);
      const split = splitter.push(Buffer.from(g.bytes));
      assert.equal(split.length, 1, 'the splitter returns exactly one frame');
      assert.deepEqual(split[0], frameOf(g), 'the splitter returns the frame without its size');
      assert.equal(splitter.buffered, 0);

      const header = decodeRequestHeader(frameOf(g));
      assert.equal(header.known, true, 'the api key and version are known');
      assert.equal(header.apiKey, g.apiKey);
      assert.equal(header.apiVersion, g.apiVersion);
      assert.equal(header.correlationId, g.expect.correlationId);
      assert.equal(header.clientId, g.expect.clientId);
      assert.equal(header.headerVersion, g.expect.headerVersion);

      const body = decodeRequestBody(header.apiKey, header.apiVersion, frameOf(g), header.bodyOffset);
      for (const [path, expected] of Object.entries(g.expect.fields)) {
        assert.deepEqual(valueAtPath(body, path), expected, `field ${path}`);
      }
      assert.deepEqual(partitionsByTopic(body), g.expect.partitions, 'partitions per topic');

      const again = encodeRequest({ apiKey: header.apiKey, apiVersion: header.apiVersion, correlationId: header.correlationId, clientId: header.clientId }, body);
      assert.equal(again.toString('hex'), g.bytes.toString('hex'), 're-encoding gives the identical frame');
    });
  }
});

test('all golden frames in one stream split back into the same frames, whatever the chunk boundaries', () => {
  const stream = Buffer.concat(frames.map((g) => g.bytes));
  for (const chunkSize of [1, 2, 3, 4, 5, 7, 64, 1000, stream.length]) {
    const splitter = new KafkaFrameSplitter(DEFAULT_MAX_FRAME_BYTES);
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; at += chunkSize) out.push(...splitter.push(Buffer.from(stream.subarray(at, at + chunkSize))));
    assert.equal(out.length, frames.length, `chunks of ${chunkSize}`);
    out.forEach((f, i) => assert.ok(f.equals(frameOf(frames[i]!)), `frame ${i} (${frames[i]!.name}) with chunks of ${chunkSize}`));
    assert.equal(splitter.buffered, 0);
  }
});
