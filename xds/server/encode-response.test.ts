import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary } from '@bufbuild/protobuf';
import { DeltaDiscoveryResponseSchema, DiscoveryResponseSchema } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { encodeDeltaResponse, encodeSotwResponse, splitParts, sotwResourcePart } from './encode-response.js';
import { makeResource } from '../cache/index.js';
import { TYPE_URL } from '../codec/index.js';

const a = makeResource(TYPE_URL.cluster, 'a', new Uint8Array([10, 1, 97]));
const b = makeResource(TYPE_URL.cluster, 'b', new Uint8Array([10, 1, 98]));

describe('encode-response', () => {
  test('a SotW response assembled from pre-encoded parts decodes as the DiscoveryResponse it stands for', () => {
    const r = fromBinary(DiscoveryResponseSchema, encodeSotwResponse('v1', TYPE_URL.cluster, [a, b], '7'));
    assert.equal(r.versionInfo, 'v1');
    assert.equal(r.typeUrl, TYPE_URL.cluster);
    assert.equal(r.nonce, '7');
    assert.deepEqual(r.resources.map((x) => [x.typeUrl, [...x.value]]), [[TYPE_URL.cluster, [10, 1, 97]], [TYPE_URL.cluster, [10, 1, 98]]]);
  });

  test('a Delta response carries names, versions, the Any and removed names', () => {
    const r = fromBinary(DeltaDiscoveryResponseSchema, encodeDeltaResponse('s1', TYPE_URL.cluster, [a], ['gone'], '3'));
    assert.deepEqual(r.resources.map((x) => [x.name, x.version, x.resource?.typeUrl]), [['a', a.version, TYPE_URL.cluster]]);
    assert.deepEqual(r.removedResources, ['gone']);
    assert.equal(r.systemVersionInfo, 's1');
    assert.equal(r.nonce, '3');
  });

  test('each resource is wrapped once and the same bytes are reused', () => {
    assert.equal(sotwResourcePart(a), sotwResourcePart(a));
  });

  test('splitting keeps every chunk under the limit and reports what cannot fit on its own', () => {
    const sizes = [3000, 3000, 3000, 9000];
    const { chunks, tooLarge } = splitParts(sizes, (n) => n, 4096 + 6500);
    assert.deepEqual(chunks, [[3000, 3000], [3000]]);
    assert.deepEqual(tooLarge, [9000]);
  });
});
