import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { publishFlow, type DnsAnswerEvent, type FlowRecord } from '../../proxylib/index.js';
import { startApiServer } from '../api/index.js';
import { RemoteDnsAnswerObserver } from './remote-dns-observer.js';
import { FlowPusher } from './flow-pusher.js';
import { proxyLinkRoutes } from './agent-routes.js';

function answer(n: number): DnsAnswerEvent {
  return {
    endpoint: 'empire/tiefighter',
    endpointIps: ['10.244.0.11'],
    sourceIp: '10.244.0.11',
    queryName: `host${n}.empire.gov`,
    names: [`host${n}.empire.gov`],
    addresses: [{ ip: `192.0.2.${n % 250}`, ttl: 60, name: `host${n}.empire.gov` }],
    rcode: 'NOERROR',
  };
}

function record(n: number): FlowRecord {
  return {
    type: 'http',
    protocol: 'http',
    time: new Date().toISOString(),
    source: { ip: '10.244.0.11', port: 40000 + n },
    destination: { ip: '10.244.0.10', port: 80 },
    listener: 'http-ingress',
    filterChain: 'fc',
    verdict: 'FORWARDED',
    latencyMs: 1,
    http: { version: 'HTTP/1.1', method: 'GET', path: `/r/${n}`, host: 'deathstar', status: 200 },
  };
}

/** An agent that serves only the proxy-link routes, as the real one mounts them. */
async function fakeAgentApi(socketPath: string, o: { learnDelayMs?: number } = {}) {
  const answers: DnsAnswerEvent[] = [];
  const flows: FlowRecord[] = [];
  const batches: number[] = [];
  const server = await startApiServer({
    socketPath,
    routes: proxyLinkRoutes({
      fqdn: {
        onAnswer: async (a) => {
          if (o.learnDelayMs) await new Promise((r) => setTimeout(r, o.learnDelayMs));
          answers.push(a);
        },
      },
      ingestProxyFlows: (records) => {
        batches.push(records.length);
        flows.push(...records);
      },
    }),
  });
  return { server, answers, flows, batches };
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function tempSocket(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshd-link-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'meshd.sock');
}

describe('the remote DNS answer observer', () => {
  test('resolves only once the agent has learned the answer', async (t) => {
    const socketPath = await tempSocket(t);
    const agent = await fakeAgentApi(socketPath, { learnDelayMs: 40 });
    const observer = new RemoteDnsAnswerObserver({ socketPath });
    t.after(async () => {
      observer.close();
      await agent.server.close();
    });
    const started = performance.now();
    await observer.onAnswer(answer(1));
    assert.ok(performance.now() - started >= 35, 'returned before the agent answered');
    assert.deepEqual(agent.answers, [answer(1)]);
    assert.equal(observer.stats().delivered, 1);
  });

  test('releases at once while the agent is away, and replays the queue when it is back', async (t) => {
    const socketPath = await tempSocket(t);
    const observer = new RemoteDnsAnswerObserver({ socketPath, probeMinMs: 20, probeMaxMs: 100 });
    let agent: Awaited<ReturnType<typeof fakeAgentApi>> | undefined;
    t.after(async () => {
      observer.close();
      await agent?.server.close();
    });
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await observer.onAnswer(answer(i));
      assert.ok(performance.now() - started < 200, 'held an answer while the agent was away');
    }
    assert.equal(observer.stats().queued, 5);
    assert.equal(observer.stats().isAgentReachable, false);
    agent = await fakeAgentApi(socketPath);
    await waitFor(() => agent!.answers.length === 5);
    assert.deepEqual(agent.answers.map((a) => a.queryName), [0, 1, 2, 3, 4].map((i) => `host${i}.empire.gov`));
    assert.deepEqual({ ...observer.stats() }, { delivered: 5, replayed: 5, refused: 0, dropped: 0, queued: 0, isAgentReachable: true });
    // and answers go straight to the agent again
    await observer.onAnswer(answer(9));
    assert.equal(agent.answers.length, 6);
  });

  test('keeps at most its queue bound while the agent is away, dropping the oldest', async (t) => {
    const socketPath = await tempSocket(t);
    const observer = new RemoteDnsAnswerObserver({ socketPath, queueCapacity: 3, probeMinMs: 20, probeMaxMs: 50 });
    let agent: Awaited<ReturnType<typeof fakeAgentApi>> | undefined;
    t.after(async () => {
      observer.close();
      await agent?.server.close();
    });
    for (let i = 0; i < 8; i++) await observer.onAnswer(answer(i));
    assert.equal(observer.stats().queued, 3);
    assert.equal(observer.stats().dropped, 5);
    agent = await fakeAgentApi(socketPath);
    await waitFor(() => agent!.answers.length === 3);
    assert.deepEqual(agent.answers.map((a) => a.queryName), [5, 6, 7].map((i) => `host${i}.empire.gov`));
  });

  test('a malformed answer is refused by the agent with a 400 and not retried', async (t) => {
    const socketPath = await tempSocket(t);
    const agent = await fakeAgentApi(socketPath);
    const observer = new RemoteDnsAnswerObserver({ socketPath });
    t.after(async () => {
      observer.close();
      await agent.server.close();
    });
    await observer.onAnswer({ ...answer(1), addresses: [{ ip: '192.0.2.1', ttl: 'soon' as unknown as number, name: 'x' }] });
    assert.equal(observer.stats().refused, 1);
    assert.equal(observer.stats().queued, 0);
    assert.equal(agent.answers.length, 0);
  });

  test('measures the round trip the remote hop adds to a DNS answer (p50/p99)', async (t) => {
    const socketPath = await tempSocket(t);
    const agent = await fakeAgentApi(socketPath);
    const observer = new RemoteDnsAnswerObserver({ socketPath });
    t.after(async () => {
      observer.close();
      await agent.server.close();
    });
    for (let i = 0; i < 100; i++) await observer.onAnswer(answer(i)); // warm up: JIT, keep-alive sockets
    const samples: number[] = [];
    const until = Date.now() + 10_000;
    for (let i = 0; i < 2000 && Date.now() < until; i++) {
      const started = process.hrtime.bigint();
      await observer.onAnswer(answer(i));
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    samples.sort((a, b) => a - b);
    const p = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    t.diagnostic(`remote DNS observer round trip over ${samples.length} answers: p50 ${p(0.5).toFixed(3)} ms, p99 ${p(0.99).toFixed(3)} ms, max ${p(1).toFixed(3)} ms (load average ${loadavg()[0]!.toFixed(1)})`);
    // The hop must stay far below the 100 ms the proxy may hold an answer. Only the median is
    // asserted: on a shared 2-core machine the tail is the scheduler's, not the hop's.
    assert.ok(p(0.5) < 5, `p50 ${p(0.5)} ms`);
  });
});

