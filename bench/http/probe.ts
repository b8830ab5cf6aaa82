// One request per contender and protocol before anything is measured: the answer must be what the
// upstream sends (status and 100-byte body; for gRPC also the grpc-status trailer), so a bench never
// measures a proxy that answers 404s or drops trailers fast. Also used to wait until meshd's
// listeners are configured (they bind only once the xDS configuration arrived).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProbeAnswer {
  status: number;
  body: string;
  grpcStatus?: string | undefined;
}

const PROBE_TIMEOUT_MS = 3000;

export function probeHttp1(url: string, tls: boolean): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, { method: 'GET', rejectUnauthorized: false, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** h2c prior knowledge; `grpc` sends the gRPC-shaped POST and reads the trailers. */
export function probeHttp2(url: string, grpcBody: Buffer | undefined): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const session = h2connect(u.origin);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no h2 answer from ${url} within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    const finish = (err: Error | undefined, answer?: ProbeAnswer) => {
      clearTimeout(timer);
      session.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    session.on('error', (err) => finish(err));
    const headers = grpcBody
      ? { ':method': 'POST', ':path': u.pathname, 'content-type': 'application/grpc', te: 'trailers' }
      : { ':method': 'GET', ':path': u.pathname };
    const stream = session.request(headers, { endStream: !grpcBody });
    let status = 0;
    let grpcStatus: string | undefined;
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
    });
    stream.setEncoding('utf8').on('data', (s: string) => (body += s));
    stream.on('end', () => finish(undefined, { status, body, grpcStatus }));
    stream.on('error', (err) => finish(err));
    if (grpcBody) stream.end(grpcBody);
  });
}

/** Retries `probe` until it answers `status` or `timeoutMs` passes; returns the last answer or error. */
export async function waitForAnswer(probe: () => Promise<ProbeAnswer>, status: number, timeoutMs: number, gaveUp: () => boolean): Promise<ProbeAnswer | Error> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeAnswer | Error = new Error('not probed');
  while (Date.now() < deadline && !gaveUp()) {
    try {
      last = await probe();
      if (last.status === status) return last;
    } catch (err) {
      last = err as Error;
    }
    await sleep(200);
  }
  return last;
}
