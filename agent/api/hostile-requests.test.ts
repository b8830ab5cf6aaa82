// Requests a broken or hostile local client could send: garbage bytes, lies about the body
// length, bodies over the limit, clients too slow to send or to read. The server must answer
// or close each, never crash, and keep serving everyone else. Bounded in count and time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, startApiServer } from './index.js';
import type { ApiRoute, ApiServer } from './index.js';

const PING: ApiRoute = { method: 'GET', path: '/v1/ping', handler: async () => ({ ok: true }) };

async function withServer(routes: ApiRoute[], body: (socketPath: string, server: ApiServer) => Promise<void>, timeouts: { headersTimeoutMs?: number; requestTimeoutMs?: number } = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshd-api-hostile-'));
  const socketPath = join(dir, 'meshd.sock');
  const server = await startApiServer({ socketPath, routes: [PING, ...routes], logger: { warn: () => undefined }, ...timeouts });
  try {
    await body(socketPath, server);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `chunks` and collects the answer until the server closes or `waitMs` passes. */
function exchange(socketPath: string, chunks: Array<string | Buffer>, waitMs = 1000): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let text = '';
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
    });
  });
}

async function assertStillServing(socketPath: string): Promise<void> {
  const client = new ApiClient({ socketPath, timeoutMs: 2000 });
  try {
    assert.deepEqual(await client.get('/v1/ping'), { ok: true });
  } finally {
    client.close();
  }
}

