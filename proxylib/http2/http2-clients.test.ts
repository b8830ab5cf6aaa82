import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { denyPathPrefixes, prefixRouteTable, startFront, staticCluster, testHcm, testView } from '../../test/proxy/http2-harness.js';
import type { Front } from '../../test/proxy/http2-harness.js';

const run = promisify(execFile);

/** Runs a client binary with a hard time limit; a missing binary fails the test by name. */
async function client(bin: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run(bin, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${bin} is not installed (setup.sh installs it)`);
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** h2load's summary line: `requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout`. */
function h2loadRequests(out: string): Record<string, number> {
  const line = /requests: (.*)/.exec(out)?.[1];
  assert.ok(line, `no requests line in h2load output:\n${out}`);
  const counts: Record<string, number> = {};
  for (const part of line.split(',')) {
    const m = /(\d+) (\w+)/.exec(part.trim());
    if (m) counts[m[2] as string] = Number(m[1]);
  }
  return counts;
}

describe('HTTP/2 proxy with real clients (curl, h2load)', () => {
  let upstream: http2.Http2Server;
  let handler: Http2ConnectionHandler;
  let front: Front;
  let dir: string;
  let upstreamSessions = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-h2-clients-'));
    upstream = http2.createServer();
    upstream.on('session', () => upstreamSessions++);
    upstream.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers['content-type'] === 'application/grpc') {
        // gRPC-shaped: read the framed request, answer one framed message and grpc-status 0 in trailers.
        stream.resume();
        stream.on('end', () => {
          if (stream.closed || stream.destroyed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          const msg = Buffer.alloc(5 + 95, 0x79);
          msg.writeUInt8(0, 0);
          msg.writeUInt32BE(95, 1);
          stream.end(msg);
        });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('x'.repeat(100));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const view = testView([staticCluster('backend', [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port, weight: 1 }])]);
    const hcm = testHcm(prefixRouteTable([{ prefix: '/', cluster: 'backend' }]), [denyPathPrefixes(['/admin'])]);
    handler = createHttp2ConnectionHandler();
    front = await startFront({ handler, view, hcm: () => hcm });
  });

  after(async () => {
    handler.pool.destroy();
    await front.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('curl --http2-prior-knowledge gets the upstream body, and 403 Access denied on a denied path', async () => {
    const ok = await client('curl', ['-sS', '--http2-prior-knowledge', '-w', '\n%{http_code} %{http_version}', `${front.url}/hello`], 10_000);
    assert.equal(ok, `${'x'.repeat(100)}\n200 2`);
    const denied = await client('curl', ['-sS', '--http2-prior-knowledge', '-w', '%{http_code}', `${front.url}/admin/panel`], 10_000);
    assert.equal(denied, 'Access denied\r\n403');
  });

  test('h2load: 2000 GET requests over 10 connections × 10 streams all succeed over few upstream sessions', async () => {
    const sessionsBefore = upstreamSessions;
    const out = await client('h2load', ['-n', '2000', '-c', '10', '-m', '10', '-t', '1', `${front.url}/bench`], 60_000);
    const counts = h2loadRequests(out);
    assert.equal(counts.succeeded, 2000, out);
    assert.equal(counts.failed, 0, out);
    assert.equal(counts.errored, 0, out);
    assert.match(out, /status codes: 2000 2xx/);
    assert.ok(upstreamSessions - sessionsBefore <= 2, `upstream accepted ${upstreamSessions - sessionsBefore} sessions for 10 downstream connections`);
  });

  test('h2load: 2000 gRPC-shaped POSTs with trailers all succeed', async () => {
    const body = Buffer.alloc(100, 0x79);
    body.writeUInt8(0, 0);
    body.writeUInt32BE(95, 1);
    const bodyFile = join(dir, 'grpc-body.bin');
    await writeFile(bodyFile, body);
    const out = await client(
      'h2load',
      ['-n', '2000', '-c', '10', '-m', '10', '-t', '1', '-d', bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `${front.url}/test.Bench/Call`],
      60_000,
    );
    const counts = h2loadRequests(out);
    assert.equal(counts.succeeded, 2000, out);
    assert.equal(counts.errored, 0, out);
  });
});
