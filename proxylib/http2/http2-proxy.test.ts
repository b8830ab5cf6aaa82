import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { subscribeFlows } from '../flow/index.js';
import type { HttpFlowRecord } from '../flow/index.js';
import type { HcmConfig } from '../config/types.js';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { denyPathPrefixes, prefixRouteTable, startFront, staticCluster, testClock, testHcm, testView, withTimeout } from '../../test/proxy/http2-harness.js';
import type { Front } from '../../test/proxy/http2-harness.js';

const { NGHTTP2_CANCEL } = http2.constants;

interface Upstream {
  port: number;
  /** Sessions the upstream accepted (the proxy's pool should open few). */
  sessions: number;
  /** Headers of every stream it saw, in arrival order. */
  seen: IncomingHttpHeaders[];
  /** Resolves with the rstCode of the next stream the upstream sees closed by the peer. */
  nextStreamClose(): Promise<number>;
  close(): Promise<void>;
}

/** An HTTP/2 (h2c) upstream whose behaviour per path is given by `routes`. */
async function startUpstream(routes: Record<string, (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void>): Promise<Upstream> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  let sessionCount = 0;
  const seen: IncomingHttpHeaders[] = [];
  let closeWaiters: Array<(code: number) => void> = [];
  server.on('session', (s) => {
    sessionCount++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.on('error', () => {});
    stream.on('close', () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        const waiters = closeWaiters;
        closeWaiters = [];
        for (const w of waiters) w(stream.rstCode);
      }
    });
    const path = String(headers[':path']).split('?')[0] ?? '';
    const handler = routes[path] ?? routes['*'];
    if (handler) handler(stream, headers);
    else {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-upstream-path': String(headers[':path']) });
      stream.end(`hello ${String(headers[':path'])}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get sessions() {
      return sessionCount;
    },
    seen,
    nextStreamClose: () => new Promise<number>((resolve) => closeWaiters.push(resolve)),
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
}

function request(client: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string, requestTrailers?: OutgoingHttpHeaders): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = client.request(headers, { endStream: body === undefined && requestTrailers === undefined, waitForTrailers: requestTrailers !== undefined });
    if (requestTrailers) stream.once('wantTrailers', () => stream.sendTrailers(requestTrailers));
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    // Written in 64 KiB chunks with backpressure: one huge write would count against the client
    // session's own maxSessionMemory (10 MB) and nghttp2 would answer ENHANCE_YOUR_CALM.
    if (body !== undefined) Readable.from(chunksOf(Buffer.from(body))).pipe(stream);
    else if (requestTrailers !== undefined) stream.end();
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function* chunksOf(body: Buffer): Generator<Buffer> {
  for (let i = 0; i < body.length; i += 65536) yield body.subarray(i, i + 65536);
}

describe('HTTP/2 proxy over h2c prior knowledge', () => {
  let upstream: Upstream;
  let handler: Http2ConnectionHandler;
  let front: Front;
  let hcm: HcmConfig | undefined;
  let refusals = 0;
  const clients: ClientHttp2Session[] = [];
  const connect = (): ClientHttp2Session => {
    const c = http2.connect(front.url);
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  before(async () => {
    upstream = await startUpstream({
      '/echo': (stream) => {
        // Streams the request body back, with a digest trailer of what it received.
        const hash = createHash('sha256');
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('data', (c: Buffer) => hash.update(c));
        stream.once('wantTrailers', () => stream.sendTrailers({ 'x-digest': hash.digest('hex') }));
        stream.pipe(stream);
      },
      '/trailers': (stream) => {
        let received: IncomingHttpHeaders | undefined;
        stream.on('trailers', (t) => (received = t));
        stream.resume();
        stream.on('end', () => {
          stream.respond({ ':status': 200 }, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'x-got-request-trailer': String(received?.['x-request-trailer']), 'x-response-trailer': 'yes' }));
          stream.end('with trailers');
        });
      },
      '/slow': (stream) => {
        // Answers after 300 ms: long enough to be cancelled first.
        const t = setTimeout(() => {
          if (!stream.destroyed && !stream.closed) {
            stream.respond({ ':status': 200 });
            stream.end('slow');
          }
        }, 300);
        stream.on('close', () => clearTimeout(t));
      },
      '/hang': () => {
        // Never answers.
      },
      '/timeout/hang': () => {
        // Never answers either (routed with a 200 ms route timeout).
      },
      '/idle/hang': () => {
        // Never answers (routed with a 200 ms route idle_timeout).
      },
      '/reset-before-headers': (stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
      '/refuse-once': (stream) => {
        refusals++;
        if (refusals === 1) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        else {
          stream.respond({ ':status': 200 });
          stream.end(`answered after ${refusals - 1} refusal`);
        }
      },
      '/reset-after-headers': (stream) => {
        stream.respond({ ':status': 200 });
        stream.write('partial');
        // destroy(err) resets at once (RST_STREAM INTERNAL_ERROR); close(code) would first end the
        // body cleanly, which the client would rightly see as a complete response.
        setTimeout(() => stream.destroy(new Error('upstream failure mid-body')), 20);
      },
    });
    const cluster = staticCluster('backend', [{ address: '127.0.0.1', port: upstream.port, weight: 1 }]);
    // A port that was just free: nothing listens there (a fixed low port may be in use by other tests).
    const deadPort = await freePort();
    const dead = staticCluster('dead', [{ address: '127.0.0.1', port: deadPort, weight: 1 }]);
    const view = testView([cluster, dead]);
    hcm = testHcm(
      prefixRouteTable([
        { prefix: '/dead', cluster: 'dead' },
        { prefix: '/timeout', cluster: 'backend', timeoutMs: 200 },
        { prefix: '/idle', cluster: 'backend', idleTimeoutMs: 200 },
        { prefix: '/', cluster: 'backend' },
      ]),
      [denyPathPrefixes(['/admin'])],
    );
    handler = createHttp2ConnectionHandler();
    front = await startFront({ handler, view, hcm: () => hcm });
  });

  after(async () => {
    for (const c of clients) c.destroy();
    handler.pool.destroy();
    await front.close();
    await upstream.close();
  });

  test('a GET is forwarded with its path, authority and x-forwarded-proto, and the upstream response comes back', async () => {
    const client = connect();
    const reply = await request(client, { ':path': '/hello?x=1', ':authority': 'svc.example:8080', 'x-custom': 'v' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'hello /hello?x=1');
    assert.equal(reply.headers['x-upstream-path'], '/hello?x=1');
    const seen = upstream.seen.at(-1);
    assert.equal(seen?.[':authority'], 'svc.example:8080');
    assert.equal(seen?.['x-custom'], 'v');
    assert.equal(seen?.['x-forwarded-proto'], 'http');
  });

  test('the path is normalized before matching and the normalized path is forwarded', async () => {
    const client = connect();
    const reply = await request(client, { ':path': '/a/./b/../c//d' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-upstream-path'], '/a/c/d');
  });

  test('a path denied by an RBAC rule gets 403 with body Access denied, also behind dot segments', async () => {
    const client = connect();
    const before = upstream.seen.length;
    for (const path of ['/admin', '/admin/users', '/public/../admin', '//admin']) {
      const reply = await request(client, { ':path': path });
      assert.equal(reply.status, 403, path);
      assert.equal(reply.body.toString(), 'Access denied\r\n', path);
    }
    assert.equal(upstream.seen.length, before, 'nothing denied reached the upstream');
  });

  test('a 20 MB request body streams to the upstream and back with matching digests', async () => {
    const client = connect();
    const body = Buffer.alloc(20 << 20);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const reply = await withTimeout(request(client, { ':method': 'POST', ':path': '/echo' }, body), 20_000, 'echo 20 MB');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, body.length);
    const digest = createHash('sha256').update(body).digest('hex');
    assert.equal(createHash('sha256').update(reply.body).digest('hex'), digest);
    assert.equal(reply.trailers?.['x-digest'], digest, 'the response trailer came through');
  });

  test('request trailers reach the upstream and response trailers reach the client', async () => {
    const client = connect();
    const reply = await request(client, { ':method': 'POST', ':path': '/trailers' }, undefined, { 'x-request-trailer': 'rq' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'with trailers');
    assert.equal(reply.trailers?.['x-got-request-trailer'], 'rq');
    assert.equal(reply.trailers?.['x-response-trailer'], 'yes');
  });

  test('200 concurrent streams from 4 client connections share one upstream session', async () => {
    const sessionsBefore = upstream.sessions;
    const before = handler.pool.stats().sessionsOpened.get(`backend|127.0.0.1|${upstream.port}||http2`) ?? 0;
    const conns = [connect(), connect(), connect(), connect()];
    const replies = await withTimeout(
      Promise.all(Array.from({ length: 200 }, (_, i) => request(conns[i % 4] as ClientHttp2Session, { ':path': `/m/${i}` }))),
      15_000,
      '200 streams',
    );
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `hello /m/${i}`);
    }
    const after = handler.pool.stats().sessionsOpened.get(`backend|127.0.0.1|${upstream.port}||http2`) ?? 0;
    // The pool caps streams per session at 100 (the default): 200 in flight need at most 2 new sessions.
    assert.ok(after - before <= 2, `pool opened ${after - before} sessions for 200 streams`);
    assert.ok(upstream.sessions - sessionsBefore <= 2, `upstream accepted ${upstream.sessions - sessionsBefore} sessions`);
  });

  test('a client reset cancels the upstream stream with RST_STREAM CANCEL', async () => {
    const client = connect();
    const closed = upstream.nextStreamClose();
    const stream = client.request({ ':path': '/hang' }, { endStream: true });
    stream.on('error', () => {});
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (upstream.seen.at(-1)?.[':path'] === '/hang') resolve();
          else setTimeout(check, 5);
        };
        check();
      }),
      2_000,
      'upstream saw /hang',
    );
    stream.close(NGHTTP2_CANCEL);
    assert.equal(await withTimeout(closed, 2_000, 'upstream stream closed'), NGHTTP2_CANCEL);
  });

  test('an upstream reset before any header becomes 503, after headers a reset of the client stream', async () => {
    const client = connect();
    const early = await request(client, { ':path': '/reset-before-headers' });
    assert.equal(early.status, 503);
    assert.match(early.body.toString(), /reset before headers/);

    const late = client.request({ ':path': '/reset-after-headers' }, { endStream: true });
    const outcome = await withTimeout(
      new Promise<{ status: number; rstCode: number }>((resolve) => {
        let status = 0;
        late.on('response', (h) => (status = Number(h[':status'])));
        late.on('error', () => {});
        late.resume();
        late.on('close', () => resolve({ status, rstCode: late.rstCode }));
      }),
      2_000,
      'late reset',
    );
    assert.equal(outcome.status, 200);
    assert.equal(outcome.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  });

  test('a bodyless request the upstream refuses (REFUSED_STREAM) is retried once and answered', async () => {
    const reply = await request(connect(), { ':path': '/refuse-once' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'answered after 1 refusal');
  });

  test('an unreachable upstream gives 503 and a gRPC request UNAVAILABLE (14) trailers-only', async () => {
    const client = connect();
    const reply = await request(client, { ':path': '/dead' });
    assert.equal(reply.status, 503);
    assert.match(reply.body.toString(), /connection failure/);
    const grpc = await request(client, { ':method': 'POST', ':path': '/dead/Svc/Method', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
    assert.equal(grpc.status, 200);
    assert.equal(grpc.headers['grpc-status'], '14');
    assert.equal(grpc.body.length, 0);
  });

  test('a route timeout answers 504 when the upstream has not responded and cancels the upstream stream', async () => {
    const client = connect();
    const closed = upstream.nextStreamClose();
    const started = Date.now();
    const reply = await withTimeout(request(client, { ':path': '/timeout/hang' }), 3_000, 'route timeout');
    assert.equal(reply.status, 504);
    assert.equal(reply.body.toString(), 'upstream request timeout');
    // The shared coarse clock may fire up to one tick early (its now() is cached per tick).
    assert.ok(Date.now() - started >= 200 - testClock.tickMs, `not before the route timeout (${Date.now() - started} ms)`);
    assert.equal(await withTimeout(closed, 2_000, 'upstream cancelled'), NGHTTP2_CANCEL);
  });

  test('a stream idle for longer than the route idle_timeout is answered 408 stream timeout', async () => {
    const client = connect();
    const reply = await withTimeout(request(client, { ':path': '/idle/hang' }), 3_000, 'idle timeout');
    assert.equal(reply.status, 408);
    assert.equal(reply.body.toString(), 'stream timeout');
  });

  test('a flow record per stream names verdict, policy, path and status', async () => {
    const records: HttpFlowRecord[] = [];
    const unsubscribe = subscribeFlows((r) => {
      if (r.type === 'http') records.push(r);
    });
    try {
      const client = connect();
      await request(client, { ':path': '/flow-ok' });
      await request(client, { ':path': '/admin/x' });
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => (records.length >= 2 ? resolve() : void setTimeout(check, 5));
          check();
        }),
        2_000,
        'two flow records',
      );
    } finally {
      unsubscribe();
    }
    const ok = records.find((r) => r.http.path === '/flow-ok');
    const denied = records.find((r) => r.http.path === '/admin/x');
    assert.equal(ok?.verdict, 'FORWARDED');
    assert.equal(ok?.http.status, 200);
    assert.equal(ok?.http.version, 'HTTP/2');
    assert.equal(ok?.upstream?.cluster, 'backend');
    assert.equal(denied?.verdict, 'DENIED');
    assert.equal(denied?.http.status, 403);
    assert.equal(denied?.policy, 'deny-0');
    assert.equal(denied?.reason, 'rbac_denied');
  });

  test('a client resetting hundreds of streams while responses are in flight does not crash the proxy', async () => {
    const client = connect();
    const streams = Array.from({ length: 300 }, (_, i) => {
      const s = client.request({ ':path': i % 2 === 0 ? '/slow' : `/fast/${i}` }, { endStream: true });
      s.on('error', () => {});
      s.resume();
      return s;
    });
    // Reset them at staggered moments: before the upstream stream exists, while waiting, mid-response.
    await Promise.all(
      streams.map(
        (s, i) =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              if (!s.closed) s.close(NGHTTP2_CANCEL);
              resolve();
            }, i % 7);
          }),
      ),
    );
    // The proxy still serves.
    const reply = await withTimeout(request(connect(), { ':path': '/after-resets' }), 3_000, 'request after resets');
    assert.equal(reply.status, 200);
  });

  test('draining sends GOAWAY: the in-flight stream completes and the connection then closes', async () => {
    const client = connect();
    const goaway = new Promise<void>((resolve) => client.once('goaway', () => resolve()));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const seenBefore = upstream.seen.length;
    const inflight = request(client, { ':path': '/slow' });
    // Drain only once the stream is in flight upstream (so the connection surely was handed over).
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => (upstream.seen.length > seenBefore ? resolve() : void setTimeout(check, 5));
        check();
      }),
      2_000,
      'upstream saw /slow',
    );
    front.drainAll();
    await withTimeout(goaway, 2_000, 'GOAWAY');
    const reply = await withTimeout(inflight, 2_000, 'in-flight stream');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'slow');
    await withTimeout(closed, 2_000, 'connection closed after drain');
  });

  test('max_connection_duration drains a connection with GOAWAY once it has lived that long', async () => {
    const saved = hcm;
    hcm = saved === undefined ? undefined : { ...saved, maxConnectionDurationMs: 150 };
    try {
      const client = connect();
      const goaway = new Promise<void>((resolve) => client.once('goaway', () => resolve()));
      const reply = await request(client, { ':path': '/short-lived' });
      assert.equal(reply.status, 200);
      await withTimeout(goaway, 2_000, 'GOAWAY after max_connection_duration');
    } finally {
      hcm = saved;
    }
  });

  test('a connection whose filter chain is gone refuses new streams', async () => {
    const client = connect();
    await request(client, { ':path': '/before-removal' });
    const saved = hcm;
    hcm = undefined;
    try {
      const outcome = await withTimeout(
        new Promise<number>((resolve) => {
          const s = client.request({ ':path': '/after-removal' }, { endStream: true });
          s.on('error', () => {});
          s.resume();
          s.on('close', () => resolve(s.rstCode));
        }),
        2_000,
        'refused stream',
      );
      assert.equal(outcome, http2.constants.NGHTTP2_REFUSED_STREAM);
    } finally {
      hcm = saved;
    }
  });
});
