// The proxy's DNS wire helpers: names read with miekg-style escaping (a dotted label never reads as
// another name), bounded compression, replies that echo the question byte for byte, and answers
// reduced to the CNAME chain of the query name with its addresses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { buildReply, DnsWireError, parseAnswer, parseQuery, readName, withId } from './wire.js';

function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}

function labels(...parts: string[]): Buffer {
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p, 'latin1')]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

const A_IN = Buffer.from('00010001', 'hex');

describe('DNS names on the wire', () => {
  test('a label holding a dot reads escaped, not as two labels', () => {
    const msg = Buffer.concat([header(1, 0x0100, 1, 0), labels('api.stripe', 'com'), A_IN]);
    const parsed = parseQuery(msg);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.query.name, 'api\\.stripe.com');
  });

  test('bytes outside printable ASCII read as \\DDD; case is kept', () => {
    const { name } = readName(labels('A b', 'Test'), 0);
    assert.equal(name, 'A\\032b.Test');
  });

  test('compression pointers must point backwards, so loops end', () => {
    const loop = Buffer.from([0xc0, 0x00]);
    assert.throws(() => readName(loop, 0), DnsWireError);
    const forward = Buffer.concat([Buffer.from([0xc0, 0x04, 0, 0]), labels('a')]);
    assert.throws(() => readName(forward, 0), DnsWireError);
  });

  test('names longer than 255 octets are refused', () => {
    const long = labels(...Array.from({ length: 5 }, () => 'x'.repeat(60)));
    assert.throws(() => readName(long, 0), /255/);
  });
});

describe('queries and replies', () => {
  test('a query reads its Question[0], type name and EDNS0', () => {
    const q = dnsPacket.encode({ type: 'query', id: 4321, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'AAAA', name: 'Www.Example.Test' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] });
    const parsed = parseQuery(q);
    assert.ok(parsed.ok);
    assert.equal(parsed.query.name, 'Www.Example.Test');
    assert.equal(parsed.query.qtypeName, 'AAAA');
    assert.equal(parsed.query.edns, true);
    assert.equal(parsed.query.header.id, 4321);
  });

  test('a short message and a response are not queries; a cut question is FORMERR material', () => {
    const short = parseQuery(Buffer.from('0102', 'hex'));
    assert.equal(short.ok, false);
    assert.equal(!short.ok && short.header, undefined);
    const response = parseQuery(header(1, 0x8000, 1, 0));
    assert.equal(!response.ok && response.header, undefined);
    const cut = parseQuery(Buffer.concat([header(9, 0x0100, 1, 0), Buffer.from([3, 0x61])]));
    assert.equal(cut.ok, false);
    assert.equal(!cut.ok && cut.header?.id, 9);
  });

  test('a reply echoes id, opcode, RD, CD and the question bytes, with RA and the RCODE', () => {
    const q = Buffer.concat([header(0xabcd, 0x0110, 1, 0), labels('MiXeD', 'test'), A_IN]);
    const parsed = parseQuery(q);
    assert.ok(parsed.ok);
    const r = buildReply(q, parsed.query.header, 'REFUSED', parsed.query.questionEnd, false);
    const d = dnsPacket.decode(r) as dnsPacket.DecodedPacket & { rcode: string };
    assert.equal(d.id, 0xabcd);
    assert.equal(d.rcode, 'REFUSED');
    assert.equal(d.flag_qr && d.flag_rd && d.flag_ra && d.flag_cd, true);
    assert.deepEqual(d.questions, [{ name: 'MiXeD.test', type: 'A', class: 'IN' }]);
    assert.equal(d.additionals?.length, 0);
    const withOpt = dnsPacket.decode(buildReply(q, parsed.query.header, 'SERVFAIL', parsed.query.questionEnd, true));
    assert.equal((withOpt.additionals?.[0] as { udpPayloadSize?: number }).udpPayloadSize, 1232);
  });

  test('withId changes only the id', () => {
    const q = Buffer.concat([header(1, 0x0100, 1, 0), labels('a', 'test'), A_IN]);
    const moved = withId(q, 0xfeed);
    assert.equal(moved.readUInt16BE(0), 0xfeed);
    assert.deepEqual(moved.subarray(2), q.subarray(2));
    assert.equal(q.readUInt16BE(0), 1, 'the original is untouched');
  });
});

describe('answers', () => {
  const answer = (answers: dnsPacket.Answer[], name = 'www.example.test') =>
    dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name }], answers });

  test('the CNAME chain from the query name, and only its addresses', () => {
    const facts = parseAnswer(
      answer([
        { type: 'CNAME', name: 'WWW.example.test', ttl: 60, data: 'edge.cdn.test' },
        { type: 'CNAME', name: 'edge.cdn.test', ttl: 30, data: 'host.cdn.test' },
        { type: 'A', name: 'host.cdn.test', ttl: 20, data: '192.0.2.1' },
        { type: 'AAAA', name: 'host.cdn.test', ttl: 25, data: '2001:db8::1' },
        // Not in the chain: a resolver has no business vouching for it.
        { type: 'A', name: 'api.stripe.com', ttl: 20, data: '203.0.113.66' },
      ]),
    );
    assert.equal(facts.rcode, 'NOERROR');
    assert.deepEqual(facts.names, ['www.example.test', 'edge.cdn.test', 'host.cdn.test']);
    assert.deepEqual(facts.addresses, [
      { ip: '192.0.2.1', ttl: 20, name: 'host.cdn.test' },
      { ip: '2001:db8::1', ttl: 25, name: 'host.cdn.test' },
    ]);
  });

  test('a CNAME loop ends', () => {
    const facts = parseAnswer(
      answer([
        { type: 'CNAME', name: 'a.test', ttl: 60, data: 'b.test' },
        { type: 'CNAME', name: 'b.test', ttl: 60, data: 'a.test' },
      ], 'a.test'),
    );
    assert.deepEqual(facts.names, ['a.test', 'b.test']);
    assert.deepEqual(facts.addresses, []);
  });

  test('a malformed answer throws DnsWireError', () => {
    const good = answer([{ type: 'A', name: 'www.example.test', ttl: 1, data: '192.0.2.1' }]);
    assert.throws(() => parseAnswer(good.subarray(0, good.length - 2)), DnsWireError);
  });

  test('without validation (a flow record only) the facts are the same, and garbage after the answer section is not looked at', () => {
    const good = answer([
      { type: 'CNAME', name: 'www.example.test', ttl: 60, data: 'host.cdn.test' },
      { type: 'A', name: 'host.cdn.test', ttl: 20, data: '192.0.2.1' },
    ]);
    assert.deepEqual(parseAnswer(good, { validate: false }), parseAnswer(good));
    // One additional record announced, three bytes of garbage where it should be.
    const trailing = Buffer.concat([good, Buffer.from([0xff, 0xff, 0xff])]);
    trailing.writeUInt16BE(1, 10);
    assert.throws(() => parseAnswer(trailing), DnsWireError);
    assert.deepEqual(parseAnswer(trailing, { validate: false }).addresses, [{ ip: '192.0.2.1', ttl: 20, name: 'host.cdn.test' }]);
    const nx = dnsPacket.encode({ type: 'response', id: 1, flags: 3, questions: [{ type: 'A', name: 'gone.test' }] });
    assert.equal(parseAnswer(nx, { validate: false }).rcode, 'NXDOMAIN');
  });
});
