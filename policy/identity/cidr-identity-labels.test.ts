import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr, parseIp } from '../cidr/index.js';
import type { Prefix } from '../cidr/index.js';
import { makeRequirement, matchesSelector } from '../labels/index.js';
import { cidrIdentityLabels, fqdnIdentityLabels } from './cidr-identity-labels.js';
import { reservedIdentityByLabels } from './reserved-identities.js';

function cidr(text: string): Prefix {
  const r = parseCidr(text);
  assert.ok(r.ok);
  return r.prefix;
}

function ip(text: string): Prefix {
  const r = parseIp(text);
  assert.ok(r.ok);
  return r.prefix;
}

const policyPrefixes = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '192.168.0.0/16', '2001:db8::/32', '0.0.0.0/0'].map(cidr);

test('a CIDR identity has world labels and a cidr label for every policy prefix containing it', () => {
  assert.deepEqual(cidrIdentityLabels(cidr('10.1.0.0/16'), policyPrefixes).toStrings(), [
    'cidr:0.0.0.0/0',
    'cidr:10.0.0.0/8',
    'cidr:10.1.0.0/16',
    'reserved:world',
    'reserved:world-ipv4',
  ]);
});

test('an IP gets its own /32 label and those of the nested prefixes around it', () => {
  assert.deepEqual(cidrIdentityLabels(ip('10.1.2.3'), policyPrefixes).toStrings(), [
    'cidr:0.0.0.0/0',
    'cidr:10.0.0.0/8',
    'cidr:10.1.0.0/16',
    'cidr:10.1.2.0/24',
    'cidr:10.1.2.3/32',
    'reserved:world',
    'reserved:world-ipv4',
  ]);
});

test('IPv6 CIDR identities carry the IPv6 world labels and only IPv6 prefixes', () => {
  assert.deepEqual(cidrIdentityLabels(ip('2001:db8::1'), policyPrefixes).toStrings(), [
    'cidr:2001:db8::/32',
    'cidr:2001:db8::1/128',
    'cidr:::/0',
    'reserved:world',
    'reserved:world-ipv6',
  ]);
});

test('a CIDR rule with except is a selector over the nested cidr labels', () => {
  const tenButNotTenOne = {
    requirements: [makeRequirement('cidr', '10.0.0.0/8', 'Exists'), makeRequirement('cidr', '10.1.0.0/16', 'DoesNotExist')],
  };
  assert.equal(matchesSelector(tenButNotTenOne, cidrIdentityLabels(ip('10.2.0.1'), policyPrefixes)), true);
  assert.equal(matchesSelector(tenButNotTenOne, cidrIdentityLabels(ip('10.1.9.9'), policyPrefixes)), false);
  assert.equal(matchesSelector(tenButNotTenOne, cidrIdentityLabels(ip('192.168.1.1'), policyPrefixes)), false);
});

test('a zero-length prefix has exactly the labels of its family\'s world identity', () => {
  assert.equal(reservedIdentityByLabels(cidrIdentityLabels(cidr('0.0.0.0/0'), policyPrefixes))?.name, 'world-ipv4');
  assert.equal(reservedIdentityByLabels(cidrIdentityLabels(cidr('::/0'), []))?.name, 'world-ipv6');
});

test('an FQDN identity adds one fqdn label per selector to its CIDR labels', () => {
  const labels = fqdnIdentityLabels(['matchName:api.example.com', 'matchPattern:*.example.com'], ip('192.168.4.4'), policyPrefixes);
  assert.deepEqual(labels.toStrings(), [
    'cidr:0.0.0.0/0',
    'cidr:192.168.0.0/16',
    'cidr:192.168.4.4/32',
    'fqdn:matchName:api.example.com',
    'fqdn:matchPattern:*.example.com',
    'reserved:world',
    'reserved:world-ipv4',
  ]);
});
