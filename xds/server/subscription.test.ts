import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Subscription } from './subscription.js';

describe('Subscription (SotW)', () => {
  test('an empty first request is a wildcard; an empty request after names is an unsubscribe', () => {
    const s = new Subscription();
    s.setSotwNames([]);
    assert.equal(s.isWildcard, true);
    s.setSotwNames(['a']);
    assert.equal(s.isWildcard, false);
    s.setSotwNames([]);
    assert.equal(s.isWildcard, false);
    assert.equal(s.names.size, 0);
  });

  test('"*" and explicit names coexist', () => {
    const s = new Subscription();
    s.setSotwNames(['*', 'a']);
    assert.equal(s.isWildcard, true);
    assert.deepEqual([...s.names], ['a']);
  });

  test('names dropped from the subscription are forgotten, so re-adding them sends them again', () => {
    const s = new Subscription();
    s.setSotwNames(['a', 'b']);
    s.recordSotwSent([{ name: 'a', version: '1' }, { name: 'b', version: '1' }], [], false);
    s.setSotwNames(['a']);
    assert.deepEqual([...s.returned.keys()], ['a']);
  });
});

describe('Subscription (Delta)', () => {
  test('a first request subscribing nothing is a wildcard', () => {
    const s = new Subscription();
    s.applyDelta([], [], true, {});
    assert.equal(s.isWildcard, true);
  });

  test('subscribing a name the client holds forces an answer; initial_resource_versions on reconnect win over it', () => {
    const s = new Subscription();
    s.applyDelta(['a', 'b'], [], true, { a: 'v1' });
    assert.deepEqual([...s.mustAnswer], ['b']);
    assert.deepEqual(Object.fromEntries(s.returned), { a: 'v1' });
    s.recordDeltaSent([{ name: 'b', version: 'v2' }], []);
    s.applyDelta(['a'], [], false, {});
    assert.deepEqual([...s.mustAnswer], ['a']);
    assert.equal(s.returned.has('a'), false);
  });

  test('unsubscribing forgets the name; unsubscribing "*" ends the wildcard', () => {
    const s = new Subscription();
    s.applyDelta(['*', 'x'], [], true, {});
    s.recordDeltaSent([{ name: 'x', version: '1' }, { name: 'y', version: '1' }], []);
    s.applyDelta([], ['x'], false, {});
    assert.equal(s.names.has('x'), false);
    assert.equal(s.returned.has('x'), false);
    s.applyDelta([], ['*'], false, {});
    assert.equal(s.isWildcard, false);
    assert.equal(s.returned.size, 0);
  });
});
