import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { denyPathPrefixes, prefixRouteTable, startFront, staticCluster, testHcm, testView } from '../../test/proxy/http2-harness.js';
import type { Front } from '../../test/proxy/http2-harness.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
  rstCode: number;
}

function* chunksOf(body: Buffer): Generator<Buffer> {
  for (let i = 0; i < body.length; i += 65536) yield body.subarray(i, i + 65536);
}

function request(client: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer, trailers?: OutgoingHttpHeaders): Promise<Reply> {
  return new Promise((resolve) => {
    const stream = client.request(headers, { endStream: body === undefined, waitForTrailers: trailers !== undefined });
    if (trailers) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    let responseHeaders: IncomingHttpHeaders = {};
    let responseTrailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (responseTrailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('close', () =>
      resolve({ status: Number(responseHeaders[':status'] ?? 0), headers: responseHeaders, body: Buffer.concat(chunks), trailers: responseTrailers, rstCode: stream.rstCode }),
    );
    if (body !== undefined) Readable.from(chunksOf(body)).pipe(stream);
  });
}

describe('HTTP/2 downstream to an HTTP/1.1 upstream cluster', () => {
  let upstream: http.Server;
  const upstreamSockets = new Set<Socket>();
  let connectionsAccepted = 0;
  let handler: Http2ConnectionHandler;
  let front: Front;
  let client: ClientHttp2Session;
  let hangSocketClosed: Promise<void> | undefined;
  let hangSeen: () => void = () => {};
  let lastRequest: { method: string; url: string; headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string> } | undefined;

  before(async () => {
    upstream = http.createServer({ keepAlive: true }, (req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      req.on('end', () => {
        lastRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, trailers: req.trailers };
        if (req.url === '/hang') {
          hangSocketClosed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
          hangSeen();
          return;
        }
        if (req.url === '/trailers') {
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
          res.write('body with trailers');
          res.addTrailers({ 'x-checksum': 'abc123' });
          res.end();
        } else if (req.url === '/die-mid-body') {
          res.writeHead(200, { 'content-length': '1000' });
          res.write('partial');
          setTimeout(() => req.socket.destroy(), 20);
        } else if (req.url === '/upload') {
          res.writeHead(200, { 'content-type': 'text/plain', 'x-length': String(length) });
          res.end(hash.digest('hex'));
        } else {
          res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-seen-path': req.url ?? '' });
          res.end(`h1 says ${req.method} ${req.url}`);
        }
      });
    });
    upstream.on('connection', (s: Socket) => {
      connectionsAccepted++;
      upstreamSockets.add(s);
      s.on('close', () => upstreamSockets.delete(s));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const cluster = staticCluster('h1-backend', [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port, weight: 1 }], { httpProtocol: 'http1' });
    const hcm = testHcm(prefixRouteTable([{ prefix: '/', cluster: 'h1-backend' }]), [denyPathPrefixes(['/admin'])]);
    handler = createHttp2ConnectionHandler();
    front = await startFront({ handler, view: testView([cluster]), hcm: () => hcm });
    client = http2.connect(front.url);
    client.on('error', () => {});
  });

  after(async () => {
    client.destroy();
    handler.close();
    handler.pool.destroy();
    await front.close();
    for (const s of upstreamSockets) s.destroy();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  test('a GET reaches the HTTP/1.1 upstream with Host from :authority and its response comes back without hop-by-hop fields', async () => {
    const reply = await request(client, { ':path': '/a/../hello?q=1', ':authority': 'svc.test', 'x-custom': '1' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'h1 says GET /hello?q=1');
    assert.equal(lastRequest?.headers.host, 'svc.test');
    assert.equal(lastRequest?.headers['x-custom'], '1');
    assert.equal(lastRequest?.headers['x-forwarded-proto'], 'http');
    assert.equal(reply.headers['keep-alive'], undefined);
    assert.equal(reply.headers.connection, undefined);
  });

  test('a denied path is answered 403 without reaching the upstream', async () => {
    lastRequest = undefined;
    const reply = await request(client, { ':path': '/admin' });
    assert.equal(reply.status, 403);
    assert.equal(reply.body.toString(), 'Access denied\r\n');
    assert.equal(lastRequest, undefined);
  });

  test('a 10 MB upload without content-length is sent chunked; with content-length it keeps its length', async () => {
    const body = Buffer.alloc(10 << 20, 0x61);
    const digest = createHash('sha256').update(body).digest('hex');
    const chunked = await request(client, { ':method': 'POST', ':path': '/upload' }, body);
    assert.equal(chunked.status, 200);
    assert.equal(chunked.body.toString(), digest);
    assert.equal(lastRequest?.headers['transfer-encoding'], 'chunked');
    const sized = await request(client, { ':method': 'POST', ':path': '/upload', 'content-length': String(body.length) }, body);
    assert.equal(sized.body.toString(), digest);
    assert.equal(lastRequest?.headers['content-length'], String(body.length));
  });

  test('request trailers travel in the last chunk and response trailers come back as HTTP/2 trailers', async () => {
    const reply = await request(client, { ':method': 'POST', ':path': '/trailers' }, Buffer.from('x'), { 'x-request-trailer': 'rq' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'body with trailers');
    assert.equal(reply.trailers?.['x-checksum'], 'abc123');
    assert.equal(lastRequest?.trailers['x-request-trailer'], 'rq');
  });

  test('sequential requests reuse one keep-alive upstream connection', async () => {
    const before = connectionsAccepted;
    for (let i = 0; i < 20; i++) {
      const reply = await request(client, { ':path': `/seq/${i}` });
      assert.equal(reply.status, 200);
    }
    assert.ok(connectionsAccepted - before <= 1, `opened ${connectionsAccepted - before} upstream connections for 20 sequential requests`);
  });

  test('an upstream that dies mid-body resets the client stream instead of ending it cleanly', async () => {
    const reply = await request(client, { ':path': '/die-mid-body' });
    assert.equal(reply.status, 200);
    assert.notEqual(reply.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  test('a client reset closes the upstream HTTP/1.1 connection of that request', async () => {
    const seen = new Promise<void>((resolve) => (hangSeen = resolve));
    const stream = client.request({ ':path': '/hang' }, { endStream: true });
    stream.on('error', () => {});
    await seen;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.ok(hangSocketClosed);
    await Promise.race([
      hangSocketClosed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('upstream connection not closed after the client reset')), 2_000)),
    ]);
  });

  test('clients resetting uploads and downloads mid-flight leave the proxy serving', async () => {
    const streams = Array.from({ length: 100 }, (_, i) => {
      const s = client.request({ ':method': 'POST', ':path': i % 2 === 0 ? '/upload' : `/r/${i}` });
      s.on('error', () => {});
      s.resume();
      s.write(Buffer.alloc(32 * 1024, 1));
      return s;
    });
    await Promise.all(
      streams.map(
        (s, i) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              if (!s.closed) s.close(http2.constants.NGHTTP2_CANCEL);
              resolve();
            }, i % 9),
          ),
      ),
    );
    const reply = await request(client, { ':path': '/after-resets' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'h1 says GET /after-resets');
  });
});
