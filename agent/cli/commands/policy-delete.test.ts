import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { policyRefQuery } from './policy-delete.js';

const args = (positionals: string[], options: Record<string, string> = {}) => ({ options, positionals });

describe('policy references on the command line', () => {
  test('KIND/NAMESPACE/NAME, NAMESPACE/NAME, KIND/NAME and NAME are understood', () => {
    assert.deepEqual(policyRefQuery(args(['CiliumNetworkPolicy/empire/rule1'])), { kind: 'CiliumNetworkPolicy', namespace: 'empire', name: 'rule1' });
    assert.deepEqual(policyRefQuery(args(['empire/rule1'])), { namespace: 'empire', name: 'rule1' });
    assert.deepEqual(policyRefQuery(args(['CiliumClusterwideNetworkPolicy/all'])), { kind: 'CiliumClusterwideNetworkPolicy', name: 'all' });
    assert.deepEqual(policyRefQuery(args(['rule1'], { namespace: 'empire' })), { namespace: 'empire', name: 'rule1' });
    assert.deepEqual(policyRefQuery(args([], { name: 'rule1', kind: 'NetworkPolicy' })), { kind: 'NetworkPolicy', name: 'rule1' });
  });

  test('a missing name, an unknown kind or a reference that contradicts an option is a usage error', () => {
    assert.throws(() => policyRefQuery(args([])), { code: 'MESHD_ERR_USAGE' });
    assert.throws(() => policyRefQuery(args([], { name: 'x', kind: 'Policy' })), { code: 'MESHD_ERR_USAGE' });
    assert.throws(() => policyRefQuery(args(['a/b'], { namespace: 'c' })), { code: 'MESHD_ERR_USAGE' });
    assert.throws(() => policyRefQuery(args(['a/b/c/d'])), { code: 'MESHD_ERR_USAGE' });
  });
});
