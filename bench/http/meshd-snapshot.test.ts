// The bench's meshd snapshot is a valid `meshd xds serve` file (every resource passes the proto3 JSON
// mapping with field paths), and its rules contender is the worst case it claims to be: the
// benchmarked path is allowed by the last policy in name order and by no other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSnapshotText } from '../../xds/index.js';
import { PORT_NAMES, type Ports } from './configs.js';
import { DENIED_PATH, benchPath, meshdSnapshot } from './meshd-snapshot.js';

const PORTS = Object.fromEntries(PORT_NAMES.map((n, i) => [n, 20_000 + i])) as unknown as Ports;

interface RulePolicy {
  permissions: Array<{ and_rules: { rules: Array<{ header: { name: string; string_match: { safe_regex: { regex: string } } } }> } }>;
}

test('the bench snapshot loads as a meshd xds serve file: six listeners, their routes, two clusters, the certificate secret', () => {
  const { contents, problems } = parseSnapshotText('bench.json', meshdSnapshot(PORTS, 100, { chain: 'CHAIN', key: 'KEY' }));
  assert.deepEqual(problems, []);
  assert.deepEqual(contents.listeners.map((l) => l.name), ['allow-h1', 'allow-h2', 'allow-tls', 'rules-h1', 'rules-h2', 'rules-tls']);
  assert.equal(contents.routes.length, 6);
  assert.deepEqual(contents.clusters.map((c) => c.name), ['upstream-h1', 'upstream-h2']);
  assert.deepEqual(contents.secrets.map((s) => s.name), ['bench-cert']);
});

test('the benchmarked path matches only the last of the RULES policies, and the denied path matches none', () => {
  const rules = 100;
  const json = JSON.parse(meshdSnapshot(PORTS, rules, { chain: '', key: '' })) as { listeners: Array<{ name: string; filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: Array<{ typed_config: { rules?: { policies: Record<string, RulePolicy> } } }> } }> }> }> };
  const listener = json.listeners.find((l) => l.name === 'rules-h1')!;
  const policies = listener.filter_chains[0]!.filters[0]!.typed_config.http_filters[0]!.typed_config.rules!.policies;
  const names = Object.keys(policies).sort();
  assert.equal(names.length, rules);
  const pathRegex = (name: string) => new RegExp(`^(?:${policies[name]!.permissions[0]!.and_rules.rules[1]!.header.string_match.safe_regex.regex})$`);
  const matching = names.filter((n) => pathRegex(n).test(benchPath(rules)));
  assert.deepEqual(matching, [names.at(-1)]);
  assert.deepEqual(names.filter((n) => pathRegex(n).test(DENIED_PATH)), []);
});
