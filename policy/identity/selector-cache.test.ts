import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector } from '../model.js';
import { endpointLabels, LabelSet, makeRequirement, matchesSelector, selectorFromMatchLabels } from '../labels/index.js';
import { entitySelectors } from './entity-selectors.js';
import { RESERVED_IDENTITIES } from './reserved-identities.js';
import { SelectorCache } from './selector-cache.js';

const pod = (app: string, namespace = 'prod'): LabelSet => endpointLabels({ namespace, labels: { app } });

function recordChanges(cache: SelectorCache): Array<[string, number[], number[]]> {
  const calls: Array<[string, number[], number[]]> = [];
  cache.onChange((key, added, removed) => calls.push([key, [...added].sort(), [...removed].sort()]));
  return calls;
}

function sortByKey<T extends [string, ...unknown[]]>(calls: T[]): T[] {
  return [...calls].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('a registered selector selects the identities already present', () => {
  const cache = new SelectorCache();
  cache.addIdentity(256, pod('web'));
  cache.addIdentity(257, pod('api'));
  cache.addIdentity(258, pod('web', 'dev'));
  const web = cache.register(selectorFromMatchLabels({ app: 'web' }));
  assert.deepEqual([...web.selections()].sort(), [256, 258]);
  assert.equal(web.matches(257), false);
});

test('identities added later update the selections and notify listeners with the change', () => {
  const cache = new SelectorCache();
  const web = cache.register(selectorFromMatchLabels({ app: 'web' }));
  const all = cache.register({ requirements: [] });
  const calls = recordChanges(cache);
  cache.addIdentity(256, pod('web'));
  assert.deepEqual(sortByKey(calls), sortByKey([
    [web.key, [256], []],
    [all.key, [256], []],
  ]));
  assert.deepEqual([...web.selections()], [256]);
  calls.length = 0;
  cache.removeIdentity(256);
  assert.deepEqual(sortByKey(calls), sortByKey([
    [web.key, [], [256]],
    [all.key, [], [256]],
  ]));
  assert.equal(web.selections().size, 0);
});

test('listeners hear only about selectors whose selections changed', () => {
  const cache = new SelectorCache();
  const web = cache.register(selectorFromMatchLabels({ app: 'web' }));
  cache.register(selectorFromMatchLabels({ app: 'db' }));
  const calls = recordChanges(cache);
  cache.addIdentity(256, pod('web'));
  cache.removeIdentity(999);
  cache.addIdentity(256, pod('web'));
  assert.deepEqual(calls, [[web.key, [256], []]]);
});

test('a batch update reports one net change per selector', () => {
  const cache = new SelectorCache();
  cache.addIdentity(256, pod('web'));
  cache.addIdentity(257, pod('web'));
  const web = cache.register(selectorFromMatchLabels({ app: 'web' }));
  const api = cache.register(selectorFromMatchLabels({ app: 'api' }));
  const calls = recordChanges(cache);
  cache.update(
    [
      [258, pod('web')],
      [257, pod('api')],
      [256, pod('web')],
    ],
    [256],
  );
  const byKey = new Map(calls.map(([key, added, removed]) => [key, { added, removed }]));
  assert.equal(calls.length, 2);
  assert.deepEqual(byKey.get(web.key), { added: [258], removed: [257] });
  assert.deepEqual(byKey.get(api.key), { added: [257], removed: [] });
});

test('re-adding an id with other labels moves it between selectors', () => {
  const cache = new SelectorCache();
  const web = cache.register(selectorFromMatchLabels({ app: 'web' }));
  const api = cache.register(selectorFromMatchLabels({ app: 'api' }));
  cache.addIdentity(256, pod('web'));
  cache.addIdentity(256, pod('api'));
  assert.equal(web.matches(256), false);
  assert.equal(api.matches(256), true);
  assert.equal(cache.labelsOf(256)?.get('k8s', 'app')?.value, 'api');
});

test('selectors with only negative requirements still see every identity', () => {
  const cache = new SelectorCache();
  const notWeb: LabelSelector = { requirements: [makeRequirement('any', 'app', 'NotIn', ['web'])] };
  const noApp: LabelSelector = { requirements: [makeRequirement('k8s', 'app', 'DoesNotExist')] };
  cache.addIdentity(256, pod('web'));
  const a = cache.register(notWeb);
  const b = cache.register(noApp);
  cache.addIdentity(257, pod('api'));
  cache.addIdentity(1, LabelSet.parse(['reserved:host']));
  assert.deepEqual([...a.selections()].sort(), [1, 257]);
  assert.deepEqual([...b.selections()], [1]);
});

test('the anchor ignores the label source but the match does not', () => {
  const cache = new SelectorCache();
  const k8sWeb: LabelSelector = { requirements: [makeRequirement('k8s', 'app', 'In', ['web'])] };
  const s = cache.register(k8sWeb);
  cache.addIdentity(300, LabelSet.parse(['container:app=web']));
  cache.addIdentity(301, LabelSet.parse(['k8s:app=web']));
  assert.deepEqual([...s.selections()], [301]);
});

test('equal selectors share one entry until their last user unregisters', () => {
  const cache = new SelectorCache();
  cache.addIdentity(256, pod('web'));
  const a = cache.register(selectorFromMatchLabels({ app: 'web', 'k8s:io.kubernetes.pod.namespace': 'prod' }));
  const b = cache.register(selectorFromMatchLabels({ 'k8s:io.kubernetes.pod.namespace': 'prod', app: 'web' }));
  assert.equal(a, b);
  const calls = recordChanges(cache);
  cache.unregister(a);
  cache.addIdentity(257, pod('web'));
  assert.equal(calls.length, 1);
  cache.unregister(selectorFromMatchLabels({ app: 'web', 'k8s:io.kubernetes.pod.namespace': 'prod' }));
  assert.equal(cache.get(a.selector), undefined);
  cache.addIdentity(258, pod('web'));
  assert.equal(calls.length, 1, 'an unregistered selector is no longer maintained');
});

test('onChange returns a function that removes the listener', () => {
  const cache = new SelectorCache();
  cache.register({ requirements: [] });
  let count = 0;
  const off = cache.onChange(() => count++);
  cache.addIdentity(256, pod('web'));
  off();
  cache.addIdentity(257, pod('api'));
  assert.equal(count, 1);
});

test('entity selectors over reserved identities select what the entity names', () => {
  const cache = new SelectorCache();
  cache.update(RESERVED_IDENTITIES.map((r) => [r.id, r.labels] as const));
  cache.addIdentity(256, pod('web'));
  const ids = (entity: 'world' | 'cluster'): number[] =>
    [...new Set(entitySelectors(entity).flatMap((s) => [...cache.register(s).selections()]))].sort((x, y) => x - y);
  assert.deepEqual(ids('world'), [2, 9, 10]);
  assert.deepEqual(ids('cluster'), [1, 3, 4, 5, 6, 7, 8, 256]);
});

test('1,000 selectors over 2,000 identities agree with a brute-force match, whichever comes first', (t) => {
  const tiers = ['front', 'back', 'db'];
  const identities = Array.from({ length: 2000 }, (_, i) => {
    const labels = endpointLabels({
      namespace: `ns${i % 20}`,
      labels: { app: `app${i % 100}`, tier: tiers[i % 3] ?? 'front', version: `v${i % 7}` },
      serviceAccount: `sa${i % 50}`,
    });
    return [1000 + i, labels] as const;
  });
  // A policy-like mix: mostly namespace-scoped app selectors, some expressions, a few broad ones.
  const selectors: LabelSelector[] = Array.from({ length: 1000 }, (_, i) => {
    const namespace = { 'k8s:io.kubernetes.pod.namespace': `ns${i % 20}` };
    const kind = i % 20;
    if (kind < 8) return selectorFromMatchLabels({ app: `app${i % 100}`, [`k${i % 3}`]: 'x', ...namespace });
    if (kind < 12) return selectorFromMatchLabels({ tier: tiers[i % 3] ?? 'front', version: `v${i % 7}`, ...namespace });
    if (kind < 16) {
      return {
        requirements: [
          makeRequirement('any', 'app', 'In', [`app${i % 100}`, `app${(i + 1) % 100}`]),
          makeRequirement('any', 'version', 'NotIn', [`v${i % 7}`]),
        ],
      };
    }
    if (kind < 19) return selectorFromMatchLabels({ ...namespace, 'k8s:io.cilium.k8s.policy.serviceaccount': `sa${i % 50}` });
    return { requirements: [makeRequirement('k8s', 'io.kubernetes.pod.namespace', 'Exists'), makeRequirement('any', 'tier', 'NotIn', [`x${i}`])] };
  });

  for (const isIdentitiesFirst of [true, false]) {
    const cache = new SelectorCache();
    let notified = 0;
    cache.onChange((_key, added) => (notified += added.length));
    const start = performance.now();
    if (isIdentitiesFirst) cache.update(identities);
    const cached = selectors.map((s) => cache.register(s));
    if (!isIdentitiesFirst) cache.update(identities);
    const elapsedMs = performance.now() - start;
    t.diagnostic(`built in ${elapsedMs.toFixed(1)} ms (identities first: ${isIdentitiesFirst})`);

    const total = [...new Set(cached)].reduce((n, c) => n + c.selections().size, 0);
    assert.equal(notified, isIdentitiesFirst ? 0 : total, 'registering is silent; later identities are announced');
    for (const [index, selector] of selectors.entries()) {
      if (index % 7 !== 0) continue;
      const expected = identities.filter(([, labels]) => matchesSelector(selector, labels)).map(([id]) => id);
      assert.deepEqual([...(cached[index]?.selections() ?? [])].sort((x, y) => x - y), expected);
    }
  }
});
