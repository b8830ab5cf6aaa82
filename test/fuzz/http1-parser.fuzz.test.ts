// Bounded mutation fuzzing of the built-in proxy's HTTP/1.1 parsers (proxylib codec/http1).
// Inputs: the request-smuggling corpus and a few responses, mutated byte-wise and structurally
// (CR/LF/SP/HTAB/NUL/obs-text insertions, header lines that change framing, splices, truncation).
// For every input:
//   - nothing throws (the parsers report Http1ParseError through onError, never by exception);
//   - the outcome is the same however the bytes are split (whole, one byte at a time, random
//     pieces): incremental parsing must not change what a request is — that is what smuggling needs;
//   - what is accepted is clean: header names lower-case tokens, values without CR/LF/NUL/controls,
//     a known method, a visible-ASCII target, never Content-Length together with Transfer-Encoding,
//     body bytes never more than the input, the head written back by serializeRequestHead parses
//     to the same head, and the target's normalized path is a fixed point of normalizeRequestPath;
//   - no single execute() takes longer than PER_INPUT_MS (no super-linear path).
// Plus a memory bound: megabytes of hostile streams against small limits hold at most the limit.
//
//   FUZZ_SEED (default fixed, printed), FUZZ_ITERATIONS (default 200000), FUZZ_SECONDS (default 2.5)
// On failure the seed, the case index and the input (JSON) are printed and written under os.tmpdir().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_HTTP1_LIMITS,
  RequestParser,
  ResponseParser,
  isValidHeaderName,
  isValidHeaderValue,
  normalizeRequestPath,
  serializeRequestHead,
  type Http1Limits,
  type Http1RequestHead,
} from '../../proxylib/index.js';
import { Prng, parseSeed } from './prng.js';
import { SMUGGLING_CORPUS } from '../proxy/smuggling-corpus.js';

const SEED = parseSeed(process.env['FUZZ_SEED']) ?? 0x68747470; // "http"
const ITERATIONS = Number(process.env['FUZZ_ITERATIONS'] ?? 200_000);
const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 2.5);
const PER_INPUT_MS = 250;
const LIMITS: Http1Limits = { maxHeaderBytes: 4096, maxHeaderCount: 32, maxChunkLineBytes: 256 };

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.0 200 OK\r\n\r\nuntil close',
];
const SEEDS: readonly string[] = [...SMUGGLING_CORPUS.map((c) => c.raw).filter((r) => r.length < 3000), ...RESPONSES];
/** Seeds the parser accepts: mutating these reaches the accepting paths more often. */
const ACCEPTED_SEEDS: readonly string[] = SMUGGLING_CORPUS.filter((c) => c.expect.kind === 'accept').map((c) => c.raw);
const INTERESTING = ['\r', '\n', '\r\n', ' ', '\t', ':', ';', '=', '"', ',', '0', 'f', '\u0000', '\u0080', '\u00ff', '\u000b', '\u007f', '%', '/', '\\', '?', '#'];
const HEADER_LINES = [
  'Content-Length: 0\r\n',
  'Content-Length: 3\r\n',
  'Content-Length: 99999999999999999999\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: chunked\t\r\n',
  'Transfer-Encoding: gzip, chunked\r\n',
  'Transfer-Encoding : chunked\r\n',
  ' Transfer-Encoding: chunked\r\n',
  'Connection: close\r\n',
  'Connection: upgrade\r\nUpgrade: websocket\r\n',
  'Expect: 100-continue\r\n',
  'Host: b\r\n',
];

function mutate(rng: Prng, input: string): { text: string; steps: string[] } {
  let s = input;
  const steps: string[] = [];
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(8)) {
      case 0: {
        const ch = rng.pick(INTERESTING);
        s = s.slice(0, at) + ch + s.slice(at);
        steps.push(`insert ${JSON.stringify(ch)} at ${at}`);
        break;
      }
      case 1: {
        const n = 1 + rng.int(8);
        s = s.slice(0, at) + s.slice(at + n);
        steps.push(`delete ${n} at ${at}`);
        break;
      }
      case 2: {
        if (s.length === 0) break;
        const i = rng.int(s.length);
        const ch = String.fromCharCode(rng.int(256));
        s = s.slice(0, i) + ch + s.slice(i + 1);
        steps.push(`replace ${i} with ${ch.charCodeAt(0)}`);
        break;
      }
      case 3: {
        const line = rng.pick(HEADER_LINES);
        const eol = s.indexOf('\r\n');
        const where = eol < 0 ? at : eol + 2;
        s = s.slice(0, where) + line + s.slice(where);
        steps.push(`header ${JSON.stringify(line)}`);
        break;
      }
      case 4: {
        const n = 1 + rng.int(32);
        s = s.slice(0, at) + s.slice(at, at + n) + s.slice(at);
        steps.push(`duplicate ${n} at ${at}`);
        break;
      }
      case 5: {
        const other = rng.pick(SEEDS);
        const cut = rng.int(other.length + 1);
        s = s.slice(0, at) + other.slice(cut);
        steps.push(`splice at ${at}`);
        break;
      }
      case 6: {
        s = s.slice(0, at);
        steps.push(`truncate at ${at}`);
        break;
      }
      default: {
        const n = 1 + rng.int(6);
        s = s.slice(0, at) + 'a'.repeat(n * 50) + s.slice(at);
        steps.push(`grow at ${at}`);
      }
    }
  }
  return { text: s, steps };
}

