// Summaries and the results table every meshd benchmark prints (STYLE.md: benches print ratios):
// each row has a median and a spread, its aim, the ratio to that aim, and the ratio to the
// baseline row, so a reader sees at once how far off the aim is and what the contender saves.

import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';

export interface Summary {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
}

/** Median and nearest-rank p99 of `values` (not modified). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summarize needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { n: sorted.length, median, p99: rank(0.99), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

export interface BenchRow {
  scenario: string;
  summary: Summary;
  unit: 'ms' | 'MB';
  /** The aim for the median, in `unit`; absent when the issue sets none. */
  target?: number;
  /** Compare this row's median with the baseline row's (contender / baseline). */
  isContender?: boolean;
  isBaseline?: boolean;
}

/** Fewer samples than this show min–max instead of a p99, which would just be the maximum. */
const P99_MIN_SAMPLES = 20;

export function renderTable(rows: readonly BenchRow[]): string {
  const baseline = rows.find((r) => r.isBaseline);
  const header = ['scenario', 'n', 'median', 'p99 / spread', 'target', 'ratio to target', 'vs naive'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.summary.n),
    formatValue(r.summary.median, r.unit),
    formatSpread(r.summary, r.unit),
    r.target === undefined ? '—' : `< ${formatValue(r.target, r.unit)}`,
    r.target === undefined ? '—' : formatRatioToTarget(r.summary.median / r.target),
    r.isBaseline ? '1 (baseline)' : r.isContender && baseline ? formatSpeedup(baseline.summary.median, r.summary.median) : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function describeMachine(now = new Date()): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  return `machine: ${model}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${platform()} ${release()} ${arch()}, node ${process.version}; date ${now.toISOString()}`;
}

/** Other work on the machine skews every number; say how busy it was when the run started. */
export function describeLoad(): string {
  const [one, five] = loadavg();
  return `load average ${one?.toFixed(2)} (1 min), ${five?.toFixed(2)} (5 min) on ${cpus().length} cores`;
}

export function formatValue(value: number, unit: 'ms' | 'MB'): string {
  if (unit === 'MB') return `${value.toFixed(1)} MB`;
  if (value < 1) return `${(value * 1000).toPrecision(3)} µs`;
  if (value < 1000) return `${value.toPrecision(3)} ms`;
  return `${(value / 1000).toPrecision(3)} s`;
}

function formatSpread(s: Summary, unit: 'ms' | 'MB'): string {
  if (s.n === 1) return '—';
  if (s.n >= P99_MIN_SAMPLES) return `p99 ${formatValue(s.p99, unit)}`;
  const halfRange = s.median === 0 ? 0 : ((s.max - s.min) / 2 / s.median) * 100;
  return `${formatValue(s.min, unit)}–${formatValue(s.max, unit)} (±${halfRange.toFixed(0)}%)`;
}

function formatRatioToTarget(ratio: number): string {
  return `${ratio < 0.01 ? ratio.toPrecision(1) : ratio.toFixed(2)}× ${ratio <= 1 ? '(meets aim)' : '(misses aim)'}`;
}

function formatSpeedup(baseline: number, contender: number): string {
  const ratio = contender / baseline;
  return `${ratio < 0.01 ? ratio.toPrecision(2) : ratio.toFixed(2)}× (${(baseline / contender).toFixed(0)}× faster)`;
}
