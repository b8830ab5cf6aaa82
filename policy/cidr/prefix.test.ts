import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipInPrefix, parseCidr, parseIp, prefixContains } from './prefix.js';
import type { Prefix } from './prefix.js';

function cidr(text: string): Prefix {
  const r = parseCidr(text);
  assert.ok(r.ok, `${text} should parse`);
  return r.prefix;
}

function ip(text: string): Prefix {
  const r = parseIp(text);
  assert.ok(r.ok, `${text} should parse`);
  return r.prefix;
}

test('IPv4 CIDRs parse to their canonical form', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), {
    ok: true,
    prefix: { family: 4, bits: 0x0a000000n, length: 8, canonical: '10.0.0.0/8' },
    hostBitsSet: false,
  });
  assert.equal(cidr('0.0.0.0/0').canonical, '0.0.0.0/0');
  assert.equal(cidr('192.168.1.1/32').canonical, '192.168.1.1/32');
});

test('host bits are cleared and reported', () => {
  const r = parseCidr('10.1.2.3/8');
  assert.ok(r.ok);
  assert.equal(r.prefix.canonical, '10.0.0.0/8');
  assert.equal(r.hostBitsSet, true);
  const v6 = parseCidr('2001:db8::1/32');
  assert.ok(v6.ok);
  assert.equal(v6.prefix.canonical, '2001:db8::/32');
  assert.equal(v6.hostBitsSet, true);
});

test('IPv6 CIDRs are canonicalised per RFC 5952', () => {
  assert.equal(cidr('2001:0DB8:0000:0000:0000:0000:0000:0000/32').canonical, '2001:db8::/32');
  assert.equal(cidr('::/0').canonical, '::/0');
  assert.equal(cidr('0:0:0:0:0:0:0:1/128').canonical, '::1/128');
  // A single zero group is not compressed; the longest run wins, the first on a tie.
  assert.equal(cidr('2001:db8:0:1:1:1:1:1/128').canonical, '2001:db8:0:1:1:1:1:1/128');
  assert.equal(cidr('2001:0:0:1:0:0:0:1/128').canonical, '2001:0:0:1::1/128');
  assert.equal(cidr('2001:db8:0:0:1:0:0:1/128').canonical, '2001:db8::1:0:0:1/128');
  assert.equal(cidr('fe80::/10').canonical, 'fe80::/10');
  assert.equal(cidr('1:2:3:4:5:6:7:8/128').canonical, '1:2:3:4:5:6:7:8/128');
  assert.equal(cidr('1:2:3:4:5:6:1.2.3.4/128').canonical, '1:2:3:4:5:6:102:304/128');
});

test('IPv4-mapped IPv6 prefixes stay IPv6 and print with a dotted tail', () => {
  const p = cidr('::FFFF:10.0.0.0/104');
  assert.equal(p.family, 6);
  assert.equal(p.canonical, '::ffff:10.0.0.0/104');
  assert.equal(cidr('0:0:0:0:0:ffff:0a00:0001/128').canonical, '::ffff:10.0.0.1/128');
});

test('invalid CIDRs are rejected with a reason', () => {
  for (const text of [
    '10.0.0.0/33',
    '1.2.3',
    '1.2.3/8',
    '::1/129',
    '10.0.0.0/8/1',
    '010.0.0.1/32',
    '10.0.0.0/08',
    '10.0.0.0/',
    '10.0.0.0/+8',
    '10.0.0.0/ 8',
    ' 10.0.0.0/8',
    '10.0.0.0',
    'fe80::1%eth0/64',
    '1::2::3/64',
    '[::1]/128',
    '',
  ]) {
    const r = parseCidr(text);
    assert.equal(r.ok, false, `${JSON.stringify(text)} should be rejected`);
    if (!r.ok) assert.match(r.error, /\S/);
  }
});

test('parseIp gives a full-length prefix and rejects CIDRs and leading zeros', () => {
  assert.equal(ip('10.1.2.3').canonical, '10.1.2.3/32');
  assert.equal(ip('2001:DB8::1').canonical, '2001:db8::1/128');
  for (const text of ['10.0.0.0/8', '010.0.0.1', '1.2.3', '::ffff:010.0.0.1', 'fe80::1%eth0', 'host']) {
    assert.equal(parseIp(text).ok, false, `${text} should be rejected`);
  }
});

test('parseIp turns an IPv4-mapped address into the IPv4 address a dual-stack socket stands for', () => {
  assert.deepEqual(ip('::ffff:10.1.2.3'), ip('10.1.2.3'));
  assert.equal(ipInPrefix(ip('::ffff:10.1.2.3'), cidr('10.0.0.0/8')), true);
});

test('prefixContains holds for nested prefixes of one family only', () => {
  assert.equal(prefixContains(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')), true);
  assert.equal(prefixContains(cidr('10.0.0.0/8'), cidr('10.0.0.0/8')), true);
  assert.equal(prefixContains(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')), false);
  assert.equal(prefixContains(cidr('10.0.0.0/8'), cidr('11.0.0.0/16')), false);
  assert.equal(prefixContains(cidr('0.0.0.0/0'), cidr('255.255.255.255/32')), true);
  assert.equal(prefixContains(cidr('::/0'), cidr('2001:db8::/32')), true);
  assert.equal(prefixContains(cidr('0.0.0.0/0'), cidr('::/128')), false);
  assert.equal(prefixContains(cidr('::/0'), cidr('10.0.0.0/8')), false);
  assert.equal(prefixContains(cidr('2001:db8::/32'), cidr('2001:db9::/48')), false);
});

test('ipInPrefix checks one address against a prefix', () => {
  assert.equal(ipInPrefix(ip('192.168.1.77'), cidr('192.168.1.0/24')), true);
  assert.equal(ipInPrefix(ip('192.168.2.1'), cidr('192.168.1.0/24')), false);
  assert.equal(ipInPrefix(ip('2001:db8::beef'), cidr('2001:db8::/64')), true);
  assert.equal(ipInPrefix(ip('2001:db8:0:1::1'), cidr('2001:db8::/64')), false);
});
