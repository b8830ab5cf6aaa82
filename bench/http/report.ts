// The tables of bench/http: per scenario, every contender's median req/s with its spread, p50/p99,
// proxy and upstream CPU µs per request, and the ratios to direct and to nginx; the aims are
// shown next to the ratio they are about, as "meets" or "misses" — a bench reports, it never fails.
// "nginx CPU ÷ this" is a proxy's share of nginx's efficiency (research/perf.md §0): on a busy machine
// req/s ratios swing with the neighbours, CPU µs per request much less, so aims are judged both ways.
import { summarize } from '../bench-report.js';
import type { ContenderName, ScenarioName } from './flags.js';
import type { LoadResult } from './loadgen.js';

export interface Sample {
  contender: ContenderName;
  scenario: ScenarioName;
  rep: number;
  result: LoadResult;
  /** CPU µs per completed request of the proxy process tree (undefined for direct). */
  proxyUsPerReq: number | undefined;
  upstreamUsPerReq: number;
}

export const CONTENDER_LABEL: Record<ContenderName, string> = {
  direct: 'direct upstream (nginx)',
  meshd: 'meshd proxy, allow-all',
  'meshd-rules': 'meshd proxy, RULES rules',
  nginx: 'nginx reverse proxy',
  haproxy: 'haproxy',
};

export const SCENARIO_TITLE: Record<ScenarioName, string> = {
  h1: 'HTTP/1.1, wrk, CONNECTIONS keep-alive connections, 100-byte body',
  'h1-c1': 'HTTP/1.1, wrk, one connection (added latency of one hop)',
  h2: 'HTTP/2 h2c GET, h2load, H2_CONNECTIONS connections × H2_STREAMS streams',
  grpc: 'gRPC-shaped POST (h2c, application/grpc, 100-byte framed body, grpc-status trailer), h2load',
  tls: 'TLS 1.3 keep-alive, HTTP/1.1, wrk, CONNECTIONS connections (proxies terminate TLS, forward plain HTTP)',
};

/** The aims, all relative to nginx except the one-connection latency. */
const AIM_VS_NGINX: Partial<Record<ScenarioName, number>> = { h1: 0.8, grpc: 1.0, tls: 0.8 };
const AIM_ADDED_P50_US = 30;

interface Row {
  contender: ContenderName;
  rps: ReturnType<typeof summarize>;
  p50: number;
  p99: number;
  proxyUs: number | undefined;
  upstreamUs: number;
  errors: string;
}

function rowsOf(samples: readonly Sample[], scenario: ScenarioName, order: readonly ContenderName[]): Row[] {
  const rows: Row[] = [];
  for (const contender of order) {
    const mine = samples.filter((s) => s.scenario === scenario && s.contender === contender);
    if (mine.length === 0) continue;
    const proxy = mine.map((s) => s.proxyUsPerReq).filter((v): v is number => v !== undefined);
    rows.push({
      contender,
      rps: summarize(mine.map((s) => s.result.rps)),
      p50: summarize(mine.map((s) => s.result.p50Ms)).median,
      p99: summarize(mine.map((s) => s.result.p99Ms)).median,
      proxyUs: proxy.length > 0 ? summarize(proxy).median : undefined,
      upstreamUs: summarize(mine.map((s) => s.upstreamUsPerReq)).median,
      errors: [...new Set(mine.map((s) => s.result.errors).filter(Boolean))].join(' | '),
    });
  }
  return rows;
}

export function renderScenario(samples: readonly Sample[], scenario: ScenarioName, order: readonly ContenderName[], labels: Record<ContenderName, string>): string {
  const rows = rowsOf(samples, scenario, order);
  const direct = rows.find((r) => r.contender === 'direct');
  const nginx = rows.find((r) => r.contender === 'nginx');
  const isMeshd = (c: ContenderName) => c === 'meshd' || c === 'meshd-rules';
  const aim = AIM_VS_NGINX[scenario];
  const header = ['contender', 'req/s median (min–max)', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'upstream CPU µs/req', 'vs direct', 'vs nginx', 'nginx CPU ÷ this'];
  if (scenario === 'h1-c1') header.push('added p50 vs direct', 'p50 vs nginx');
  header.push('aim', 'errors');
  const body = rows.map((r) => {
    const cells = [
      labels[r.contender],
      `${fmtInt(r.rps.median)} (${fmtInt(r.rps.min)}–${fmtInt(r.rps.max)})`,
      fmtMs(r.p50),
      fmtMs(r.p99),
      r.proxyUs === undefined ? '–' : r.proxyUs.toFixed(1),
      r.upstreamUs.toFixed(1),
      direct ? ratio(r.rps.median, direct.rps.median) : '–',
      nginx ? ratio(r.rps.median, nginx.rps.median) : '–',
      nginx?.proxyUs !== undefined && r.proxyUs !== undefined ? ratio(nginx.proxyUs, r.proxyUs) : '–',
    ];
    let aimCell = '';
    if (scenario === 'h1-c1') {
      const addedUs = direct ? (r.p50 - direct.p50) * 1000 : NaN;
      cells.push(r.contender === 'direct' || !Number.isFinite(addedUs) ? '–' : `${addedUs.toFixed(0)} µs`);
      // Two proxy hops see the same neighbours, so their difference is steadier than either against direct.
      cells.push(nginx && r.contender !== 'direct' && r.contender !== 'nginx' ? `${((r.p50 - nginx.p50) * 1000).toFixed(0)} µs` : '–');
      // A proxy hop cannot make the upstream faster: a negative difference is the neighbours'
      // noise in the direct runs, and says nothing about the aim.
      if (isMeshd(r.contender) && Number.isFinite(addedUs)) aimCell = addedUs < 0 ? 'n/a (direct p50 noisier than the hop)' : `≤ ${AIM_ADDED_P50_US} µs: ${addedUs <= AIM_ADDED_P50_US ? 'meets' : 'misses'}`;
    } else if (aim !== undefined && isMeshd(r.contender) && nginx) {
      const byRps = r.rps.median / nginx.rps.median >= aim ? 'meets' : 'misses';
      const byCpu = nginx.proxyUs !== undefined && r.proxyUs !== undefined ? (nginx.proxyUs / r.proxyUs >= aim ? 'meets' : 'misses') : '?';
      aimCell = `≥ ${aim.toFixed(1)}× nginx: req/s ${byRps}, CPU ${byCpu}`;
    }
    cells.push(aimCell, r.errors);
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

function fmtInt(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1);
}
