import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KAFKA_APIS, KAFKA_SCHEMA_SOURCE } from './index.js';

// dist/proxylib/kafka/protocol/ → the repository root.
const root = new URL('../../../../', import.meta.url).pathname;

describe('kafka schema extract and generated code', () => {
  test('the committed generated/messages.ts is what generate.mjs produces from messages.json today', () => {
    const r = spawnSync(process.execPath, [`${root}scripts/kafka-schemas/generate.mjs`, '--stdout'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const committed = readFileSync(`${root}proxylib/kafka/protocol/generated/messages.ts`, 'utf8');
    assert.ok(r.stdout === committed, 'generated/messages.ts is stale: run `make gen-kafka` (node scripts/kafka-schemas/generate.mjs)');
  });

  test('messages.json names its source and holds only protocol facts', () => {
    const doc = JSON.parse(readFileSync(`${root}proxylib/kafka/protocol/messages.json`, 'utf8')) as {
      source: typeof KAFKA_SCHEMA_SOURCE;
      messages: Array<{ type: string; name: string }>;
    };
    assert.deepEqual(doc.source, { ...KAFKA_SCHEMA_SOURCE });
    assert.equal(doc.source.commit, '1eb7644349cb07139d6a3c1ad1986979647cac99');
    const text = JSON.stringify(doc);
    assert.ok(!text.includes('"about"'), 'no about texts');
    assert.ok(!/licensed|apache license/i.test(text), 'no license text');
    assert.equal(doc.messages.filter((m) => m.type === 'request').length, 88);
    assert.equal(doc.messages.filter((m) => m.type === 'response').length, 88);
    for (const name of ['RequestHeader', 'ResponseHeader', 'ConsumerProtocolSubscription', 'ConsumerProtocolAssignment']) {
      assert.ok(doc.messages.some((m) => m.name === name), name);
    }
  });

  test('every API key from 0 to 87 is known with its version range and flexible versions', () => {
    assert.deepEqual([...KAFKA_APIS.keys()], Array.from({ length: 88 }, (_, i) => i));
    assert.deepEqual(KAFKA_APIS.get(0), {
      apiKey: 0, name: 'Produce', minVersion: 0, maxVersion: 11, maxStableVersion: 11, requestFlexibleFrom: 9, responseFlexibleFrom: 9,
    });
    assert.equal(KAFKA_APIS.get(18)?.name, 'ApiVersions');
    assert.equal(KAFKA_APIS.get(18)?.requestFlexibleFrom, 3);
    assert.equal(KAFKA_APIS.get(7)?.requestFlexibleFrom, 3);
    const unstable = [...KAFKA_APIS.values()].filter((a) => a.maxStableVersion < a.maxVersion);
    for (const a of unstable) assert.equal(a.maxStableVersion, a.maxVersion - 1);
  });
});
