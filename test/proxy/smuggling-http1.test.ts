// The request-smuggling corpus end to end: each case goes to the proxy as raw bytes; an upstream
// (node:http, strict llhttp) records every byte it receives. A rejected case must get its status
// and put nothing on the upstream wire; an accepted case must reach the upstream as exactly the
// requests the proxy understood, re-framed by the proxy (so a desync between proxy and upstream is
// impossible: the upstream never sees the client's framing).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hcmJson, rawExchange, startProxy, staticClusterJson, statusLines, startRawUpstream, withBackendProxy, type ProxyUnderTest } from './http1-harness.js';

interface RecordingUpstream {
  port: number;
  /** Raw bytes received, all connections concatenated in arrival order. */
  bytes(): string;
  /** Request lines node:http parsed. */
  requests: string[];
  reset(): void;
  close(): Promise<void>;
}

async function startRecordingUpstream(): Promise<RecordingUpstream> {
  let raw: Buffer[] = [];
  let requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`body=${n}`));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => raw.push(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bytes: () => Buffer.concat(raw).toString('latin1'),
    get requests() {
      return requests;
    },
    reset() {
      raw = [];
      requests = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const H = 'Host: svc\r\n';

/** Rejected before anything is forwarded: [name, bytes, status]. */
const REJECTED: Array<[string, string, number]> = [
  ['CL.TE: Content-Length and Transfer-Encoding together', `POST / HTTP/1.1\r\n${H}Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED`, 400],
  ['TE.CL: Transfer-Encoding then Content-Length', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, 400],
  ['TE.TE: xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 501],
  ['TE.TE: chunked, identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 501],
  ['TE.TE: a second Transfer-Encoding header', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n0\r\n\r\n`, 501],
  ['TE.TE: chunked listed twice', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 501],
  ['TE.TE: whitespace before the colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE.TE: obs-fold continuation', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, 400],
  ['duplicate Content-Length with equal values', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, 400],
  ['duplicate Content-Length with different values', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 400],
  ['Content-Length with a sign', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 400],
  ['Content-Length as a list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, 400],
  ['Content-Length in hex', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, 400],
  ['chunk size with a trailing space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk size with 0x', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`, 400],
  ['negative chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`, 400],
  ['overflowing chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk data not followed by CRLF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`, 400],
  ['bare LF line endings', `GET / HTTP/1.1\nHost: svc\n\n`, 400],
  ['bare CR inside a header', `GET / HTTP/1.1\r\nHost: svc\r\nX-A: a\rb\r\n\r\n`, 400],
  ['obs-fold in an ordinary header', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, 400],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['space inside a header name', `GET / HTTP/1.1\r\n${H}X A: 1\r\n\r\n`, 400],
  ['two spaces in the request line', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ['HTTP/2.0 in an HTTP/1 request line', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ['missing Host on HTTP/1.1', `GET / HTTP/1.1\r\n\r\n`, 400],
  ['two Host headers', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 400],
  ['Transfer-Encoding on HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
];

describe('request smuggling corpus through the HTTP/1.1 proxy', () => {
  let upstream: RecordingUpstream;
  let proxy: ProxyUnderTest;
  before(async () => {
    upstream = await startRecordingUpstream();
    proxy = await startProxy({ hcm: hcmJson([]), clusters: [staticClusterJson('backend', upstream.port)] });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  for (const [name, bytes, status] of REJECTED) {
    test(`${name}: answered ${status}, the connection closed and nothing reaches the upstream`, async () => {
      upstream.reset();
      const { text, closed } = await rawExchange(proxy.port, bytes, { idleMs: 150 });
      assert.deepEqual(statusLines(text), [status]);
      assert.equal(closed, true);
      assert.equal(upstream.bytes(), '');
    });
  }

  test('a body that looks like a request stays a body: the upstream sees one POST with that many bytes', async () => {
    upstream.reset();
    const inner = `GET /admin HTTP/1.1\r\n${H}\r\n`;
    const { text } = await rawExchange(proxy.port, `POST /form HTTP/1.1\r\n${H}Content-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`);
    assert.deepEqual(statusLines(text), [200]);
    assert.deepEqual(upstream.requests, ['POST /form']);
    assert.match(text, new RegExp(`body=${inner.length}`));
  });

  test('a valid chunked request is re-framed by the proxy; a pipelined request after it is forwarded on its own', async () => {
    upstream.reset();
    const { text } = await rawExchange(
      proxy.port,
      `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\nGET /b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    );
    assert.deepEqual(statusLines(text), [200, 200]);
    assert.deepEqual(upstream.requests, ['POST /a', 'GET /b']);
    const wire = upstream.bytes();
    assert.ok(!wire.includes('ext=1'), 'chunk extensions are not forwarded (the proxy writes its own framing)');
    assert.ok(wire.includes('5\r\nhello\r\n0\r\nx-trailer: t\r\n\r\n'), JSON.stringify(wire));
  });

  test('Transfer-Encoding: Chunked (case-insensitive) is accepted and re-framed', async () => {
    upstream.reset();
    const { text } = await rawExchange(proxy.port, `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    assert.deepEqual(statusLines(text), [200]);
    assert.match(upstream.bytes(), /\r\ntransfer-encoding: chunked\r\n/);
    assert.match(text, /body=3/);
  });

  test('a pipelined request after a rejected one is never forwarded', async () => {
    upstream.reset();
    const { text } = await rawExchange(proxy.port, `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxGET /smuggled HTTP/1.1\r\n${H}\r\n`);
    assert.deepEqual(statusLines(text), [400]);
    assert.equal(upstream.bytes(), '');
  });
});

describe('response smuggling: invalid upstream framing', () => {
  test('an upstream response with Content-Length and Transfer-Encoding is answered 502 and not passed on', async () => {
    const upstream = await startRawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n');
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const { text } = await rawExchange(proxy.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.deepEqual(statusLines(text), [502]);
    });
  });
});