interface Outcome {
  heads: Http1RequestHead[];
  body: number[];
  trailers: number;
  completed: number;
  error: string | undefined;
  consumed: number;
  slowest: number;
}

function runRequests(bytes: Buffer, pieces: Buffer[]): Outcome {
  const o: Outcome = { heads: [], body: [], trailers: 0, completed: 0, error: undefined, consumed: 0, slowest: 0 };
  const parser = new RequestParser(LIMITS, {
    onHead: (h) => {
      o.heads.push(h);
      o.body.push(0);
    },
    onBody: (b) => {
      o.body[o.body.length - 1]! += b.length;
    },
    onTrailers: () => void o.trailers++,
    onMessageComplete: () => {
      o.completed++;
      return o.completed % 2 === 0; // exercise the pipelining stop on every other message
    },
    onError: (e) => {
      if (o.error !== undefined) throw new Error('onError called twice');
      o.error = e.reason;
    },
  });
  for (const piece of pieces) {
    let rest = piece;
    for (let guard = 0; rest.length > 0 && guard <= rest.length + 1; guard++) {
      const t0 = performance.now();
      const n = parser.execute(rest);
      o.slowest = Math.max(o.slowest, performance.now() - t0);
      if (n < 0 || n > rest.length) throw new Error(`execute returned ${n} for ${rest.length} bytes`);
      o.consumed += n;
      if (n === 0) break;
      rest = rest.subarray(n);
    }
    if (parser.status !== 'head' && parser.status !== 'body') break;
  }
  parser.finish();
  assert.ok(o.consumed <= bytes.length);
  return o;
}

function splitsOf(rng: Prng, bytes: Buffer): Buffer[][] {
  const random: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + rng.int(24);
    random.push(bytes.subarray(i, i + n));
    i += n;
  }
  const single = bytes.length <= 600 ? Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)) : random;
  return [[bytes], random, single];
}

function summary(o: Outcome): string {
  return JSON.stringify({ targets: o.heads.map((h) => [h.method, h.target, h.framing]), body: o.body, completed: o.completed, trailers: o.trailers, error: o.error });
}

function checkAccepted(head: Http1RequestHead): void {
  for (const [name, value] of head.headers) {
    assert.ok(isValidHeaderName(name) && name === name.toLowerCase(), `header name ${JSON.stringify(name)}`);
    assert.ok(isValidHeaderValue(value), `header value ${JSON.stringify(value)}`);
  }
  const names = head.headers.map(([n]) => n);
  assert.ok(!(names.includes('content-length') && names.includes('transfer-encoding')), 'CL and TE together accepted');
  assert.ok(names.filter((n) => n === 'content-length').length <= 1, 'duplicate Content-Length accepted');
  assert.ok(/^[\x21-\x7e]+$/.test(head.target), `target ${JSON.stringify(head.target)}`);
  if (head.targetForm === 'origin') {
    // The accepted target through Envoy's normalization (meshd's settings): no throw, and a fixed point.
    const once = normalizeRequestPath(head.target, { normalizePath: true, mergeSlashes: true, escapedSlashes: 'unescape_and_forward' });
    if (once.ok) {
      assert.ok(once.path.startsWith('/'), `normalized ${JSON.stringify(once.path)}`);
      assert.deepEqual(normalizeRequestPath(once.path, { normalizePath: true, mergeSlashes: true, escapedSlashes: 'unescape_and_forward' }), once, 'normalization is not a fixed point');
    }
  }
  if (head.targetForm !== 'authority') {
    // Round trip: what the proxy would write parses back to the same head.
    const written = serializeRequestHead({ method: head.method, target: head.target, version: head.version, headers: head.headers });
    let again: Http1RequestHead | undefined;
    let err: string | undefined;
    new RequestParser(DEFAULT_HTTP1_LIMITS, { onHead: (h) => (again = h), onBody() {}, onMessageComplete() {}, onError: (e) => (err = e.reason) }).execute(Buffer.from(written, 'latin1'));
    assert.equal(err, undefined, `re-serialized head rejected: ${err}`);
    assert.deepEqual(again?.headers, head.headers);
    assert.equal(again?.target, head.target);
  }
}

