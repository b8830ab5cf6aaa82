// The tables of bench/kafka: per client × scenario, each contender's median produce throughput with
// its spread, messages and requests per second, request latency p50/p99 (medians over the rounds),
// proxy and broker CPU per MiB (and the proxy's per request), and the ratio to direct; the aim (≥ 0.8× direct with 1 MB
// batches) is shown as "meets"/"misses" — a bench reports, it never fails.
import { summarize } from '../bench-report.js';
import type { ClientName, ContenderName, ScenarioName } from './flags.js';

export interface Sample {
  contender: ContenderName;
  client: ClientName;
  scenario: ScenarioName;
  rep: number;
  bytes: number;
  messages: number;
  requests: number;
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per MiB produced of the proxy (meshd or relay) process (undefined for direct). */
  proxyUsPerMiB: number | undefined;
  brokerUsPerMiB: number;
  /** CPU µs per produce request of the proxy process (undefined for direct). */
  proxyUsPerRequest: number | undefined;
  error?: string | undefined;
}

export const AIM_VS_DIRECT_LARGE = 0.8;

export const CONTENDER_LABEL: Record<ContenderName, string> = {
  direct: 'direct to the fixture broker',
  meshd: 'through meshd proxy, topic policy',
  relay: 'through a plain Node TCP relay',
};

export const CLIENT_LABEL: Record<ClientName, string> = {
  kafkajs: 'kafkajs 2.2.4',
  kcat: 'kcat 1.7.1 (librdkafka 2.0.2)',
};

const MIB = 1_048_576;

export function mibPerSecond(s: Pick<Sample, 'bytes' | 'elapsedMs'>): number {
  return s.bytes / MIB / (s.elapsedMs / 1000);
}

export interface Row {
  contender: ContenderName;
  mibps: ReturnType<typeof summarize>;
  msgsPerSec: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  proxyUs: number | undefined;
  proxyUsPerRequest: number | undefined;
  brokerUs: number;
  errors: string;
}

export function rowsOf(samples: readonly Sample[], client: ClientName, scenario: ScenarioName, order: readonly ContenderName[]): Row[] {
  const rows: Row[] = [];
  for (const contender of order) {
    const all = samples.filter((s) => s.client === client && s.scenario === scenario && s.contender === contender);
    const mine = all.filter((s) => !s.error && Number.isFinite(s.elapsedMs) && s.elapsedMs > 0);
    const errors = [...new Set(all.map((s) => s.error).filter(Boolean))].join(' | ');
    if (mine.length === 0) {
      if (all.length > 0) rows.push({ contender, mibps: { n: 0, median: NaN, p99: NaN, min: NaN, max: NaN }, msgsPerSec: NaN, reqPerSec: NaN, p50: NaN, p99: NaN, proxyUs: undefined, proxyUsPerRequest: undefined, brokerUs: NaN, errors });
      continue;
    }
    const proxy = mine.map((s) => s.proxyUsPerMiB).filter((v): v is number => v !== undefined);
    const proxyPerRequest = mine.map((s) => s.proxyUsPerRequest).filter((v): v is number => v !== undefined);
    rows.push({
      contender,
      mibps: summarize(mine.map(mibPerSecond)),
      msgsPerSec: summarize(mine.map((s) => s.messages / (s.elapsedMs / 1000))).median,
      reqPerSec: summarize(mine.map((s) => s.requests / (s.elapsedMs / 1000))).median,
      p50: summarize(mine.map((s) => s.p50Ms)).median,
      p99: summarize(mine.map((s) => s.p99Ms)).median,
      proxyUs: proxy.length > 0 ? summarize(proxy).median : undefined,
      proxyUsPerRequest: proxyPerRequest.length > 0 ? summarize(proxyPerRequest).median : undefined,
      brokerUs: summarize(mine.map((s) => s.brokerUsPerMiB)).median,
      errors,
    });
  }
  return rows;
}

export function renderTable(samples: readonly Sample[], client: ClientName, scenario: ScenarioName, order: readonly ContenderName[]): string {
  const rows = rowsOf(samples, client, scenario, order);
  const direct = rows.find((r) => r.contender === 'direct');
  const relay = rows.find((r) => r.contender === 'relay');
  const header = ['contender', 'MiB/s median (min–max)', 'msgs/s', 'requests/s', 'p50 ms', 'p99 ms', 'proxy CPU ms/MiB', 'proxy CPU µs/request', 'broker CPU ms/MiB', 'vs direct', 'vs relay', 'aim', 'errors'];
  const body = rows.map((r) => {
    let aim = '';
    if (scenario === 'large' && r.contender === 'meshd' && direct && Number.isFinite(direct.mibps.median)) {
      aim = `≥ ${AIM_VS_DIRECT_LARGE}× direct: ${r.mibps.median / direct.mibps.median >= AIM_VS_DIRECT_LARGE ? 'meets' : 'misses'}`;
    }
    return [
      CONTENDER_LABEL[r.contender],
      Number.isFinite(r.mibps.median) ? `${fmt(r.mibps.median)} (${fmt(r.mibps.min)}–${fmt(r.mibps.max)})` : '–',
      fmtInt(r.msgsPerSec),
      fmtInt(r.reqPerSec),
      fmtMs(r.p50),
      fmtMs(r.p99),
      r.proxyUs === undefined ? '–' : (r.proxyUs / 1000).toFixed(2),
      r.proxyUsPerRequest === undefined ? '–' : r.proxyUsPerRequest.toFixed(0),
      Number.isFinite(r.brokerUs) ? (r.brokerUs / 1000).toFixed(2) : '–',
      direct && Number.isFinite(direct.mibps.median) && Number.isFinite(r.mibps.median) ? `${(r.mibps.median / direct.mibps.median).toFixed(2)}×` : '–',
      relay && Number.isFinite(relay.mibps.median) && Number.isFinite(r.mibps.median) ? `${(r.mibps.median / relay.mibps.median).toFixed(2)}×` : '–',
      aim,
      r.errors,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** One line per client × scenario: through-proxy / direct for throughput and p50/p99 latency. */
export function renderRatios(samples: readonly Sample[], clients: readonly ClientName[], scenarios: readonly ScenarioName[]): string[] {
  const lines: string[] = [];
  for (const client of clients) {
    for (const scenario of scenarios) {
      const rows = rowsOf(samples, client, scenario, ['direct', 'meshd', 'relay']);
      const d = rows.find((r) => r.contender === 'direct');
      const m = rows.find((r) => r.contender === 'meshd');
      const relay = rows.find((r) => r.contender === 'relay');
      if (!d || !m || !Number.isFinite(d.mibps.median) || !Number.isFinite(m.mibps.median)) continue;
      const t = m.mibps.median / d.mibps.median;
      const aim = scenario === 'large' ? ` (aim ≥ ${AIM_VS_DIRECT_LARGE}×: ${t >= AIM_VS_DIRECT_LARGE ? 'meets' : 'misses'})` : '';
      const vsRelay = relay && Number.isFinite(relay.mibps.median) ? `; the plain TCP relay: ${(relay.mibps.median / d.mibps.median).toFixed(2)}× direct` : '';
      lines.push(`- ${CLIENT_LABEL[client]}, ${scenario}: meshd throughput ${t.toFixed(2)}× direct${aim}, p50 ${(m.p50 / d.p50).toFixed(2)}×, p99 ${(m.p99 / d.p99).toFixed(2)}× direct's${vsRelay}`);
    }
  }
  return lines;
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function fmtInt(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–';
}

function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1);
}
