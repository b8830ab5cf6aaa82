// An independent check of deny responses with librdkafka (kcat): a stub broker on 127.0.0.1 answers
// ApiVersions truthfully and every other request with denyResponse, and kcat must fail at once with
// the authorization error (not hang, not report a protocol error). Each kcat run is bounded in time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { decodeRequestBody, decodeRequestHeader, encodeResponse, KAFKA_APIS, KafkaFrameSplitter } from '../protocol/index.js';
import { DEFAULT_DENY_ERRORS, denyResponse } from './index.js';

const KCAT = '/usr/bin/kcat';
const API_VERSIONS = 18;

function kcat(args: string[], input = ''): Promise<{ code: number | null; output: string; elapsedMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(KCAT, args, { timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, output: `${stdout}${stderr}`, elapsedMs: Date.now() - started });
    });
    child.stdin?.end(input);
  });
}

describe('deny responses read by librdkafka (kcat)', () => {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let port = 0;
  const seen: number[] = [];

  before(async () => {
    assert.ok(existsSync(KCAT), `${KCAT} is missing: install the kcat Debian package (scripts/setup.sh does)`);
    server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => sock.destroy());
      const splitter = new KafkaFrameSplitter(1 << 24);
      sock.on('data', (chunk) => {
        for (const frame of splitter.push(chunk)) {
          const h = decodeRequestHeader(frame);
          seen.push(h.apiKey);
          if (h.apiKey === API_VERSIONS) {
            // Answered truthfully (in a version the codec has), so the client goes on to real requests.
            const v = Math.min(h.apiVersion, KAFKA_APIS.get(API_VERSIONS)!.maxStableVersion);
            const apiKeys = [...KAFKA_APIS.values()].map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxStableVersion }));
            sock.write(encodeResponse(API_VERSIONS, v, h.correlationId, { errorCode: 0, apiKeys }));
            continue;
          }
          const body = decodeRequestBody(h.apiKey, h.apiVersion, frame, h.bodyOffset);
          sock.write(denyResponse(h, body, DEFAULT_DENY_ERRORS, { brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }] }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a producer fails with "Topic authorization failed"', async () => {
    const r = await kcat(['-P', '-b', `127.0.0.1:${port}`, '-t', 'secret'], 'hello\n');
    assert.match(r.output, /Topic authorization failed/, r.output);
    assert.ok(r.elapsedMs < 15_000, `kcat gave up after ${r.elapsedMs} ms, not at once`);
  });

  test('a consumer fails with "Topic authorization failed"', async () => {
    const r = await kcat(['-C', '-b', `127.0.0.1:${port}`, '-t', 'secret', '-o', 'beginning', '-e']);
    assert.match(r.output, /Topic authorization failed/, r.output);
  });

  test('a group consumer fails with "Group authorization failed"', async () => {
    const r = await kcat(['-b', `127.0.0.1:${port}`, '-G', 'billing', 'secret', '-e']);
    assert.match(r.output, /Group authorization failed/, r.output);
    assert.ok(seen.includes(10), 'kcat asked for the group coordinator');
  });

  test('metadata lists the topic with the authorization error', async () => {
    const r = await kcat(['-L', '-b', `127.0.0.1:${port}`, '-t', 'secret']);
    assert.match(r.output, /topic "secret" with 0 partitions: Broker: Topic authorization failed/, r.output);
  });
});
