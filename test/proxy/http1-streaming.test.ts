import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request, Agent, WebSocket } from 'undici';
import { hcmJson, rawExchange, routesJson, startEchoUpstream, startProxy, startRawUpstream, staticClusterJson, statusLines, withBackendProxy } from './http1-harness.js';

const execFileAsync = promisify(execFile);
const MB = 1024 * 1024;

/** A Readable producing `total` bytes in 64 KiB pieces, on demand (never more than asked). */
function generated(total: number): Readable {
  let sent = 0;
  const piece = Buffer.alloc(64 * 1024, 0x61);
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(piece.length, total - sent);
      sent += n;
      this.push(n === piece.length ? piece : piece.subarray(0, n));
    },
  });
}

describe('HTTP/1.1 proxy: streamed bodies', () => {
  test('a 50 MB upload and a 50 MB chunked download stream through whole', async () => {
    const upstream = await startEchoUpstream((req, res) => {
      let received = 0;
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => {
        if (req.url === '/download') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no length
          generated(50 * MB).pipe(res);
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(String(received));
        }
      });
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const agent = new Agent();
      try {
        const up = await request(`http://127.0.0.1:${proxy.port}/upload`, { dispatcher: agent, method: 'POST', body: generated(50 * MB), headers: { 'content-length': String(50 * MB) } });
        assert.equal(up.statusCode, 200);
        assert.equal(await up.body.text(), String(50 * MB));
        const chunkedUp = await request(`http://127.0.0.1:${proxy.port}/upload`, { dispatcher: agent, method: 'POST', body: generated(20 * MB) });
        assert.equal(await chunkedUp.body.text(), String(20 * MB));
        const down = await request(`http://127.0.0.1:${proxy.port}/download`, { dispatcher: agent });
        assert.equal(down.statusCode, 200);
        assert.equal(down.headers['transfer-encoding'], 'chunked');
        let bytes = 0;
        for await (const chunk of down.body) bytes += (chunk as Buffer).length;
        assert.equal(bytes, 50 * MB);
      } finally {
        await agent.close();
      }
    });
  });

  test('a client that stops reading stalls the upstream: the proxy does not buffer the response', async () => {
    let produced = 0;
    const upstream = await startEchoUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(200 * MB) });
      const piece = Buffer.alloc(64 * 1024, 0x62);
      const pump = (): void => {
        while (produced < 200 * MB) {
          produced += piece.length;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      try {
        socket.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
        socket.pause(); // never read
        await new Promise((resolve) => setTimeout(resolve, 800));
        // What is in flight is bounded by socket buffers (kernel and user space), far below the body.
        assert.ok(produced < 48 * MB, `the upstream produced ${Math.round(produced / MB)} MB while the client read nothing`);
      } finally {
        socket.destroy();
      }
    });
  });

  test('an upstream that stops reading stalls the client upload: the proxy does not buffer the request', async () => {
    const upstream = await startRawUpstream((socket) => socket.pause());
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      let written = 0;
      try {
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(`POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${200 * MB}\r\n\r\n`);
        const piece = Buffer.alloc(64 * 1024, 0x63);
        const deadline = Date.now() + 800;
        while (Date.now() < deadline && written < 200 * MB) {
          if (socket.write(piece)) written += piece.length;
          else {
            written += piece.length;
            await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), new Promise((resolve) => setTimeout(resolve, 100))]);
          }
        }
        assert.ok(written < 48 * MB, `the client could write ${Math.round(written / MB)} MB while the upstream read nothing`);
      } finally {
        socket.destroy();
      }
    });
  });

  test('Expect: 100-continue is answered by the proxy and the body then reaches the upstream (curl)', async () => {
    const upstream = await startEchoUpstream();
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const { stdout, stderr } = await execFileAsync('curl', ['-sv', '--max-time', '5', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(2048), `http://127.0.0.1:${proxy.port}/post`]);
      assert.match(stderr, /HTTP\/1\.1 100 Continue/);
      assert.equal((JSON.parse(stdout) as { bodyBytes: number; headers: Record<string, string> }).bodyBytes, 2048);
      assert.equal((JSON.parse(stdout) as { headers: Record<string, string> }).headers['expect'], undefined, 'Expect is not forwarded (proxy_100_continue off)');
    });
  });

  test('a response streams to the client before the upstream finished it', async () => {
    let finishResponse: (() => void) | undefined;
    const upstream = await startEchoUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      finishResponse = () => res.end('last');
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const res = await request(`http://127.0.0.1:${proxy.port}/stream`);
      const iterator = res.body[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.equal(Buffer.from(first.value as Buffer).toString(), 'first;');
      finishResponse?.();
      let rest = '';
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest += Buffer.from(r.value as Buffer).toString();
      assert.equal(rest, 'last');
    });
  });
});

