import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_HTTP1_LIMITS,
  Http1ParseError,
  RequestParser,
  type Http1Limits,
  type Http1RequestHead,
} from './index.js';
import { SMUGGLING_CORPUS, type SmugglingExpectation } from '../../../test/proxy/smuggling-corpus.js';

interface Parsed {
  heads: Http1RequestHead[];
  bodies: string[];
  trailers: Array<Array<[string, string]>>;
  completed: number;
  error: Http1ParseError | undefined;
}

/** Feeds `chunks` one after another (re-feeding what a pause left), collecting every callback. */
function parse(chunks: Buffer[], limits: Http1Limits = DEFAULT_HTTP1_LIMITS): Parsed & { parser: RequestParser } {
  const out: Parsed = { heads: [], bodies: [], trailers: [], completed: 0, error: undefined };
  const parser = new RequestParser(limits, {
    onHead(head) {
      out.heads.push(head);
      out.bodies.push('');
    },
    onBody(chunk) {
      out.bodies[out.bodies.length - 1] += chunk.toString('latin1');
    },
    onTrailers(trailers) {
      out.trailers.push(trailers);
    },
    onMessageComplete() {
      out.completed++;
    },
    onError(error) {
      assert.equal(out.error, undefined, 'onError is called once');
      out.error = error;
    },
  });
  for (const chunk of chunks) {
    let rest = chunk;
    // Bounded: each pass either consumes bytes or stops.
    for (let guard = 0; rest.length > 0 && guard < rest.length + 2; guard++) {
      const n = parser.execute(rest);
      if (n === 0) break;
      rest = rest.subarray(n);
    }
  }
  return Object.assign(out, { parser });
}

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function splits(raw: Buffer, mode: 'whole' | 'bytes' | 'random', seed: number): Buffer[] {
  if (mode === 'whole') return [raw];
  if (mode === 'bytes') return Array.from({ length: raw.length }, (_, i) => raw.subarray(i, i + 1));
  const out: Buffer[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < raw.length; ) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const n = 1 + (s % 17);
    out.push(raw.subarray(i, i + n));
    i += n;
  }
  return out;
}

function check(result: Parsed, expect: SmugglingExpectation, where: string): void {
  const targets = result.heads.map((h) => h.target);
  if (expect.kind === 'reject') {
    assert.ok(result.error, `${where}: expected ${expect.reason}, got no error (targets ${JSON.stringify(targets)})`);
    assert.equal(result.error.reason, expect.reason, `${where}: ${result.error.message}`);
    assert.equal(result.error.status, expect.status, where);
    assert.deepEqual(targets, expect.targets ?? [], where);
    return;
  }
  assert.equal(result.error, undefined, `${where}: unexpected ${result.error?.message}`);
  assert.deepEqual(targets, expect.targets, where);
  if (expect.kind === 'accept') {
    assert.equal(result.completed, expect.targets.length, `${where}: every message completes`);
    if (expect.bodies) assert.deepEqual(result.bodies, expect.bodies, where);
  } else {
    assert.equal(result.completed, expect.targets.length - 1, `${where}: the last message is still open`);
  }
}

describe('the request-smuggling corpus is decided as documented, however the bytes are split', () => {
  for (const c of SMUGGLING_CORPUS) {
    test(c.name, () => {
      const raw = bytes(c.raw);
      for (const mode of ['whole', 'bytes', 'random'] as const) {
        for (const seed of mode === 'random' ? [1, 2, 3] : [0]) {
          check(parse(splits(raw, mode, seed)), c.expect, `${mode}${mode === 'random' ? ` seed ${seed}` : ''}`);
        }
      }
    });
  }
});

