// Bounded mutation fuzzing of the whole HTTP/1.1 data path (parser → decision → upstream → response):
// valid requests are mutated (bytes flipped, inserted, deleted, split across writes, pipelined) and
// sent to a running proxy. Whatever arrives, the proxy must not throw (an exception in a socket
// handler would take the process down), must answer or close every connection, and the strict
// upstream (node:http) must never see a request it cannot parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hcmJson, rbacFilter, startProxy, staticClusterJson } from './http1-harness.js';
import { seededRandom } from '../fuzz/prng.js';

const SEEDS: string[] = [
  'GET /public/a?b=c HTTP/1.1\r\nHost: svc\r\nX-A: 1\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello',
  'POST /upload HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /chat HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'CONNECT svc:443 HTTP/1.1\r\nHost: svc:443\r\n\r\n',
  'GET http://svc/public/abs HTTP/1.1\r\nHost: svc\r\n\r\n',
  'HEAD /public/h HTTP/1.1\r\nHost: svc\r\nExpect: 100-continue\r\n\r\n',
  'GET /public/%2e%2e/%2fadmin HTTP/1.0\r\n\r\n',
];
const INTERESTING = ['\r\n', '\n', '\r', ' ', '\t', ':', '\x00', '0', 'chunked', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', '%', '/..', '\xff', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'];

function mutate(input: string, rand: () => number): string {
  let s = input;
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (s.length + 1));
    const kind = Math.floor(rand() * 4);
    if (kind === 0) s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 256)) + s.slice(at + 1);
    else if (kind === 1) s = s.slice(0, at) + INTERESTING[Math.floor(rand() * INTERESTING.length)]! + s.slice(at);
    else if (kind === 2) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8));
    else s = s + SEEDS[Math.floor(rand() * SEEDS.length)]!;
  }
  return s;
}

/** Sends `data` in random pieces; resolves when the proxy closes the connection or goes quiet. */
function send(port: number, data: Buffer, rand: () => number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, 400);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', () => {});
    socket.on('connect', () => {
      let pos = 0;
      while (pos < data.length) {
        const n = 1 + Math.floor(rand() * data.length);
        socket.write(data.subarray(pos, pos + n));
        pos += n;
      }
      if (rand() < 0.3) socket.end();
    });
  });
}

test('mutated requests never crash the HTTP/1.1 data path nor reach the upstream unparseable (bounded, ~3 s)', async () => {
  const upstreamErrors: string[] = [];
  let forwarded = 0;
  const upstream = http.createServer((req, res) => {
    forwarded++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  upstream.on('clientError', (err: Error & { code?: string; reason?: string; rawPacket?: Buffer }) => upstreamErrors.push(`${err.message} ${err.code ?? ''} ${err.reason ?? ''} ${JSON.stringify(err.rawPacket?.toString('latin1') ?? '')}`));
  upstream.on('upgrade', (_req, socket: net.Socket) => socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
  upstream.on('connect', (_req, socket: net.Socket) => socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  const proxy = await startProxy({
    hcm: hcmJson(
      [rbacFilter('deny', 'DENY', { admin: { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } })],
      { upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'CONNECT' }], http_protocol_options: { accept_http_10: true } },
    ),
    clusters: [staticClusterJson('backend', (upstream.address() as AddressInfo).port)],
  });
  const rand = seededRandom(0x5eed);
  const deadline = Date.now() + 3000;
  let cases = 0;
  try {
    while (Date.now() < deadline && cases < 3000) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        const seed = SEEDS[Math.floor(rand() * SEEDS.length)]!;
        batch.push(send(proxy.port, Buffer.from(mutate(seed, rand), 'latin1'), rand));
        cases++;
      }
      await Promise.all(batch);
    }
  } finally {
    process.off('uncaughtException', onUncaught);
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
  assert.ok(cases >= 100, `only ${cases} cases ran`);
  // Otherwise "nothing unparseable reached the upstream" would hold for a proxy that forwards nothing.
  assert.ok(forwarded > 0, `none of ${cases} cases reached the upstream`);
  assert.deepEqual(uncaught, []);
  assert.deepEqual(proxy.errors.filter((e) => e.includes('internal error')), []);
  // The upstream may see a connection cut mid-request (the client went away and the proxy cancelled the
  // upstream side: a reset or an EOF inside a body), never bytes it cannot parse.
  const parseErrors = upstreamErrors.filter((m) => !/ECONNRESET|aborted|socket hang up|HPE_INVALID_EOF_STATE/i.test(m));
  assert.deepEqual(parseErrors, []);
});
