// Bounded mutation fuzzing of the ClientHello parser (proxylib codec/tls-hello), which reads the
// first bytes of every TLS connection before anything is authenticated. Seeds are real ClientHellos
// (Node's TLS client, captured on loopback) plus synthetic ones with many SNI/ALPN entries. For every
// mutated input: no exception, a result of the documented shape, SNI made of host-name bytes only,
// ALPN names of 1..255 bytes, `length` within the input, every prefix of an accepted hello is
// need_more, and no call slower than PER_INPUT_MS.
//
//   FUZZ_SEED (default fixed, printed), FUZZ_ITERATIONS (default 200000), FUZZ_SECONDS (default 2.5)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { parseClientHello, type ClientHelloResult } from '../../proxylib/index.js';
import { Prng, parseSeed } from './prng.js';

const SEED = parseSeed(process.env['FUZZ_SEED']) ?? 0x746c7321; // "tls!"
const ITERATIONS = Number(process.env['FUZZ_ITERATIONS'] ?? 200_000);
const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 2.5);
const PER_INPUT_MS = 50;

async function captureNodeHello(servername: string, alpn: string[]): Promise<Buffer> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
  client.on('error', () => {});
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello within 5 s')), 5000);
      server.on('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (d: Buffer) => {
          bytes = Buffer.concat([bytes, d]);
          if (parseClientHello(bytes).kind !== 'need_more') {
            clearTimeout(timer);
            resolve(bytes);
          }
        });
      });
    });
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A ClientHello built by hand with the given extensions (type, data). */
function syntheticHello(extensions: Array<[number, Buffer]>): Buffer {
  const ext = Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), u16(data.length), data])));
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]), u16(ext.length), ext]);
  const handshake = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(handshake.length), handshake]);
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

function sni(...names: string[]): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), u16(n.length), Buffer.from(n, 'latin1')])));
  return Buffer.concat([u16(list.length), list]);
}

function alpn(...names: string[]): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'latin1')])));
  return Buffer.concat([u16(list.length), list]);
}

function checkShape(r: ClientHelloResult, input: Buffer): void {
  switch (r.kind) {
    case 'tls':
      assert.ok(/^[a-z0-9._-]*$/.test(r.serverName), `serverName ${JSON.stringify(r.serverName)}`);
      assert.ok(r.alpn.every((p) => p.length >= 1 && p.length <= 255));
      assert.ok(r.length > 0 && r.length <= input.length);
      break;
    case 'need_more':
      assert.ok(r.needed === undefined || r.needed > input.length);
      break;
    case 'malformed':
      assert.equal(typeof r.reason, 'string');
      break;
    case 'not_tls':
      break;
    default:
      assert.fail(`unknown result ${JSON.stringify(r)}`);
  }
}

test('the ClientHello parser survives mutated hellos, and accepted hellos are consistent', { timeout: 120_000 }, async () => {
  console.log(`tls-hello fuzz: seed ${SEED} (0x${SEED.toString(16)}), up to ${ITERATIONS} cases or ${SECONDS} s`);
  const seeds = [
    await captureNodeHello('svc.example', ['h2', 'http/1.1']),
    await captureNodeHello('a.b.c.d.example', ['http/1.1']),
    syntheticHello([[0, sni('one.example', 'two.example')], [16, alpn('h2', 'h2c', 'http/1.1', 'x'.repeat(255))]]),
    syntheticHello([[16, alpn('h2')], [0, sni('x')], [43, Buffer.from([2, 3, 4])]]),
  ];
  const rng = new Prng(SEED);
  const deadline = performance.now() + SECONDS * 1000;
  let cases = 0;
  const kinds: Record<string, number> = {};
  for (let i = 0; i < ITERATIONS && performance.now() < deadline; i++) {
    const input = Buffer.from(rng.pick(seeds));
    const steps: string[] = [];
    const rounds = 1 + rng.int(4);
    let bytes = input;
    for (let r = 0; r < rounds; r++) {
      const at = rng.int(bytes.length);
      switch (rng.int(5)) {
        case 0:
          bytes[at] = rng.int(256);
          steps.push(`byte ${at}`);
          break;
        case 1:
          bytes[at] = bytes[at]! ^ (1 << rng.int(8));
          steps.push(`bit ${at}`);
          break;
        case 2:
          bytes = bytes.subarray(0, at);
          steps.push(`truncate ${at}`);
          break;
        case 3: {
          // Length fields are where parsers break: set a 16-bit value to an extreme.
          const v = rng.pick([0, 1, 0xff, 0x100, 0x3fff, 0x4000, 0xffff]);
          if (at + 1 < bytes.length) bytes.writeUInt16BE(v, at);
          steps.push(`u16 ${at}=${v}`);
          break;
        }
        default: {
          const n = 1 + rng.int(16);
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + n), bytes.subarray(at)]);
          steps.push(`dup ${n} at ${at}`);
        }
      }
    }
    try {
      const t0 = performance.now();
      const r = parseClientHello(bytes, 16 * 1024 + 5);
      const took = performance.now() - t0;
      assert.ok(took < PER_INPUT_MS, `took ${took.toFixed(1)} ms`);
      checkShape(r, bytes);
      kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      if (r.kind === 'tls') {
        // Prefixes of an accepted hello must all ask for more bytes (a few positions, bounded).
        for (let k = 0; k < 4; k++) {
          const cut = rng.int(r.length);
          const p = parseClientHello(bytes.subarray(0, cut), 16 * 1024 + 5);
          assert.equal(p.kind, 'need_more', `prefix ${cut} of an accepted hello gave ${p.kind}`);
        }
      }
    } catch (e) {
      const file = join(tmpdir(), `meshd-tls-hello-fuzz-${SEED}-${i}.json`);
      writeFileSync(file, JSON.stringify({ seed: SEED, case: i, steps, input: bytes.toString('hex') }));
      assert.fail(`case ${i} (seed ${SEED}): ${e instanceof Error ? e.message : String(e)}; steps ${steps.join(', ')}; input in ${file}`);
    }
    cases = i + 1;
  }
  console.log(`tls-hello fuzz: ${cases} cases, results ${JSON.stringify(kinds)}`);
  assert.ok(cases >= 100, `only ${cases} cases ran`);
  assert.ok((kinds['tls'] ?? 0) > 0, 'some mutated hellos still parse (the fuzzer reaches the deep paths)');
});