describe('the flow pusher', () => {
  test('sends records in batches of at most 256, within the flush interval', async (t) => {
    const socketPath = await tempSocket(t);
    const agent = await fakeAgentApi(socketPath);
    const pusher = new FlowPusher({ socketPath });
    t.after(async () => {
      await pusher.close();
      await agent.server.close();
    });
    for (let i = 0; i < 600; i++) publishFlow(record(i));
    await waitFor(() => agent.flows.length === 600);
    assert.ok(agent.batches.every((n) => n <= 256), String(agent.batches));
    assert.deepEqual(agent.flows.map((f) => (f.type === 'http' ? f.http.path : '')).slice(0, 3), ['/r/0', '/r/1', '/r/2']);
    // one lone record goes out on the 50 ms timer
    const started = Date.now();
    publishFlow(record(1000));
    await waitFor(() => agent.flows.length === 601);
    assert.ok(Date.now() - started < 1000);
    // The fake agent stores a batch before it answers; the pusher counts it when the answer arrives.
    await waitFor(() => pusher.stats().pushed === 601);
  });

  test('buffers (bounded) while the agent is away and delivers the newest when it is back', async (t) => {
    const socketPath = await tempSocket(t);
    const pusher = new FlowPusher({ socketPath, bufferCapacity: 100, retryMinMs: 20, retryMaxMs: 50 });
    let agent: Awaited<ReturnType<typeof fakeAgentApi>> | undefined;
    t.after(async () => {
      await pusher.close();
      await agent?.server.close();
    });
    for (let i = 0; i < 300; i++) publishFlow(record(i));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pusher.stats().buffered, 100);
    assert.equal(pusher.stats().dropped, 200);
    agent = await fakeAgentApi(socketPath);
    await waitFor(() => agent!.flows.length === 100);
    assert.equal(agent.flows[0]?.type === 'http' ? agent.flows[0].http.path : '', '/r/200');
    assert.equal(pusher.stats().buffered, 0);
  });

  test('a malformed batch is refused with MESHD_ERR_PROXY_LINK_INVALID_BODY', async (t) => {
    const socketPath = await tempSocket(t);
    const agent = await fakeAgentApi(socketPath);
    t.after(() => agent.server.close());
    const { ApiClient } = await import('../api/index.js');
    const client = new ApiClient({ socketPath });
    t.after(() => client.close());
    await assert.rejects(client.post('/v1/flows/proxy', { records: [{ type: 'smtp' }] }), (err: { code?: string; httpStatus?: number }) => err.code === 'MESHD_ERR_PROXY_LINK_INVALID_BODY' && err.httpStatus === 400);
    await assert.rejects(client.post('/v1/fqdn/answers', { endpoint: 1 }), (err: { code?: string }) => err.code === 'MESHD_ERR_PROXY_LINK_INVALID_BODY');
  });
});
