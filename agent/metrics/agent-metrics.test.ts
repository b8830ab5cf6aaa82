import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { AgentMetrics, isLoopback } from './agent-metrics.js';
import type { Flow } from '../flows/index.js';

function get(url: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The Prometheus text format → sample name{labels} → value; fails on a line it cannot read. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('#')) assert.match(line, /^# (HELP|TYPE) meshd_\w+ .+$/);
      continue;
    }
    const m = /^(meshd_\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = m[2] ? m[2].slice(1, -1).split(',').filter(Boolean).sort().join(',') : '';
    samples.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return samples;
}

function flow(o: Partial<Flow>): Flow {
  return { id: 1, time: '', layer: 'kernel', verdict: 'FORWARDED', protocol: 'tcp', source: { ip: '1.1.1.1', port: 1 }, destination: { ip: '2.2.2.2', port: 2 }, summary: '', ...o };
}

describe('AgentMetrics', () => {
  test('serves every meshd series on /metrics, scraped and parsed', async (t) => {
    const metrics = new AgentMetrics();
    const server = await metrics.serve('127.0.0.1:0');
    t.after(() => server.close());
    metrics.recordFlow(flow({ verdict: 'DROPPED' }));
    metrics.recordFlow(flow({ verdict: 'DROPPED' }));
    metrics.recordFlow(flow({ layer: 'proxy', protocol: 'http', verdict: 'DENIED', latencyMs: 3 }));
    metrics.recordFlow(flow({ layer: 'proxy', protocol: 'dns', l7: { rcode: 'REFUSED' }, latencyMs: 1 }));
    metrics.recordFlow(flow({ layer: 'proxy', protocol: 'dns', l7: { rcode: 'NOERROR', observer: { heldMs: 0.8, outcome: 'done' } }, latencyMs: 1 }));
    metrics.recordXdsPush(0.02);
    metrics.recordXdsNack('node-a');
    metrics.recordPolicyCompute(0.004);
    let reads = 0;
    metrics.setBpfMapEntriesSource(() => {
      reads++;
      return [
        { map: 'meshd_ipcache_v1', entries: 12 },
        { map: 'meshd_policy_v1', entries: 40 },
      ];
    });

    const res = await get(server.url);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^text\/plain; version=0\.0\.4/);
    const s = parseExposition(res.body);
    assert.equal(s.get('meshd_flows_total{layer="kernel",protocol="tcp",verdict="DROPPED"}'), 2);
    assert.equal(s.get('meshd_flows_total{layer="proxy",protocol="http",verdict="DENIED"}'), 1);
    assert.equal(s.get('meshd_l7_request_duration_seconds_count{protocol="http",verdict="DENIED"}'), 1);
    assert.equal(s.get('meshd_l7_request_duration_seconds_bucket{le="0.005",protocol="http",verdict="DENIED"}'), 1);
    assert.equal(s.get('meshd_l7_request_duration_seconds_bucket{le="0.0025",protocol="http",verdict="DENIED"}'), 0);
    assert.equal(s.get('meshd_xds_push_duration_seconds_count{}'), 1);
    assert.equal(s.get('meshd_xds_nacks_total{node="node-a"}'), 1);
    assert.equal(s.get('meshd_policy_compute_duration_seconds_count{}'), 1);
    assert.equal(s.get('meshd_bpf_map_entries{map="meshd_ipcache_v1"}'), 12);
    assert.equal(s.get('meshd_bpf_map_entries{map="meshd_policy_v1"}'), 40);
    assert.equal(s.get('meshd_dns_proxy_queries_total{rcode="REFUSED"}'), 1);
    assert.equal(s.get('meshd_dns_proxy_queries_total{rcode="NOERROR"}'), 1);
    assert.equal(s.get('meshd_dns_proxy_answer_hold_seconds_count{outcome="done"}'), 1);
    assert.equal(reads, 1);
    assert.equal((await get(server.url.replace('/metrics', '/other'))).status, 404);
  });

  test('two agents in one process keep separate registries', async () => {
    const a = new AgentMetrics();
    const b = new AgentMetrics();
    a.recordFlow(flow({}));
    const bs = parseExposition((await b.scrape()).body);
    assert.equal(bs.get('meshd_flows_total{layer="kernel",protocol="tcp",verdict="FORWARDED"}'), undefined);
  });

  test('refuses a non-loopback address unless allowed, and a malformed one always', async () => {
    const metrics = new AgentMetrics();
    await assert.rejects(metrics.serve('0.0.0.0:0'), (err: { code?: string; hint?: string }) => err.code === 'MESHD_ERR_METRICS_NOT_LOOPBACK' && !!err.hint);
    await assert.rejects(metrics.serve('192.0.2.1:9962'), { code: 'MESHD_ERR_METRICS_NOT_LOOPBACK' });
    await assert.rejects(metrics.serve('localhost'), { code: 'MESHD_ERR_METRICS_INVALID_ADDRESS' });
    await assert.rejects(metrics.serve('127.0.0.1:70000'), { code: 'MESHD_ERR_METRICS_INVALID_ADDRESS' });
    const allowed = await metrics.serve('0.0.0.0:0', { allowNonLoopback: true });
    await allowed.close();
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && isLoopback('127.3.2.1'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::') && !isLoopback('example.com'));
  });

  test('a port in use is reported with MESHD_ERR_METRICS_LISTEN', async (t) => {
    const first = await new AgentMetrics().serve('127.0.0.1:0');
    t.after(() => first.close());
    await assert.rejects(new AgentMetrics().serve(`127.0.0.1:${first.port}`), { code: 'MESHD_ERR_METRICS_LISTEN' });
  });
});
