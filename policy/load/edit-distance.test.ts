import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance } from './edit-distance.js';

test('the edit distance counts insertions, deletions and substitutions', () => {
  assert.equal(editDistance('fromEndpoints', 'fromEndpoints'), 0);
  assert.equal(editDistance('fromEndpoint', 'fromEndpoints'), 1);
  assert.equal(editDistance('valdate', 'validate'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('toPorts', 'TOPORTS'), 6, 'case counts');
});

test('a capped distance stops at the cap', () => {
  assert.equal(editDistance('a', 'abcdef', 3), 3, 'lengths alone differ by more than the cap');
  assert.equal(editDistance('abcdef', 'uvwxyz', 3), 3);
  assert.equal(editDistance('ingres', 'ingress', 3), 1, 'under the cap the distance is exact');
});
