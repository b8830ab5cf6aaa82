import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeyValues } from './pod-run.js';

describe('pod run labels and environment on the command line', () => {
  test('comma-separated and repeated --labels are merged; a value may be empty or contain "="', () => {
    assert.deepEqual(parseKeyValues(['org=empire,class=deathstar', 'tier='], 'label'), { org: 'empire', class: 'deathstar', tier: '' });
    assert.deepEqual(parseKeyValues(['A=x=y,z'], 'environment variable', /\n/), { A: 'x=y,z' });
  });

  test('an item without a key is a usage error', () => {
    assert.throws(() => parseKeyValues(['org'], 'label'), { code: 'MESHD_ERR_USAGE' });
    assert.throws(() => parseKeyValues(['=x'], 'label'), { code: 'MESHD_ERR_USAGE' });
  });
});