/** A request head announcing 10 body bytes, then only 3 of them. */
const STALLED_BODY = 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc';

/** Sends `bytes` to a proxy (configured by `options`, in front of an echo upstream): answered 408, then closed. */
async function assertAnswered408AndClosed(options: { hcm: Record<string, unknown>; routes?: unknown }, bytes: string): Promise<void> {
  await withBackendProxy(await startEchoUpstream(), options, async (proxy) => {
    const { text, closed } = await rawExchange(proxy.port, bytes, { idleMs: 1500 });
    assert.deepEqual(statusLines(text), [408]);
    assert.equal(closed, true);
  });
}

describe('HTTP/1.1 proxy: timeouts and failures', () => {
  test('a route timeout answers 504 when the upstream does not answer in time', async () => {
    const upstream = await startEchoUpstream(() => {
      /* never answers */
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]), routes: routesJson([{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '0.2s' } }]) }, async (proxy) => {
      const started = Date.now();
      const { text } = await rawExchange(proxy.port, 'GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { idleMs: 1500 });
      assert.deepEqual(statusLines(text), [504]);
      assert.match(text, /upstream request timeout/);
      assert.ok(Date.now() - started < 1500);
    });
  });

  test('the stream idle timeout answers 408 to a request whose body stalls', async () => {
    await assertAnswered408AndClosed({ hcm: hcmJson([], { stream_idle_timeout: '0.2s' }) }, STALLED_BODY);
  });

  test("a route's idle_timeout replaces the stream idle timeout for its requests", async () => {
    const routes = routesJson([{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '0s', idle_timeout: '0.2s' } }]);
    await assertAnswered408AndClosed({ hcm: hcmJson([]), routes }, STALLED_BODY);
  });

  test('max_connection_duration closes a keep-alive connection after its current request', async () => {
    const upstream = await startEchoUpstream();
    await withBackendProxy(upstream, { hcm: hcmJson([], { common_http_protocol_options: { max_connection_duration: '0.2s' } }) }, async (proxy) => {
      const started = Date.now();
      const { text, closed } = await rawExchange(proxy.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 2000 });
      assert.deepEqual(statusLines(text), [200]);
      assert.equal(closed, true);
      assert.ok(Date.now() - started < 1500, `closed after ${Date.now() - started} ms`);
    });
  });

  test('the request headers timeout answers 408 to a head that never completes', async () => {
    await assertAnswered408AndClosed({ hcm: hcmJson([], { request_headers_timeout: '0.2s' }) }, 'GET /x HTTP/1.1\r\nHost: a\r\n');
  });

  test('a request on a reused connection that the upstream closes unanswered is retried once if safe, else 503', async () => {
    // Each upstream connection answers its first request and dies silently on its second one.
    const upstream = await startRawUpstream((socket, _d, all) => {
      const heads = all.toString('latin1').split('\r\n\r\n').length - 1;
      if (heads === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else if (heads >= 2) socket.destroy();
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const { text } = await rawExchange(proxy.port, 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.deepEqual(statusLines(text), [200, 200], 'the GET was retried on a new connection');
      assert.equal(upstream.received.length, 2);
      const post = await rawExchange(proxy.port, 'GET /3 HTTP/1.1\r\nHost: a\r\n\r\nPOST /4 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx');
      assert.deepEqual(statusLines(post.text), [200, 503], 'a POST is not replayed');
    });
  });

  test('a client that goes away mid-response makes the proxy close the upstream connection', async () => {
    let upstreamClosed: (() => void) | undefined;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = await startEchoUpstream((req, res) => {
      res.writeHead(200);
      res.write('partial');
      req.socket.on('close', () => upstreamClosed?.());
    });
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.destroy();
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('upstream connection was not closed')), 2000))]);
    });
  });
});

// ---- WebSocket --------------------------------------------------------------------------------

