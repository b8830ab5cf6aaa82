import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { spawn } from 'node:child_process';
import { parseClientHello, type ClientHelloResult } from './index.js';

const CAPTURE_TIMEOUT_MS = 5000;

/** Starts a plain TCP listener, lets `client(port)` connect to it, and returns the first bytes the client sent (a whole ClientHello). */
async function captureHello(client: (port: number) => { stop(): void }): Promise<Buffer> {
  const sockets = new Set<Socket>();
  const server = createServer();
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const handle = client(port);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no complete ClientHello within 5 s')), CAPTURE_TIMEOUT_MS);
      server.on('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (d: Buffer) => {
          bytes = Buffer.concat([bytes, d]);
          const r = parseClientHello(bytes);
          if (r.kind === 'need_more') return;
          clearTimeout(timer);
          resolve(bytes);
        });
      });
    });
  } finally {
    handle.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function nodeHello(servername: string | undefined, alpn: string[] | undefined): Promise<Buffer> {
  return captureHello((port) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ...(alpn ? { ALPNProtocols: alpn } : {}), rejectUnauthorized: false });
    s.on('error', () => {});
    return { stop: () => s.destroy() };
  });
}

/** Re-splits the hello's handshake bytes into records of at most `size` bytes (as a TLS stack may). */
function refragment(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < handshake.length; i += size) {
    const piece = handshake.subarray(i, i + size);
    const header = Buffer.from([0x16, 0x03, 0x01, piece.length >> 8, piece.length & 0xff]);
    out.push(header, piece);
  }
  return Buffer.concat(out);
}

function tlsResult(r: ClientHelloResult): { serverName: string; alpn: string[] } {
  assert.equal(r.kind, 'tls', JSON.stringify(r));
  return { serverName: (r as { serverName: string }).serverName, alpn: (r as { alpn: string[] }).alpn };
}

describe('ClientHellos of real TLS clients', () => {
  test("Node's ClientHello gives its SNI (lower-cased) and ALPN list", async () => {
    const hello = await nodeHello('API.Example.com', ['h2', 'http/1.1']);
    assert.deepEqual(tlsResult(parseClientHello(hello)), { serverName: 'api.example.com', alpn: ['h2', 'http/1.1'] });
  });

  test('a ClientHello without SNI and ALPN gives empty values', async () => {
    const hello = await nodeHello(undefined, undefined);
    assert.deepEqual(tlsResult(parseClientHello(hello)), { serverName: '', alpn: [] });
  });

  test("openssl s_client's ClientHello parses", async () => {
    const hello = await captureHello((port) => {
      const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'db.internal', '-alpn', 'h2,http/1.1'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('error', (e) => assert.fail(`openssl is needed for this test: ${e.message}`));
      return { stop: () => child.kill('SIGKILL') };
    });
    assert.deepEqual(tlsResult(parseClientHello(hello)), { serverName: 'db.internal', alpn: ['h2', 'http/1.1'] });
  });

  test('every proper prefix of a ClientHello is need_more, never malformed', async () => {
    const hello = await nodeHello('a.example', ['h2']);
    for (let n = 0; n < hello.length; n++) {
      const r = parseClientHello(hello.subarray(0, n));
      assert.equal(r.kind, 'need_more', `prefix of ${n} bytes gave ${JSON.stringify(r)}`);
    }
  });

  test('a ClientHello split over several handshake records parses the same', async () => {
    const hello = await nodeHello('split.example', ['http/1.1']);
    for (const size of [1, 7, 100, 512]) {
      assert.deepEqual(tlsResult(parseClientHello(refragment(hello, size))), { serverName: 'split.example', alpn: ['http/1.1'] }, `records of ${size}`);
    }
  });

  test('application bytes after the ClientHello do not matter', async () => {
    const hello = await nodeHello('x.example', undefined);
    const r = parseClientHello(Buffer.concat([hello, Buffer.from('trailing')]));
    assert.equal(r.kind, 'tls');
    assert.equal((r as { length: number }).length, hello.length);
  });
});

describe('what is not a ClientHello', () => {
  test('plain text, the HTTP/2 preface and other records are not_tls', () => {
    for (const text of ['GET / HTTP/1.1\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'SSH-2.0-x', '\u0017\u0003\u0003\u0000\u0001x', '\u0016\u0002']) {
      assert.equal(parseClientHello(Buffer.from(text, 'latin1')).kind, 'not_tls', JSON.stringify(text));
    }
  });

  test('corrupted lengths are malformed, not exceptions', async () => {
    const hello = await nodeHello('c.example', ['h2']);
    // Record length 0, record length over 16 KiB, handshake type ServerHello.
    const zero = Buffer.from(hello);
    zero.writeUInt16BE(0, 3);
    assert.equal(parseClientHello(zero).kind, 'malformed');
    const huge = Buffer.from(hello);
    huge.writeUInt16BE(0x4001, 3);
    assert.equal(parseClientHello(huge).kind, 'malformed');
    const serverHello = Buffer.from(hello);
    serverHello[5] = 2;
    assert.equal(parseClientHello(serverHello).kind, 'malformed');
    // A handshake length that disagrees with the record.
    const short = Buffer.from(hello);
    short.writeUIntBE(hello.length - 5 - 4 - 10, 6, 3);
    assert.equal(parseClientHello(short).kind, 'malformed');
  });

  test('a ClientHello larger than the bound is malformed before it is all read', () => {
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00]); // claims 65536 bytes of hello
    const r = parseClientHello(Buffer.concat([header, Buffer.alloc(100)]), 16 * 1024 + 5);
    assert.equal(r.kind, 'malformed');
  });
});