describe('request heads', () => {
  test('a request head carries method, target, authority, version, headers and framing', () => {
    const r = parse([bytes('POST /p?q=1 HTTP/1.1\r\nHost: Example.com:80\r\nX-Multi: a\r\nx-multi: b\r\nContent-Length: 2\r\n\r\nhi')]);
    const head = r.heads[0]!;
    assert.equal(head.method, 'POST');
    assert.equal(head.target, '/p?q=1');
    assert.equal(head.targetForm, 'origin');
    assert.equal(head.authority, 'Example.com:80');
    assert.equal(head.version, 'HTTP/1.1');
    assert.deepEqual(head.headers, [
      ['host', 'Example.com:80'],
      ['x-multi', 'a'],
      ['x-multi', 'b'],
      ['content-length', '2'],
    ]);
    assert.deepEqual(head.framing, { kind: 'length', length: 2 });
    assert.equal(head.keepAlive, true);
    assert.equal(head.upgrade, undefined);
    assert.equal(head.expectContinue, false);
    assert.equal(head.headBytes, 'POST /p?q=1 HTTP/1.1\r\nHost: Example.com:80\r\nX-Multi: a\r\nx-multi: b\r\nContent-Length: 2\r\n\r\n'.length);
  });

  test('keep-alive follows the version and the Connection tokens', () => {
    const ka = (raw: string): boolean => parse([bytes(raw)]).heads[0]!.keepAlive;
    assert.equal(ka('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), true);
    assert.equal(ka('GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n'), false);
    assert.equal(ka('GET / HTTP/1.0\r\n\r\n'), false);
    assert.equal(ka('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), true);
  });

  test('an absolute-form target is reduced to origin-form and its authority wins over Host', () => {
    const head = parse([bytes('GET HTTPS://api.example:8443?x HTTP/1.1\r\nHost: other\r\n\r\n')]).heads[0]!;
    assert.equal(head.target, '/?x');
    assert.equal(head.targetForm, 'absolute');
    assert.equal(head.authority, 'api.example:8443');
    assert.equal(head.absoluteScheme, 'https');
  });

  test('Expect: 100-continue is flagged', () => {
    assert.equal(parse([bytes('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n')]).heads[0]!.expectContinue, true);
  });

  test('an upgrade request hands the rest of the bytes over', () => {
    const raw = bytes('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n\u0081\u0085frame');
    const r = parse([]);
    const head: Http1RequestHead[] = [];
    const parser = new RequestParser(DEFAULT_HTTP1_LIMITS, { onHead: (h) => head.push(h), onBody() {}, onMessageComplete() {}, onError: assert.fail });
    const n = parser.execute(raw);
    assert.equal(head[0]!.upgrade, 'websocket');
    assert.equal(parser.status, 'tunnel');
    assert.equal(raw.subarray(n).toString('latin1'), '\u0081\u0085frame');
    assert.equal(parser.execute(bytes('more')), 0, 'a tunnel parser consumes nothing');
    parser.reset();
    assert.equal(parser.status, 'head');
    assert.equal(r.error, undefined);
  });

  test('CONNECT completes at its head and hands over the tunnel', () => {
    const raw = bytes('CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\nBINARY');
    let head: Http1RequestHead | undefined;
    let completed = 0;
    const parser = new RequestParser(DEFAULT_HTTP1_LIMITS, { onHead: (h) => (head = h), onBody: () => assert.fail("no body"), onMessageComplete: () => void completed++, onError: assert.fail });
    const n = parser.execute(raw);
    assert.equal(head?.targetForm, 'authority');
    assert.equal(head?.authority, 'db.internal:5432');
    assert.equal(completed, 1);
    assert.equal(raw.subarray(n).toString(), 'BINARY');
  });

  test('after a Connection: close request the rest is ignored', () => {
    const raw = bytes('GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    const r = parse([raw]);
    assert.deepEqual(r.heads.map((h) => h.target), ['/1']);
    assert.equal(r.parser.status, 'closed');
  });
});

describe('pipelining and pausing', () => {
  test('onMessageComplete returning true stops execute after each message', () => {
    const raw = bytes('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
    const targets: string[] = [];
    const parser = new RequestParser(DEFAULT_HTTP1_LIMITS, { onHead: (h) => targets.push(h.target), onBody() {}, onMessageComplete: () => true, onError: assert.fail });
    let rest = raw;
    const consumed: number[] = [];
    while (rest.length > 0) {
      const n = parser.execute(rest);
      consumed.push(n);
      rest = rest.subarray(n);
    }
    assert.deepEqual(targets, ['/1', '/2', '/3']);
    assert.deepEqual(consumed, [28, 28, 28]);
    assert.equal(parser.idle, true);
  });

  test('pause() inside onBody stops right after that body chunk', () => {
    const raw = bytes('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n');
    const bodies: string[] = [];
    const parser: RequestParser = new RequestParser(DEFAULT_HTTP1_LIMITS, {
      onHead() {},
      onBody(chunk) {
        bodies.push(chunk.toString());
        parser.pause();
      },
      onMessageComplete() {},
      onError: assert.fail,
    });
    const n1 = parser.execute(raw);
    assert.deepEqual(bodies, ['abc']);
    const n2 = parser.execute(raw.subarray(n1));
    assert.deepEqual(bodies, ['abc', 'def']);
    parser.execute(raw.subarray(n1 + n2));
    assert.equal(parser.idle, true);
  });

  test('finish() in the middle of a message reports HPE_INVALID_EOF_STATE, and nothing when idle', () => {
    const r = parse([bytes('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab')]);
    r.parser.finish();
    assert.equal(r.error?.reason, 'HPE_INVALID_EOF_STATE');
    const idle = parse([bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n')]);
    idle.parser.finish();
    assert.equal(idle.error, undefined);
    assert.equal(idle.parser.status, 'closed');
  });
});

describe('limits', () => {
  test('a head that never ends is rejected at the limit with 431, holding no more than the limit', () => {
    const limits = { ...DEFAULT_HTTP1_LIMITS, maxHeaderBytes: 1024 };
    const chunks = [bytes('GET / HTTP/1.1\r\nHost: a\r\nX: '), ...Array.from({ length: 200 }, () => bytes('aaaaaaaaaa'))];
    const r = parse(chunks, limits);
    assert.equal(r.error?.reason, 'HPE_HEADER_OVERFLOW');
    assert.equal(r.error?.status, 431);
  });

  test('a head of exactly the limit is accepted', () => {
    const head = 'GET / HTTP/1.1\r\nHost: a\r\nX: ';
    const limit = 200;
    const raw = `${head}${'a'.repeat(limit - head.length - 4)}\r\n\r\n`;
    assert.equal(raw.length, limit);
    assert.equal(parse([bytes(raw)], { ...DEFAULT_HTTP1_LIMITS, maxHeaderBytes: limit }).error, undefined);
    assert.equal(parse([bytes(raw)], { ...DEFAULT_HTTP1_LIMITS, maxHeaderBytes: limit - 1 }).error?.reason, 'HPE_HEADER_OVERFLOW');
  });

  test('a chunk-size line longer than its limit is 413', () => {
    const r = parse([bytes(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=${'a'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`)]);
    assert.equal(r.error?.reason, 'HPE_CHUNK_EXTENSIONS_OVERFLOW');
    assert.equal(r.error?.status, 413);
  });

  test('a large body streams through in pieces without being buffered', () => {
    const size = 5 * 1024 * 1024;
    const head = bytes(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\n\r\n`);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let received = 0;
    let largest = 0;
    const parser = new RequestParser(DEFAULT_HTTP1_LIMITS, {
      onHead() {},
      onBody(chunk) {
        received += chunk.length;
        largest = Math.max(largest, chunk.length);
      },
      onMessageComplete() {},
      onError: assert.fail,
    });
    parser.execute(head);
    for (let sent = 0; sent < size; sent += piece.length) parser.execute(piece);
    assert.equal(received, size);
    assert.equal(largest, piece.length, 'body chunks are views of the input, never joined');
    assert.equal(parser.idle, true);
  });
});