function report(i: number, text: string, steps: string[], e: unknown): never {
  const file = join(tmpdir(), `meshd-http1-fuzz-${SEED}-${i}.json`);
  writeFileSync(file, JSON.stringify({ seed: SEED, case: i, steps, input: text }, null, 2));
  const msg = e instanceof Error ? e.message : String(e);
  assert.fail(`case ${i} (seed ${SEED}): ${msg}\n  steps: ${steps.join('; ')}\n  input: ${JSON.stringify(text).slice(0, 600)}\n  written to ${file}`);
}

test('the HTTP/1.1 request parser survives mutated smuggling inputs, identically however they are split', { timeout: 120_000 }, () => {
  console.log(`http1 fuzz: seed ${SEED} (0x${SEED.toString(16)}), up to ${ITERATIONS} cases or ${SECONDS} s`);
  const rng = new Prng(SEED);
  const deadline = performance.now() + SECONDS * 1000;
  let cases = 0;
  let accepted = 0;
  for (let i = 0; i < ITERATIONS && performance.now() < deadline; i++) {
    const { text, steps } = mutate(rng, rng.bool(0.6) ? rng.pick(ACCEPTED_SEEDS) : rng.pick(SEEDS));
    const bytes = Buffer.from(text, 'latin1');
    try {
      const outcomes = splitsOf(rng, bytes).map((pieces) => runRequests(bytes, pieces));
      const first = summary(outcomes[0]!);
      for (const o of outcomes.slice(1)) assert.equal(summary(o), first, 'the outcome depends on how the bytes are split');
      for (const o of outcomes) assert.ok(o.slowest < PER_INPUT_MS, `one execute() took ${o.slowest.toFixed(1)} ms`);
      const o = outcomes[0]!;
      for (const h of o.heads) checkAccepted(h);
      assert.ok(o.body.reduce((a, b) => a + b, 0) <= bytes.length);
      if (o.error === undefined && o.completed > 0) accepted++;
    } catch (e) {
      report(i, text, steps, e);
    }
    cases = i + 1;
  }
  console.log(`http1 fuzz: ${cases} cases, ${accepted} with at least one accepted request`);
  assert.ok(cases >= 100, `only ${cases} cases ran in ${SECONDS} s`);
});

test('the HTTP/1.1 response parser survives the same mutations without throwing', { timeout: 60_000 }, () => {
  const rng = new Prng(SEED ^ 0x5a5a5a5a);
  const deadline = performance.now() + Math.min(SECONDS, 1.5) * 1000;
  let cases = 0;
  for (let i = 0; i < ITERATIONS && performance.now() < deadline; i++) {
    const { text, steps } = mutate(rng, rng.pick(RESPONSES));
    try {
      const parser: ResponseParser = new ResponseParser(LIMITS, {
        onHead() {},
        onBody() {},
        onMessageComplete: (): void => parser.expectResponse(rng.pick(['GET', 'HEAD', 'POST', 'CONNECT'])),
        onError() {},
      });
      parser.expectResponse(rng.pick(['GET', 'HEAD', 'POST']));
      const bytes = Buffer.from(text, 'latin1');
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + rng.int(32);
        parser.execute(bytes.subarray(at, at + n));
        at += n;
      }
      parser.finish();
    } catch (e) {
      report(i, text, steps, e);
    }
    cases = i + 1;
  }
  assert.ok(cases >= 100, `only ${cases} cases ran`);
});

test('hostile streams hold no more memory than the limits allow', { timeout: 60_000 }, () => {
  const streams: Array<[string, string, Buffer]> = [
    ['a head that never ends', 'GET / HTTP/1.1\r\nHost: a\r\nX: ', Buffer.alloc(64 * 1024, 0x61)],
    ['a chunk-size line that never ends', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=', Buffer.alloc(64 * 1024, 0x62)],
    ['trailers that never end', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ', Buffer.alloc(64 * 1024, 0x63)],
    ['empty lines before a request forever', '', Buffer.from('\r\n'.repeat(32 * 1024))],
  ];
  for (const [name, prefix, piece] of streams) {
    let error: string | undefined;
    const parser = new RequestParser(LIMITS, { onHead() {}, onBody() {}, onMessageComplete() {}, onError: (e) => (error = e.reason) });
    parser.execute(Buffer.from(prefix, 'latin1'));
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    // 32 MiB in 64 KiB pieces (bounded count), or until the parser gives up.
    for (let i = 0; i < 512 && error === undefined; i++) parser.execute(piece);
    const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before;
    if (name.startsWith('empty lines')) assert.equal(error, undefined, `${name}: empty lines are skipped, not an error`);
    else assert.ok(error !== undefined, `${name}: rejected at the limit`);
    assert.ok(grown < 16 * 1024 * 1024, `${name}: memory grew by ${grown} bytes`);
  }
});
