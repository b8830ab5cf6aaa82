import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import {
  CHUNK_END,
  DEFAULT_HTTP1_LIMITS,
  Http1SerializeError,
  LAST_CHUNK,
  RequestParser,
  ResponseParser,
  chunkHeader,
  lastChunkWithTrailers,
  serializeRequestHead,
  serializeResponseHead,
  type Http1ParseError,
  type Http1ResponseHead,
} from './index.js';

interface Collected {
  heads: Http1ResponseHead[];
  body: string;
  trailers: Array<[string, string]>[];
  completed: number;
  error: Http1ParseError | undefined;
  parser: ResponseParser;
}

function responseParser(): Collected {
  const out = { heads: [], body: '', trailers: [], completed: 0, error: undefined } as unknown as Collected;
  out.parser = new ResponseParser(DEFAULT_HTTP1_LIMITS, {
    onHead: (h) => void out.heads.push(h),
    onBody: (b) => void (out.body += b.toString('latin1')),
    onTrailers: (t) => void out.trailers.push(t),
    onMessageComplete: () => void out.completed++,
    onError: (e) => void (out.error = e),
  });
  return out;
}

function feed(c: Collected, method: string, raw: string): Collected {
  c.parser.expectResponse(method);
  c.parser.execute(Buffer.from(raw, 'latin1'));
  return c;
}

describe('response framing', () => {
  test('Content-Length, chunked with trailers, and keep-alive responses complete', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
    assert.equal(c.completed, 1);
    assert.equal(c.body, 'abc');
    assert.equal(c.heads[0]!.keepAlive, true);
    feed(c, 'POST', 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nGrpc-Status: 0\r\n\r\n');
    assert.equal(c.completed, 2);
    assert.equal(c.body, 'abcde');
    assert.deepEqual(c.trailers, [[['grpc-status', '0']]]);
    assert.equal(c.error, undefined);
  });

  test('a response to HEAD has no body whatever its Content-Length says', () => {
    const c = feed(responseParser(), 'HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    assert.equal(c.completed, 1);
    assert.deepEqual(c.heads[0]!.framing, { kind: 'none' });
  });

  test('204 and 304 have no body', () => {
    for (const status of [204, 304]) {
      const c = feed(responseParser(), 'GET', `HTTP/1.1 ${status} X\r\nContent-Length: 5\r\n\r\n`);
      assert.equal(c.completed, 1, String(status));
    }
  });

  test('100 Continue is reported, then the final response completes', () => {
    const c = feed(responseParser(), 'POST', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(c.heads.map((h) => [h.status, h.informational]), [
      [100, true],
      [200, false],
    ]);
    assert.equal(c.completed, 1);
  });

  test('101 Switching Protocols hands the rest over as tunnel bytes', () => {
    const c = responseParser();
    c.parser.expectResponse('GET');
    const raw = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u0081\u0002hi', 'latin1');
    const n = c.parser.execute(raw);
    assert.equal(c.heads[0]!.tunnel, true);
    assert.equal(c.parser.status, 'tunnel');
    assert.equal(raw.length - n, 4);
  });

  test('a 200 answer to CONNECT is a tunnel', () => {
    const c = feed(responseParser(), 'CONNECT', 'HTTP/1.1 200 Connection Established\r\n\r\n');
    assert.equal(c.heads[0]!.tunnel, true);
    assert.equal(c.parser.status, 'tunnel');
  });

  test('a body without length runs until finish()', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.1 200 OK\r\n\r\nsome');
    c.parser.execute(Buffer.from(' more'));
    assert.equal(c.completed, 0);
    assert.equal(c.heads[0]!.keepAlive, false);
    c.parser.finish();
    assert.equal(c.completed, 1);
    assert.equal(c.body, 'some more');
  });

  test('Transfer-Encoding not ending in chunked means read until close', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz');
    assert.deepEqual(c.heads[0]!.framing, { kind: 'close' });
  });

  test('HTTP/1.0 responses, and a status line without a reason phrase', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n');
    assert.equal(c.heads[0]!.reason, '');
    assert.equal(c.heads[0]!.keepAlive, false);
    assert.equal(c.completed, 1);
  });

  test('an unfinished chunked response at EOF is an error', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    c.parser.finish();
    assert.equal(c.error?.reason, 'HPE_INVALID_EOF_STATE');
  });
});

