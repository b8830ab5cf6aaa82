import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, startApiServer, type ApiServer } from '../api/index.js';
import { FlowStore } from './flow-store.js';
import { flowRoutes, type FlowListResponse } from './flow-routes.js';
import type { Flow, NewFlow } from './types.js';
import type { ServiceMap } from './service-map.js';

function flow(n: number, o: Partial<NewFlow> = {}): NewFlow {
  return {
    time: new Date(1_700_000_000_000 + n).toISOString(),
    layer: 'proxy',
    verdict: 'FORWARDED',
    protocol: 'http',
    source: { ip: '10.0.0.1', port: 1000 + n, pod: 'empire/tiefighter' },
    destination: { ip: '10.0.0.2', port: 80, pod: 'empire/deathstar' },
    summary: `flow ${n}`,
    ...o,
  };
}

describe('the flow API', () => {
  test('lists, filters, follows (NDJSON) and maps flows over the agent socket', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-flows-'));
    const store = new FlowStore();
    let server: ApiServer | undefined;
    const client = new ApiClient({ socketPath: join(dir, 'meshd.sock') });
    t.after(async () => {
      client.close();
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    });
    server = await startApiServer({ socketPath: join(dir, 'meshd.sock'), routes: flowRoutes(store) });
    store.add(flow(1));
    store.add(flow(2, { verdict: 'DENIED', policy: 'empire/deathstar-landing' }));
    store.add(flow(3, { source: { ip: '10.0.0.3', port: 1, pod: 'alliance/xwing' }, verdict: 'DROPPED', layer: 'kernel', protocol: 'tcp' }));

    const listed = await client.get<FlowListResponse>('/v1/flows', { verdict: ['DENIED', 'DROPPED'], last: '5' });
    assert.deepEqual(listed.flows.map((f) => f.summary), ['flow 2', 'flow 3']);
    assert.equal(listed.added, 3);
    assert.deepEqual((await client.get<FlowListResponse>('/v1/flows', { 'from-pod': 'alliance/xwing' })).flows.map((f) => f.id), [3]);

    await assert.rejects(client.get('/v1/flows', { verdict: 'NOPE' }), (err: { code?: string; httpStatus?: number }) => err.code === 'MESHD_ERR_FLOWS_INVALID_FILTER' && err.httpStatus === 400);

    // follow: the last 1 matching flow, then new ones as they come, until the client stops.
    const abort = new AbortController();
    const followed: Flow[] = [];
    const following = (async () => {
      for await (const f of client.stream<Flow>('/v1/flows', { follow: '1', last: '1', protocol: 'http' }, abort.signal)) {
        followed.push(f);
        if (followed.length === 3) abort.abort();
      }
    })();
    await waitFor(() => store.stats().followers === 1);
    store.add(flow(4, { protocol: 'tcp', layer: 'kernel' }));
    store.add(flow(5));
    store.add(flow(6));
    await following;
    assert.deepEqual(followed.map((f) => f.summary), ['flow 2', 'flow 5', 'flow 6']);
    await waitFor(() => store.stats().followers === 0);

    const map = await client.get<ServiceMap>('/v1/service-map');
    assert.deepEqual(map.nodes.map((n) => n.id), ['pod:alliance/xwing', 'pod:empire/deathstar', 'pod:empire/tiefighter']);
    assert.equal(map.edges.find((e) => e.from === 'pod:empire/tiefighter')?.denied, 1);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
