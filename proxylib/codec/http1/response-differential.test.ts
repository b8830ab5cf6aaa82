// Differential test for the upstream side: raw responses are served on loopback to node:http's
// client (llhttp, non-lenient) and parsed by meshd's ResponseParser; both must agree on accept or
// reject (and on the body when accepted), except where a case documents why meshd differs.
// A response the proxy reads differently from the client behind it is response desync.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { DEFAULT_HTTP1_LIMITS, ResponseParser } from './index.js';

interface ResponseCase {
  name: string;
  raw: string;
  /** What meshd does: the body it delivers, or a rejection. */
  meshd: { body: string } | { rejected: true };
  differsFromLlhttp?: string;
}

const CASES: ResponseCase[] = [
  { name: 'Content-Length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', meshd: { body: 'hello' } },
  { name: 'chunked with a trailer', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n', meshd: { body: 'hello' } },
  { name: 'close-delimited', raw: 'HTTP/1.1 200 OK\r\n\r\nuntil close', meshd: { body: 'until close' } },
  { name: 'no reason phrase', raw: 'HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok', meshd: { body: 'ok' } },
  { name: 'Transfer-Encoding gzip is read until close', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw', meshd: { body: 'raw' } },
  { name: 'Content-Length with Transfer-Encoding', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', meshd: { rejected: true } },
  { name: 'duplicate Content-Length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', meshd: { rejected: true } },
  { name: 'a bad chunk size', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', meshd: { rejected: true } },
  { name: 'chunk data without CRLF', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX0\r\n\r\n', meshd: { rejected: true } },
  { name: 'bare LF line endings', raw: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', meshd: { rejected: true } },
  { name: 'NUL in a header value', raw: 'HTTP/1.1 200 OK\r\nX: a\u0000b\r\nContent-Length: 2\r\n\r\nok', meshd: { rejected: true } },
  { name: 'a space before the colon', raw: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok', meshd: { rejected: true } },
  { name: 'a two-digit status', raw: 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok', meshd: { rejected: true } },
  { name: 'obs-fold', raw: 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok', meshd: { rejected: true } },
  { name: 'a chunk size with a trailing space', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n', meshd: { rejected: true } },
  { name: 'a 204 with a body is read as no body', raw: 'HTTP/1.1 204 No Content\r\n\r\n', meshd: { body: '' } },
  { name: 'a 100 Continue before the final response', raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', meshd: { body: 'ok' } },
  {
    name: 'an HTTP/2.0 status line',
    raw: 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
    meshd: { rejected: true },
    differsFromLlhttp: 'an HTTP/1 connection answered with another version is a broken upstream; llhttp parses 2.0 like 1.1',
  },
];

function meshdParse(raw: string): { body: string } | { rejected: true } {
  let body = '';
  let rejected = false;
  let complete = false;
  const parser = new ResponseParser(DEFAULT_HTTP1_LIMITS, {
    onHead() {},
    onBody: (b) => void (body += b.toString('latin1')),
    onMessageComplete: () => void (complete = true),
    onError: () => void (rejected = true),
  });
  parser.expectResponse('GET');
  parser.execute(Buffer.from(raw, 'latin1'));
  if (!rejected && !complete) parser.finish(); // the raw server closes after the response
  return rejected ? { rejected: true } : { body };
}

describe('meshd and node:http client (llhttp) read upstream responses alike, except where documented', () => {
  let server: Server;
  let port = 0;
  const sockets = new Set<Socket>();
  /** The response the next connection gets, by a path-free lookup: one case at a time. */
  let current = '';
  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => socket.end(Buffer.from(current, 'latin1')));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  for (const c of CASES) {
    test(c.name, async () => {
      current = c.raw;
      const theirs = await new Promise<{ body: string } | { rejected: true }>((resolve) => {
        const timer = setTimeout(() => resolve({ rejected: true }), 10_000);
        const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ body });
          });
          res.on('error', () => {
            clearTimeout(timer);
            resolve({ rejected: true });
          });
        });
        req.on('error', () => {
          clearTimeout(timer);
          resolve({ rejected: true });
        });
        req.end();
      });
      const ours = meshdParse(c.raw);
      assert.deepEqual(ours, c.meshd, 'meshd parses as the case documents');
      if (c.differsFromLlhttp) assert.notDeepEqual(ours, theirs, `documented as different (${c.differsFromLlhttp})`);
      else assert.deepEqual(ours, theirs, `meshd ${JSON.stringify(ours)} vs node client ${JSON.stringify(theirs)}`);
    });
  }
});
