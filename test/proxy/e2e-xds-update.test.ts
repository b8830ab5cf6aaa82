// End to end through xDS: a request loop runs through the built-in proxy — on keep-alive HTTP/1.1
// connections (undici Pool), and as h2c streams on one connection — while the xDS server pushes one
// change after another: the route switched to another cluster, an RBAC filter added to the listener,
// a listener added and removed, an EDS endpoint moved; each one ACKed before the next. Not one
// request may fail: no connection error, no reset stream, no 5xx, no 403, and requests in flight
// (slow upstream answers) when a change lands complete. The loop is bounded in count and in time.
// And a listener removed by an update drains: its request in flight completes, then its port closes.
import { describe, test, type TestContext } from 'node:test';
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Session } from 'node:http2';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { TYPE_URL } from '../../xds/index.js';
import {
  ProxyHarness,
  allowPathPrefixes,
  envoyMessages,
  eventually,
  findFreePort,
  httpListenerJson,
  request,
  routeJson,
  staticClusterJson,
  edsClusterJson,
  loadAssignmentJson,
} from './harness.js';

const { NGHTTP2_CANCEL } = http2Constants;
const LOOP_MAX_REQUESTS = 20_000;
const LOOP_MAX_MS = 25_000;
const WORKERS = 8;

interface LoopOutcome {
  done: number;
  byUpstream: Map<string, number>;
  failures: string[];
}

/** One request of the loop: status and body, or a thrown error. */
type Send = (path: string, method: 'GET' | 'POST', body: string | undefined) => Promise<{ status: number; body: string }>;

function undiciSender(pool: Pool): Send {
  return async (path, method, body) => {
    const res = await pool.request({ path, method, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    return { status: res.statusCode, body: await res.body.text() };
  };
}

/** Streams on one h2c session (prior knowledge), as gRPC clients use one connection. */
function http2Sender(session: ClientHttp2Session): Send {
  return (path, method, body) =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':method': method, ':path': path }, { endStream: body === undefined });
      const timer = setTimeout(() => stream.close(NGHTTP2_CANCEL), 10_000);
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8').on('data', (c: string) => (text += c));
      stream.on('end', () => {
        clearTimeout(timer);
        resolve({ status, body: text });
      });
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on('close', () => {
        clearTimeout(timer);
        if (status === 0) reject(new Error(`stream closed without a response (rst code ${stream.rstCode})`));
      });
      if (body !== undefined) stream.end(body);
    });
}

/** WORKERS concurrent sequential request loops until `stop()` or the bounds; every 10th request is slow. */
function startLoop(send: Send): { stop: () => Promise<LoopOutcome> } {
  const outcome: LoopOutcome = { done: 0, byUpstream: new Map(), failures: [] };
  let stopping = false;
  const deadline = Date.now() + LOOP_MAX_MS;
  let issued = 0;
  const worker = async (w: number) => {
    while (!stopping && issued < LOOP_MAX_REQUESTS && Date.now() < deadline) {
      const n = issued++;
      const path = n % 10 === 0 ? `/app/slow/${w}/${n}?delay=150` : `/app/item/${w}/${n}`;
      try {
        const res = await send(path, n % 3 === 0 ? 'POST' : 'GET', n % 3 === 0 ? `body-${n}` : undefined);
        const text = res.body;
        if (res.status !== 200) {
          outcome.failures.push(`${path}: status ${res.status} ${text.slice(0, 80)}`);
        } else {
          const upstream = (JSON.parse(text) as { upstream: string }).upstream;
          outcome.byUpstream.set(upstream, (outcome.byUpstream.get(upstream) ?? 0) + 1);
        }
      } catch (err) {
        outcome.failures.push(`${path}: ${(err as Error).message}`);
      }
      outcome.done++;
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  return {
    stop: async () => {
      stopping = true;
      await Promise.all(workers);
      return outcome;
    },
  };
}

async function updatesUnderLoad(t: TestContext, client: 'http1' | 'http2'): Promise<void> {
  const h = await ProxyHarness.start();
  let pool: Pool | undefined;
  let session: ClientHttp2Session | undefined;
  try {
    const [a, b, c] = await Promise.all([h.upstream('a'), h.upstream('b'), h.upstream('c')]);
    const port = await findFreePort();
    const extraPort = await findFreePort();
    const listener = (rbac?: Record<string, unknown>) => httpListenerJson({ name: 'app', port, routeName: 'app-route', ...(rbac ? { rbac } : {}) });
    const base = {
      listeners: [listener()],
      routes: [routeJson('app-route', 'cluster-a')],
      clusters: [staticClusterJson('cluster-a', [a.endpoint]), staticClusterJson('cluster-b', [b.endpoint]), edsClusterJson('cluster-eds')],
      endpoints: [loadAssignmentJson('cluster-eds', [a.endpoint])],
    };
    const v1 = h.setSnapshot(envoyMessages(base));
    await h.startProxy();
    const first = await eventually(() => request(`http://127.0.0.1:${port}/app/first`), (r) => r.status === 200, 15_000);
    assert.ok(!(first instanceof Error) && first.status === 200, `the proxy serves the first config: ${first instanceof Error ? first.message : `${first.status} ${first.body}`}`);
    await h.waitForAck(TYPE_URL.listener, v1);

    let send: Send;
    if (client === 'http1') {
      pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, keepAliveTimeout: 30_000 });
      send = undiciSender(pool);
    } else {
      session = http2Connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined); // a failure shows as failed streams
      send = http2Sender(session);
    }
    const loop = startLoop(send);
    const steps: Array<{ what: string; typeUrls: string[]; json: Parameters<typeof envoyMessages>[0] }> = [
      { what: 'route to cluster-b', typeUrls: [TYPE_URL.route], json: { ...base, routes: [routeJson('app-route', 'cluster-b')] } },
      { what: 'RBAC filter added to the listener', typeUrls: [TYPE_URL.listener], json: { ...base, listeners: [listener(allowPathPrefixes(['/app/']))], routes: [routeJson('app-route', 'cluster-b')] } },
      {
        what: 'another listener added',
        typeUrls: [TYPE_URL.listener],
        json: { ...base, listeners: [listener(allowPathPrefixes(['/app/'])), httpListenerJson({ name: 'extra', port: extraPort, routeName: 'app-route' })], routes: [routeJson('app-route', 'cluster-b')] },
      },
      { what: 'the extra listener removed, route to the EDS cluster', typeUrls: [TYPE_URL.listener, TYPE_URL.route], json: { ...base, listeners: [listener(allowPathPrefixes(['/app/']))], routes: [routeJson('app-route', 'cluster-eds')] } },
      {
        what: 'EDS endpoint moved to upstream c',
        typeUrls: [TYPE_URL.endpoint],
        json: { ...base, listeners: [listener(allowPathPrefixes(['/app/']))], routes: [routeJson('app-route', 'cluster-eds')], endpoints: [loadAssignmentJson('cluster-eds', [c.endpoint])] },
      },
      { what: 'back to cluster-a and upstream a, RBAC removed', typeUrls: [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.endpoint], json: base },
    ];
    for (const step of steps) {
      await sleep(300);
      const version = h.setSnapshot(envoyMessages(step.json));
      for (const typeUrl of step.typeUrls) await h.waitForAck(typeUrl, version).catch((err: Error) => assert.fail(`${step.what}: ${err.message}`));
    }
    await sleep(300);
    const outcome = await loop.stop();
    t.diagnostic(`${outcome.done} requests during ${steps.length} updates; by upstream: ${JSON.stringify(Object.fromEntries(outcome.byUpstream))}; ${outcome.failures.length} failed`);

    assert.deepEqual(outcome.failures.slice(0, 10), [], `${outcome.failures.length} of ${outcome.done} requests failed during the updates`);
    assert.ok(outcome.done >= 200, `the loop ran (${outcome.done} requests)`);
    for (const name of ['a', 'b', 'c']) assert.ok((outcome.byUpstream.get(name) ?? 0) > 0, `upstream ${name} served part of the loop: ${JSON.stringify([...outcome.byUpstream])}`);
    const last = await request(`http://127.0.0.1:${port}/app/last`);
    assert.equal(JSON.parse(last.body).upstream, 'a', 'the last config is in force');
  } finally {
    session?.destroy();
    await pool?.destroy();
    await h.close();
  }
}

