import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpCacheIndex } from './ip-sets.js';
import { XdsTranslateError } from './errors.js';

const WORLD = { ipv4: 9, ipv6: 10 };
const prefix = (address: string, length: number) => ({ kind: 'prefix', prefix: { address, length } }) as const;

test('a CIDR identity carves out only the outermost longer prefixes of other identities', () => {
  const index = new IpCacheIndex(
    [
      { prefix: '10.0.0.0/8', identity: 100 },
      { prefix: '10.1.0.0/16', identity: 200 },
      { prefix: '10.1.2.0/24', identity: 300 },
      { prefix: '10.2.0.5/32', identity: 400 },
    ],
    WORLD,
  );
  assert.deepEqual(index.ipSetOf(new Set([100])), {
    kind: 'and',
    items: [prefix('10.0.0.0', 8), { kind: 'not', item: { kind: 'or', items: [prefix('10.1.0.0', 16), prefix('10.2.0.5', 32)] } }],
  });
  assert.deepEqual(index.ipSetOf(new Set([400])), prefix('10.2.0.5', 32));
  assert.deepEqual(index.ipSetOf(new Set([999])), { kind: 'none' });
});

test('addresses no prefix holds belong to the world identity of their family', () => {
  const index = new IpCacheIndex([{ prefix: 'fd00::/64', identity: 100 }], WORLD);
  assert.deepEqual(index.ipSetOf(new Set([10])), { kind: 'and', items: [prefix('::', 0), { kind: 'not', item: prefix('fd00::', 64) }] });
  assert.deepEqual(index.ipSetOf(new Set([9])), prefix('0.0.0.0', 0));
});

test('a bare address is a host prefix and host bits past the length are cleared', () => {
  const index = new IpCacheIndex(
    [
      { prefix: '10.0.0.7', identity: 100 },
      { prefix: '192.168.1.9/24', identity: 200 },
    ],
    WORLD,
  );
  assert.deepEqual(index.ipSetOf(new Set([100])), prefix('10.0.0.7', 32));
  assert.deepEqual(index.ipSetOf(new Set([200])), prefix('192.168.1.0', 24));
});

test('malformed ipcache prefixes are input errors naming the prefix', () => {
  for (const bad of ['10.0.0.300/32', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/08', 'example.com']) {
    assert.throws(
      () => new IpCacheIndex([{ prefix: bad, identity: 5 }], WORLD),
      (err: unknown) => err instanceof XdsTranslateError && err.code === 'MESHD_ERR_XDS_TRANSLATE_INPUT' && err.message.includes(`"${bad}"`),
      bad,
    );
  }
});
