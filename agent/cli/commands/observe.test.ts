import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../../api/index.js';
import { FlowStore, flowRoutes, type NewFlow } from '../../flows/index.js';
import { captureIo } from '../cli-io.js';
import { main } from '../main.js';
import { formatFlow, formatTime, renderFlowTable } from './observe.js';

const FLOWS: NewFlow[] = [
  {
    time: '2026-11-21T10:00:00.123Z',
    layer: 'kernel',
    verdict: 'DROPPED',
    protocol: 'tcp',
    direction: 'ingress',
    source: { ip: '10.244.0.12', port: 40000, pod: 'alliance/xwing', identity: 1002 },
    destination: { ip: '10.244.0.10', port: 80, pod: 'empire/deathstar', identity: 1000 },
    policy: 'empire/deathstar-landing',
    reason: 'policy_denied',
    summary: 'TCP connect denied (policy_denied)',
  },
  {
    time: '2026-11-21T10:00:01.000Z',
    layer: 'proxy',
    verdict: 'DENIED',
    protocol: 'http',
    source: { ip: '10.244.0.11', port: 40001, pod: 'empire/tiefighter' },
    destination: { ip: '10.244.0.10', port: 80, pod: 'empire/deathstar' },
    policy: 'empire/deathstar-landing',
    reason: 'rbac_denied',
    summary: 'PUT /v1/exhaust-port -> 403',
  },
  {
    time: '2026-11-21T10:00:02.000Z',
    layer: 'proxy',
    verdict: 'FORWARDED',
    protocol: 'dns',
    source: { ip: '10.244.0.11', port: 5353, pod: 'empire/tiefighter' },
    destination: { ip: '10.0.0.53', port: 53, identity: 2, labels: ['reserved:world'] },
    policy: 'empire/tiefighter-dns',
    summary: 'dns A api.empire.gov -> 1.2.3.4',
  },
];

async function withAgent(t: { after(fn: () => Promise<void>): void }) {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshd-observe-'));
  const store = new FlowStore();
  for (const f of FLOWS) store.add(f);
  const server = await startApiServer({ socketPath: join(stateDir, 'meshd.sock'), routes: flowRoutes(store) });
  t.after(async () => {
    await server.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { stateDir, store };
}

describe('meshd observe', () => {
  test('prints compact lines with pods, verdict, layer, policy and summary', async (t) => {
    const { stateDir } = await withAgent(t);
    const io = captureIo();
    assert.equal(await main(['observe', '--state-dir', stateDir], io), 0, io.err);
    const lines = io.out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], 'Nov 21 10:00:00.123 alliance/xwing:40000 -> empire/deathstar:80 tcp DROPPED (kernel policy=empire/deathstar-landing reason=policy_denied) TCP connect denied (policy_denied)');
    assert.equal(lines[1], 'Nov 21 10:00:01.000 empire/tiefighter:40001 -> empire/deathstar:80 http DENIED (proxy policy=empire/deathstar-landing reason=rbac_denied) PUT /v1/exhaust-port -> 403');
    assert.match(lines[2]!, /empire\/tiefighter:5353 -> 10\.0\.0\.53:53 \(reserved:world\) dns FORWARDED .* dns A api\.empire\.gov -> 1\.2\.3\.4$/);
  });

  test('filters by pod, verdict and protocol, and takes the last N', async (t) => {
    const { stateDir } = await withAgent(t);
    const run = async (...args: string[]) => {
      const io = captureIo();
      assert.equal(await main(['observe', '--state-dir', stateDir, '-o', 'json', ...args], io), 0, io.err);
      return io.out.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { summary: string });
    };
    assert.deepEqual((await run('--from-pod', 'alliance/xwing')).map((f) => f.summary), ['TCP connect denied (policy_denied)']);
    assert.deepEqual((await run('--verdict', 'DENIED,DROPPED', '--protocol', 'http')).map((f) => f.summary), ['PUT /v1/exhaust-port -> 403']);
    assert.deepEqual((await run('--pod', 'empire/deathstar', '--last', '1')).map((f) => f.summary), ['PUT /v1/exhaust-port -> 403']);
    assert.equal((await run('--to-pod', 'empire/tiefighter')).length, 0);
  });

  test('an invalid filter fails with the agent\'s code and hint', async (t) => {
    const { stateDir } = await withAgent(t);
    const io = captureIo();
    assert.equal(await main(['observe', '--state-dir', stateDir, '--verdict', 'LOST'], io), 1);
    assert.match(io.err, /MESHD_ERR_FLOWS_INVALID_FILTER/);
  });

  test('without an agent it says so', async (t) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'meshd-observe-none-'));
    t.after(() => rm(stateDir, { recursive: true, force: true }));
    const io = captureIo();
    assert.equal(await main(['observe', '--state-dir', stateDir], io), 1);
    assert.match(io.err, /MESHD_ERR_API_AGENT_NOT_RUNNING/);
  });

  test('prints a table', async (t) => {
    const { stateDir } = await withAgent(t);
    const io = captureIo();
    assert.equal(await main(['observe', '--state-dir', stateDir, '-o', 'table'], io), 0, io.err);
    const lines = io.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+SOURCE\s+DESTINATION\s+PROTO\s+VERDICT\s+LAYER\s+POLICY\s+SUMMARY$/);
    assert.equal(lines.length, 4);
    assert.equal(lines[1]!.indexOf('empire/deathstar:80'), lines[0]!.indexOf('DESTINATION'));
    assert.equal(renderFlowTable([]), 'no flows\n');
  });

  test('--follow prints the backlog asked for and then new flows', async (t) => {
    const { stateDir, store } = await withAgent(t);
    const io = captureIo();
    const running = main(['observe', '--state-dir', stateDir, '--follow', '--last', '1'], io);
    const until = Date.now() + 5000;
    while (store.stats().followers === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    store.add({ ...FLOWS[1]!, summary: 'GET /v1/status -> 200', verdict: 'FORWARDED' });
    while (!io.out.includes('/v1/status') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    process.emit('SIGINT');
    assert.equal(await running, 0);
    const lines = io.out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /dns A api\.empire\.gov/);
    assert.match(lines[1]!, /GET \/v1\/status -> 200/);
  });

  test('--service-map writes an SVG with one node per peer and the counts', async (t) => {
    const { stateDir } = await withAgent(t);
    const file = join(stateDir, 'map.svg');
    const io = captureIo();
    assert.equal(await main(['observe', '--state-dir', stateDir, '--service-map', file], io), 0, io.err);
    assert.match(io.out, /service map of 4 peers and 3 edges written to/);
    const svg = await readFile(file, 'utf8');
    assert.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<g class="node"/g) ?? []).length, 4);
    assert.match(svg, /data-from="pod:alliance\/xwing" data-to="pod:empire\/deathstar" data-allowed="0" data-denied="1"/);
  });

  test('times read as hubble prints them; JSON is one object per line', () => {
    assert.equal(formatTime('2026-01-02T03:04:05.006Z'), 'Jan 02 03:04:05.006');
    assert.deepEqual(JSON.parse(formatFlow({ id: 1, ...FLOWS[0]! }, 'json')).policy, 'empire/deathstar-landing');
  });
});