describe('response rejections', () => {
  const cases: Array<[string, string, string]> = [
    ['CL+TE', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['duplicate Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['bad status', 'HTTP/1.1 20 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['HTTP/2 status line', 'HTTP/2.0 200 OK\r\n\r\n', 'HPE_UNSUPPORTED_VERSION'],
    ['garbage', 'SSH-2.0-OpenSSH\r\n\r\n', 'HPE_INVALID_VERSION'],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'HPE_CR_EXPECTED'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n', 'HPE_OBS_FOLD'],
    ['header injection with NUL', 'HTTP/1.1 200 OK\r\nX: a\u0000b\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_VALUE'],
    ['chunked applied twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
  ];
  for (const [name, raw, reason] of cases) {
    test(`${name} is rejected with ${reason} and status 502`, () => {
      const error = feed(responseParser(), 'GET', raw).error;
      assert.equal(error?.reason, reason);
      assert.equal(error?.status, 502);
    });
  }

  test('bytes while no response is expected are rejected', () => {
    const c = responseParser();
    c.parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(c.error?.reason, 'HPE_UNEXPECTED_DATA');
    assert.equal(c.error?.status, 502);
  });

  test('a second response needs a second request', () => {
    const c = feed(responseParser(), 'GET', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal(c.completed, 1);
    assert.equal(c.error?.reason, 'HPE_UNEXPECTED_DATA');
  });
});

describe('serializers', () => {
  test('request and response heads are written as given and read back identically', () => {
    const req = serializeRequestHead({ method: 'POST', target: '/a?b', headers: [['host', 'x'], ['content-length', '2']] });
    assert.equal(req, 'POST /a?b HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n');
    const res = serializeResponseHead({ status: 403, headers: [['content-length', '15']] });
    assert.equal(res, 'HTTP/1.1 403 Forbidden\r\ncontent-length: 15\r\n\r\n');
    let parsedTarget = '';
    new RequestParser(DEFAULT_HTTP1_LIMITS, { onHead: (h) => (parsedTarget = h.target), onBody() {}, onMessageComplete() {}, onError: assert.fail }).execute(Buffer.from(req + 'hi', 'latin1'));
    assert.equal(parsedTarget, '/a?b');
  });

  test('chunk framing written by the helpers parses back to the same body and trailers', () => {
    const framed = ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', chunkHeader(26), 'abcdefghijklmnopqrstuvwxyz', CHUNK_END, chunkHeader(1), '!', CHUNK_END, lastChunkWithTrailers([['grpc-status', '0']])].join('');
    const c = feed(responseParser(), 'GET', framed);
    assert.equal(c.body, 'abcdefghijklmnopqrstuvwxyz!');
    assert.deepEqual(c.trailers, [[['grpc-status', '0']]]);
    assert.equal(LAST_CHUNK, '0\r\n\r\n');
  });

  test('header injection through names, values, methods or targets throws', () => {
    assert.throws(() => serializeRequestHead({ method: 'GET', target: '/', headers: [['x', 'a\r\nevil: 1']] }), Http1SerializeError);
    assert.throws(() => serializeRequestHead({ method: 'GET', target: '/', headers: [['x y', 'a']] }), Http1SerializeError);
    assert.throws(() => serializeRequestHead({ method: 'GET', target: '/ HTTP/1.1\r\nx: y', headers: [] }), Http1SerializeError);
    assert.throws(() => serializeRequestHead({ method: 'G T', target: '/', headers: [] }), Http1SerializeError);
    assert.throws(() => serializeResponseHead({ status: 200, reason: 'OK\r\nx: y', headers: [] }), Http1SerializeError);
    assert.throws(() => serializeResponseHead({ status: 42, headers: [] }), Http1SerializeError);
  });
});

test('responses from a real node:http server parse (chunked, keep-alive, HEAD) over one connection', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/chunked') {
      res.write('part1-');
      setImmediate(() => res.end('part2'));
    } else res.end(`hello ${req.method}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const socket = connect(port, '127.0.0.1');
  try {
    const c = responseParser();
    const bodies: string[] = [];
    const requests: Array<[string, string]> = [
      ['GET', '/chunked'],
      ['HEAD', '/x'],
      ['GET', '/plain'],
    ];
    for (const [method, target] of requests) {
      const before = c.body.length;
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response to ${method} ${target} within 5 s`)), 5000);
        const check = (): void => {
          if (c.error) {
            clearTimeout(timer);
            reject(c.error);
          } else if (c.completed === bodies.length + 1) {
            clearTimeout(timer);
            socket.off('data', onData);
            resolve();
          }
        };
        const onData = (d: Buffer): void => {
          c.parser.execute(d);
          check();
        };
        socket.on('data', onData);
      });
      c.parser.expectResponse(method);
      socket.write(serializeRequestHead({ method, target, headers: [['host', 'x']] }), 'latin1');
      await done;
      bodies.push(c.body.slice(before));
    }
    assert.deepEqual(bodies, ['part1-part2', '', 'hello GET']);
    assert.deepEqual(c.heads.map((h) => h.framing.kind), ['chunked', 'none', 'length']);
  } finally {
    socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