/** Small deterministic PRNG (mulberry32): the same garbage on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = 'POST /v1/echo HTTP/1.1\r\nhost: meshd\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"a":[1,2,3]}';

describe('the API server under hostile requests', () => {
  test('survives 150 mutated and random requests and keeps serving', async () => {
    const echo: ApiRoute = { method: 'POST', path: '/v1/echo', handler: async (r) => r.body };
    await withServer([echo], async (socketPath) => {
      const random = prng(0x6d657368);
      const statuses = new Map<string, number>();
      for (let i = 0; i < 150; i++) {
        const bytes = Buffer.from(VALID, 'latin1');
        if (i % 3 === 0) {
          // Pure noise.
          const noise = Buffer.alloc(1 + Math.floor(random() * 300));
          for (let j = 0; j < noise.length; j++) noise[j] = Math.floor(random() * 256);
          bytes.set(noise.subarray(0, Math.min(noise.length, bytes.length)));
        } else {
          // A few flipped, dropped or duplicated bytes of a valid request.
          const flips = 1 + Math.floor(random() * 4);
          for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        }
        const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
        const { text } = await exchange(socketPath, [cut], 100);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'none';
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      // Every answer the server gave is a well-formed status; most garbage is refused with 400.
      for (const s of statuses.keys()) assert.match(s, /^(none|[1-5]\d\d)$/);
      assert.ok((statuses.get('400') ?? 0) > 10, JSON.stringify([...statuses]));
      await assertStillServing(socketPath);
    });
  });

  test('refuses a body whose Content-Length is over the limit without reading it', async () => {
    await withServer([{ method: 'POST', path: '/v1/in', handler: async () => 'read' }], async (socketPath) => {
      const { text, closedByServer } = await exchange(socketPath, ['POST /v1/in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10737418240\r\n\r\n{"a":'], 2000);
      assert.match(text, /^HTTP\/1\.1 413/);
      assert.match(text, /MESHD_ERR_API_BODY_TOO_LARGE/);
      assert.ok(closedByServer, 'the server should close the connection instead of reading 10 GiB');
      await assertStillServing(socketPath);
    });
  });

  test('cuts off a chunked body once it passes the limit', async () => {
    await withServer([{ method: 'POST', path: '/v1/in', handler: async () => 'read' }], async (socketPath) => {
      const chunk = 'x'.repeat(1024 * 1024);
      const parts: string[] = ['POST /v1/in HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n'];
      for (let i = 0; i < 6; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      const { text, closedByServer } = await exchange(socketPath, parts, 3000);
      assert.match(text, /^HTTP\/1\.1 413/);
      assert.ok(closedByServer);
      await assertStillServing(socketPath);
    });
  });

  test('answers bodies that are not JSON with 400, whatever they hold', async () => {
    await withServer([{ method: 'POST', path: '/v1/in', handler: async () => 'read' }], async (socketPath) => {
      const bodies = ['{', 'nul', '[1,]', '\u0000', '{"a":1}{"b":2}', '\ufeff{}', '['.repeat(100_000), '"unterminated'];
      for (const b of bodies) {
        const bytes = Buffer.from(b, 'utf8');
        const { text } = await exchange(socketPath, [Buffer.concat([Buffer.from(`POST /v1/in HTTP/1.1\r\nhost: x\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n\r\n`), bytes])]);
        assert.match(text, /^HTTP\/1\.1 400/, `body ${JSON.stringify(b.slice(0, 20))}: ${text.slice(0, 200)}`);
        assert.match(text, /MESHD_ERR_API_BAD_REQUEST/);
      }
      await assertStillServing(socketPath);
    });
  });

  test('answers odd targets and methods with a coded 4xx', async () => {
    await withServer([], async (socketPath) => {
      const targets = ['/%zz', '*', 'http://other/v1/ping?x=1', '/v1/ping/../ping', `/${'a'.repeat(8000)}`, '/v1/ping?%%%', '//v1//ping'];
      for (const t of targets) {
        const { text } = await exchange(socketPath, [`GET ${t} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`]);
        assert.match(text, /^HTTP\/1\.1 (200|4\d\d)/, `${t.slice(0, 40)} → ${text.slice(0, 120)}`);
      }
      for (const m of ['PUT', 'PATCH', 'HEAD', 'OPTIONS', 'BREW']) {
        const { text } = await exchange(socketPath, [`${m} /v1/ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`]);
        assert.match(text, /^HTTP\/1\.1 (405|400)/, `${m} → ${text.slice(0, 120)}`);
      }
      await assertStillServing(socketPath);
    });
  });

  test('closes a client that sends its headers too slowly, and serves others meanwhile', async () => {
    await withServer(
      [],
      async (socketPath) => {
        const slow = connect(socketPath);
        let closed = false;
        slow.on('close', () => (closed = true));
        slow.on('error', () => undefined);
        let answer = '';
        slow.on('data', (d: Buffer) => (answer += d.toString()));
        const started = Date.now();
        const trickle = setInterval(() => slow.writable && slow.write('x'), 50);
        try {
          slow.write('GET /v1/ping HTTP/1.1\r\nx-slow: ');
          await assertStillServing(socketPath);
          while (!closed && Date.now() - started < 5000) await sleep(20);
          assert.ok(closed, 'the slow client was not cut off');
          assert.match(answer, /^HTTP\/1\.1 408 .*MESHD_ERR_API_BAD_REQUEST/s);
        } finally {
          clearInterval(trickle);
          slow.destroy();
        }
        await assertStillServing(socketPath);
      },
      { headersTimeoutMs: 300, requestTimeoutMs: 300 },
    );
  });

  test('paces a stream to a client that does not read, and releases it when the client goes', async () => {
    let produced = 0;
    let returned = false;
    const big = 'y'.repeat(64 * 1024);
    async function* flood() {
      try {
        for (; produced < 10_000; ) {
          produced++;
          yield { big };
        }
      } finally {
        returned = true;
      }
    }
    await withServer([{ method: 'GET', path: '/v1/flood', handler: () => flood() }], async (socketPath) => {
      const s = connect(socketPath);
      s.on('error', () => undefined);
      s.write('GET /v1/flood HTTP/1.1\r\nhost: x\r\n\r\n');
      s.pause();
      await sleep(500);
      const whilePaused = produced;
      await sleep(300);
      // Paced by the socket: it stopped producing once the buffers filled.
      assert.equal(produced, whilePaused, 'the server kept producing for a client that does not read');
      assert.ok(produced < 200, `produced ${produced} items of 64 KiB for a client that read none`);
      (s as Socket).destroy();
      const until = Date.now() + 3000;
      while (!returned && Date.now() < until) await sleep(10);
      assert.ok(returned, 'the iterator was not returned after the client left');
      await assertStillServing(socketPath);
    });
  });

  test('survives 50 clients that open a request and vanish', async () => {
    await withServer([{ method: 'POST', path: '/v1/in', handler: async (r) => r.body }], async (socketPath) => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          new Promise<void>((resolve) => {
            const s = connect(socketPath);
            s.on('error', () => undefined);
            s.on('close', () => resolve());
            s.on('connect', () => {
              s.write(`POST /v1/in HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"i":${i}`);
              setTimeout(() => s.destroy(), 10 + (i % 5) * 5);
            });
          }),
        ),
      );
      await assertStillServing(socketPath);
    });
  });
});