/** A minimal WebSocket echo upstream (RFC 6455 handshake; small unfragmented frames only). */
async function startWebSocketEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  server.on('upgrade', (req, socket: net.Socket) => {
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let buffered = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 6) {
        const opcode = buffered[0]! & 0x0f;
        const len = buffered[1]! & 0x7f;
        if (len >= 126 || buffered.length < 6 + len) return;
        const mask = buffered.subarray(2, 6);
        const payload = Buffer.from(buffered.subarray(6, 6 + len));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
        buffered = buffered.subarray(6 + len);
        if (opcode === 0x8) {
          socket.end(Buffer.from([0x88, 0x00]));
          return;
        }
        socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('HTTP/1.1 proxy: WebSocket and CONNECT', () => {
  test('a WebSocket upgrade allowed by upgrade_configs is tunneled (undici WebSocket echo)', async () => {
    const upstream = await startWebSocketEcho();
    await withBackendProxy(upstream, { hcm: hcmJson([], { upgrade_configs: [{ upgrade_type: 'websocket' }] }) }, async (proxy) => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
      const messages: string[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => {
          ws.send('hello');
          ws.send('again');
        };
        ws.onmessage = (e) => {
          messages.push(String(e.data));
          if (messages.length === 2) ws.close();
        };
        ws.onclose = () => resolve();
        ws.onerror = (e) => reject(new Error(`websocket error: ${String((e as unknown as { message?: string }).message)}`));
        setTimeout(() => reject(new Error('websocket timed out')), 3000);
      });
      assert.deepEqual(messages, ['hello', 'again']);
    });
  });

  test('a WebSocket upgrade without upgrade_configs is refused with 403, as Envoy does', async () => {
    const upstream = await startWebSocketEcho();
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const { text, closed } = await rawExchange(
        proxy.port,
        'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      assert.deepEqual(statusLines(text), [403]);
      assert.equal(closed, true);
    });
  });

  test('CONNECT is refused with 403 unless allowed, and tunnels bytes when the upstream accepts it', async () => {
    // The upstream plays an HTTP proxy: 200 to CONNECT, then echoes bytes.
    const upstream = await startRawUpstream((socket, d, all) => {
      if (!socket.readableFlowing) return;
      const text = all.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      if (all.length - d.length <= headEnd) {
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        const rest = all.subarray(headEnd + 4);
        if (rest.length > 0) socket.write(rest);
      } else socket.write(d);
    });
    const refused = await startProxy({ hcm: hcmJson([]), clusters: [staticClusterJson('backend', upstream.port)] });
    const allowed = await startProxy({
      hcm: hcmJson([], { upgrade_configs: [{ upgrade_type: 'CONNECT' }] }),
      routes: routesJson([{ match: { connect_matcher: {} }, route: { cluster: 'backend', timeout: '0s' } }]),
      clusters: [staticClusterJson('backend', upstream.port)],
    });
    try {
      const no = await rawExchange(refused.port, 'CONNECT db.local:5432 HTTP/1.1\r\nHost: db.local:5432\r\n\r\n');
      assert.deepEqual(statusLines(no.text), [403]);
      // Flow records reach every subscriber in the process: forget the refused CONNECT's.
      allowed.flows.length = 0;
      const yes = await rawExchange(allowed.port, 'CONNECT db.local:5432 HTTP/1.1\r\nHost: db.local:5432\r\n\r\nping');
      assert.deepEqual(statusLines(yes.text), [200]);
      assert.ok(yes.text.endsWith('\r\n\r\nping'), JSON.stringify(yes.text));
      assert.match(upstream.received.flat().map((b) => b.toString('latin1')).join(''), /^CONNECT db\.local:5432 HTTP\/1\.1\r\n/);
      // The client went away: the tunnel closes and its exchange publishes one flow record (bounded wait).
      const isTunnelFlow = (f: (typeof allowed.flows)[number]): boolean => f.type === 'http' && f.http.method === 'CONNECT';
      for (const deadline = Date.now() + 2000; !allowed.flows.some(isTunnelFlow) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      const tunnelFlows = allowed.flows.filter(isTunnelFlow);
      assert.equal(tunnelFlows.length, 1, 'one flow record for the closed tunnel');
      const flow = tunnelFlows[0]!;
      assert.ok(flow.type === 'http');
      assert.equal(flow.verdict, 'FORWARDED');
      assert.equal(flow.http.status, 200);
      assert.equal(flow.upstream?.cluster, 'backend');
    } finally {
      await refused.close();
      await allowed.close();
      await upstream.close();
    }
  });
});
