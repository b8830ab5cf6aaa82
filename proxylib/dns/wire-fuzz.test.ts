// Fuzzing the DNS parsing path, bounded in count and time: mutated queries through parseQuery and
// the whole per-query path (answerQuery with a policy, whose resolver answers with mutated answers),
// and mutated answers through parseAnswer. Nothing may throw except DnsWireError from parseAnswer;
// answerQuery never throws and answers FORMERR, REFUSED, SERVFAIL or the resolver's bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { envoy, messageFromJson } from '../../xds/index.js';
import { Problems } from '../config/index.js';
import { compileDnsPolicyConfig } from './compile-policy.js';
import { answerQuery } from './query-handler.js';
import { createDnsRuntime } from './runtime.js';
import { DnsWireError, parseAnswer, parseQuery, readHeader } from './wire.js';

const MAX_CASES = 20_000;
const MAX_MS = 5_000;

/** A small deterministic PRNG (xorshift32), so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const QUERIES: Buffer[] = [
  dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.allowed.test' }] }),
  dnsPacket.encode({ type: 'query', id: 2, questions: [{ type: 'AAAA', name: 'a.b.c.deep.test' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: true, options: [{ code: 12, length: 12 }] }] }),
  dnsPacket.encode({ type: 'query', id: 3, questions: [{ type: 'TXT', name: 'x.wild.test' }, { type: 'A', name: 'second.test' }] }),
];

const ANSWERS: Buffer[] = [
  dnsPacket.encode({
    type: 'response',
    id: 1,
    flags: dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: 'A', name: 'api.allowed.test' }],
    answers: [
      { type: 'CNAME', name: 'api.allowed.test', ttl: 60, data: 'edge.cdn.test' },
      { type: 'A', name: 'edge.cdn.test', ttl: 30, data: '192.0.2.1' },
      { type: 'AAAA', name: 'edge.cdn.test', ttl: 30, data: '2001:db8::1' },
    ],
    authorities: [{ type: 'NS', name: 'cdn.test', ttl: 60, data: 'ns.cdn.test' }],
  }),
];

function mutate(seed: Buffer, r: () => number): Buffer {
  const b = Buffer.from(seed);
  const kind = Math.floor(r() * 5);
  const n = 1 + Math.floor(r() * 4);
  if (kind === 0) for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
  if (kind === 1) return b.subarray(0, Math.floor(r() * b.length));
  if (kind === 2) {
    // Counts: the classic way to send a parser past the end.
    b.writeUInt16BE(Math.floor(r() * 0x10000), 4 + 2 * Math.floor(r() * 4));
    return b;
  }
  if (kind === 3) {
    // A compression pointer somewhere.
    const at = 12 + Math.floor(r() * Math.max(1, b.length - 13));
    if (at + 1 < b.length) {
      b[at] = 0xc0 | Math.floor(r() * 4);
      b[at + 1] = Math.floor(r() * 256);
    }
    return b;
  }
  if (kind === 4) return Buffer.concat([b, Buffer.from(Array.from({ length: n * 8 }, () => Math.floor(r() * 256)))]);
  return b;
}

const policy = (() => {
  const p = new Problems();
  const message = messageFromJson(envoy.DnsPolicySchema, {
    stat_prefix: 'dns',
    endpoint: 'default/client',
    direction: 'EGRESS',
    endpoint_ips: ['127.0.0.1'],
    destination_ports: { start: 53, end: 53 },
    default_deny: true,
    upstream: { cluster: 'resolver' },
    rules: [{ name: 'r', remotes: { any: true }, names: [{ match_pattern: '*.wild.test' }, { match_pattern: '**.deep.test' }, { match_name: 'api.allowed.test' }] }],
  });
  const c = compileDnsPolicyConfig(message, { path: '', problems: p, forUdp: true });
  assert.ok(c, JSON.stringify(p.items));
  return c;
})();

test('mutated queries and answers never crash the DNS parsing path (bounded)', async () => {
  const seed = Number(process.env['MESHD_FUZZ_SEED'] ?? Date.now() % 0x7fffffff);
  const r = rng(seed);
  const started = Date.now();
  let cases = 0;
  const observed: number[] = [];
  const base = createDnsRuntime(undefined);
  const runtime = { ...base, observer: { onAnswer: () => void observed.push(1) }, responseMaxDelayMs: 5 };
  while (cases < MAX_CASES && Date.now() - started < MAX_MS) {
    cases++;
    const query = mutate(QUERIES[Math.floor(r() * QUERIES.length)]!, r);
    const answer = mutate(ANSWERS[Math.floor(r() * ANSWERS.length)]!, r);
    const where = `seed ${seed}, case ${cases}, query ${query.toString('hex')}, answer ${answer.toString('hex')}`;
    parseQuery(query); // must not throw
    try {
      parseAnswer(answer);
    } catch (err) {
      assert.ok(err instanceof DnsWireError, `${where}: ${String(err)}`);
    }
    const out = await answerQuery(query, {
      protocol: 'udp',
      policy,
      source: { ip: '127.0.0.1', port: 5000 },
      destination: { ip: '127.0.0.53', port: 53 },
      peerIdentity: 2,
      listener: 'fuzz',
      filterChain: 'fuzz',
      runtime,
      logger: undefined,
      freshId: () => 7,
      upstream: () => undefined,
      exchange: async () => answer,
    });
    if (out !== undefined) {
      const h = readHeader(out);
      assert.ok(h, `${where}: an answer shorter than a header`);
      if (out !== answer) assert.equal(h.id, readHeader(query)?.id, `${where}: the client's id`);
    }
  }
  assert.ok(cases >= 1000, `only ${cases} cases ran in ${MAX_MS} ms`);
});
