import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { compileFqdnMatcher } from '../../policy/index.js';
import { envoyServerName, serverNameRegex } from './server-names.js';

const PATTERNS = ['*.cilium.io', '**.cilium.io', 'sub*.cilium.io', 'a*b.*.example.com', 'API.GitHub.com', 'one.one.one.one.', '*', '**', 'cilium.*'];
const NAMES = [
  'cilium.io',
  'docs.cilium.io',
  'a.b.cilium.io',
  'foo_bar.cilium.io',
  'sub.cilium.io',
  'subdomain.cilium.io',
  'x.sub.cilium.io',
  'ab.q.example.com',
  'a-x-b.q.example.com',
  'a.b.q.example.com',
  'api.github.com',
  'API.GITHUB.COM',
  'one.one.one.one',
  'x',
  'cilium.com',
  'cilium.io.evil.com',
];

test('an SNI pattern accepts exactly the names the policy layer\'s matchPattern accepts for the same pattern', () => {
  for (const pattern of PATTERNS) {
    const sni = RE2JS.compile(serverNameRegex(pattern));
    const fqdn = compileFqdnMatcher({ matchPattern: pattern });
    assert.equal(fqdn.error, undefined, pattern);
    for (const name of NAMES) assert.equal(sni.matches(name), fqdn.matches(name), `pattern ${pattern}, SNI ${name}`);
  }
});

test('the Envoy server_names entry of a pattern accepts every SNI the pattern does', () => {
  for (const pattern of PATTERNS) {
    const envoyName = envoyServerName(pattern);
    const sni = RE2JS.compile(serverNameRegex(pattern));
    const accepted = NAMES.filter((n) => sni.matches(n));
    assert.ok(accepted.length > 0, `no sample SNI for ${pattern}`);
    for (const name of accepted) {
      // undefined = the chain takes any SNI; `*.suffix` = one or more labels before the suffix.
      const lower = name.toLowerCase();
      const covered = envoyName === undefined || (envoyName.startsWith('*.') ? lower.endsWith(envoyName.slice(1)) && lower.length > envoyName.length - 1 : lower === envoyName);
      assert.ok(covered, `pattern ${pattern}: server_names entry ${String(envoyName)} misses ${name}`);
    }
  }
});