describe('xDS updates under load', () => {
  test('an xDS update during an HTTP/1.1 request loop drops nothing: route, listener, cluster and endpoint changes, each ACKed mid-loop', (t) => updatesUnderLoad(t, 'http1'));
  test('an xDS update during a loop of h2c streams on one connection drops nothing', (t) => updatesUnderLoad(t, 'http2'));
});

describe('listener removal over xDS', () => {
  test('a listener removed by an xDS update drains: the request in flight completes, then the port refuses connections', async () => {
    const h = await ProxyHarness.start();
    try {
      const up = await h.upstream('up');
      const [keepPort, dropPort] = [await findFreePort(), await findFreePort()];
      const snapshot = (withDropped: boolean) =>
        envoyMessages({
          listeners: [
            httpListenerJson({ name: 'keep', port: keepPort, routeName: 'route' }),
            ...(withDropped ? [httpListenerJson({ name: 'drop', port: dropPort, routeName: 'route' })] : []),
          ],
          routes: [routeJson('route', 'cluster-up')],
          clusters: [staticClusterJson('cluster-up', [up.endpoint])],
        });
      h.setSnapshot(snapshot(true));
      await h.startProxy();
      const ready = await eventually(() => request(`http://127.0.0.1:${dropPort}/ready`), (r) => r.status === 200, 15_000);
      assert.ok(!(ready instanceof Error) && ready.status === 200, 'the listener to be removed serves first');

      let settled = false;
      const inFlight = request(`http://127.0.0.1:${dropPort}/slow?delay=1000`, { timeoutMs: 8000 }).finally(() => (settled = true));
      await eventually(async () => up.seen.some((s) => s.url.startsWith('/slow')), (seen) => seen, 5000, 10);
      const v2 = h.setSnapshot(snapshot(false));
      await h.waitForAck(TYPE_URL.listener, v2);
      assert.equal(settled, false, 'the removal was accepted while the request was still in flight');
      const answer = await inFlight;
      assert.equal(answer.status, 200, 'the request in flight when its listener was removed completed');
      assert.equal(JSON.parse(answer.body).path, '/slow?delay=1000');
      const refused = await eventually(() => request(`http://127.0.0.1:${dropPort}/after`, { timeoutMs: 2000 }).then(() => 'answered', (e: Error) => e.message), (m) => /ECONNREFUSED/.test(m), 10_000);
      assert.match(String(refused instanceof Error ? refused.message : refused), /ECONNREFUSED/, 'the removed listener no longer accepts connections');
      assert.equal((await request(`http://127.0.0.1:${keepPort}/still`)).status, 200, 'the other listener is untouched');
    } finally {
      await h.close();
    }
  });
});
