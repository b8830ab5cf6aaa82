import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FqdnCache } from './fqdn-cache.js';

const cache = (maxIpsPerName = 1000, minTtlSeconds = 0) => new FqdnCache({ minTtlSeconds, maxIpsPerName });

describe('FqdnCache', () => {
  test('an IP expires after its TTL and not before', () => {
    const c = cache();
    c.add(['api.example.com'], [{ ip: '192.0.2.1', ttlSeconds: 30 }], 1_000);
    assert.deepEqual(c.expire(30_999), []);
    assert.deepEqual([...c.namesOf('192.0.2.1')], ['api.example.com']);
    assert.deepEqual(c.expire(31_000), [{ name: 'api.example.com', ip: '192.0.2.1', expiresAtMs: 31_000, reason: 'expired' }]);
    assert.equal(c.namesOf('192.0.2.1').size, 0);
    assert.deepEqual([...c.names()], []);
  });

  test('a minimum TTL raises short TTLs and leaves longer ones alone', () => {
    const c = cache(1000, 60);
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 0 }, { ip: '192.0.2.2', ttlSeconds: 300 }], 0);
    assert.equal(c.ipsOf('a.test').get('192.0.2.1')?.expiresAtMs, 60_000);
    assert.equal(c.ipsOf('a.test').get('192.0.2.2')?.expiresAtMs, 300_000);
  });

  test('a TTL of zero with the default minimum expires at the next collection', () => {
    const c = cache();
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 0 }], 5_000);
    assert.equal(c.expire(5_000).length, 1);
  });

  test('a later answer with a shorter TTL does not shorten the expiry an earlier one granted', () => {
    const c = cache();
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 300 }], 0);
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 5 }], 1_000);
    assert.equal(c.ipsOf('a.test').get('192.0.2.1')?.expiresAtMs, 300_000);
  });

  test('the per-name cap evicts the least recently seen IP, and seeing an IP again makes it recent', () => {
    const c = cache(2);
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 60 }], 0);
    c.add(['a.test'], [{ ip: '192.0.2.2', ttlSeconds: 60 }], 1);
    c.add(['a.test'], [{ ip: '192.0.2.1', ttlSeconds: 60 }], 2); // .1 is now the most recent
    const dropped = c.add(['a.test'], [{ ip: '192.0.2.3', ttlSeconds: 60 }], 3);
    assert.deepEqual(dropped.map((d) => [d.ip, d.reason]), [['192.0.2.2', 'evicted']]);
    assert.deepEqual([...c.ipsOf('a.test').keys()].sort(), ['192.0.2.1', '192.0.2.3']);
    assert.equal(c.namesOf('192.0.2.2').size, 0);
  });

  test('the cap counts per name: other names keep an IP evicted from one of them', () => {
    const c = cache(1);
    c.add(['a.test', 'b.test'], [{ ip: '192.0.2.1', ttlSeconds: 60 }], 0);
    c.add(['a.test'], [{ ip: '192.0.2.2', ttlSeconds: 60 }], 1);
    assert.deepEqual([...c.namesOf('192.0.2.1')], ['b.test']);
  });

  test('every name of a CNAME chain gets the answer IPs, and each name expires on its own', () => {
    const c = cache();
    c.add(['www.example.com', 'edge.cdn.test'], [{ ip: '192.0.2.7', ttlSeconds: 10 }], 0);
    assert.deepEqual([...c.namesOf('192.0.2.7')].sort(), ['edge.cdn.test', 'www.example.com']);
    c.add(['edge.cdn.test'], [{ ip: '192.0.2.7', ttlSeconds: 100 }], 5_000);
    c.expire(10_000);
    assert.deepEqual([...c.namesOf('192.0.2.7')], ['edge.cdn.test']);
    assert.equal(c.expiryOf('192.0.2.7'), 105_000);
  });
});
