// The tables bench/bpf prints (STYLE.md: benches print ratios): per variant the median of the
// repetitions with its spread, the p50 latency, and the paired ratio to the baseline; then the
// comparisons the issue asks for, each a paired ratio (median over repetitions of
// contender ÷ reference measured in the same repetition).

import { summarize } from '../bench-report.js';
import type { Samples, Sample, Workload } from './measure.js';

export interface Comparison {
  label: string;
  contender: string;
  reference: string;
  /** A lower bound the ratio should reach (the aim), shown next to it. */
  aim?: number;
}

export function pairedRatios(contender: readonly Sample[], reference: readonly Sample[]): number[] {
  return contender.map((s, i) => s.value / reference[i]!.value);
}

function fmtRate(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(3);
}

function fmtRatio(values: readonly number[]): string {
  const s = summarize(values);
  const r = (x: number) => (x < 0.01 ? x.toPrecision(2) : x.toFixed(3));
  return values.length > 1 ? `${r(s.median)} (${r(s.min)}–${r(s.max)})` : r(s.median);
}

function spreadPercent(values: readonly number[]): string {
  const s = summarize(values);
  return s.median === 0 ? '—' : `±${(((s.max - s.min) / 2 / s.median) * 100).toFixed(0)}%`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function renderScenario(o: {
  labels: ReadonlyMap<string, string>;
  workloads: readonly Workload[];
  samples: Samples;
  baseline: string;
  comparisons: readonly Comparison[];
}): string {
  const { labels, workloads, samples, baseline } = o;
  // One row per workload and variant: stays readable however many workloads a scenario has.
  const header = ['workload', 'variant', 'median', 'spread', 'p50 µs', `vs ${labels.get(baseline)} (paired)`];
  const rows: string[][] = [];
  for (const w of workloads) {
    for (const [name, label] of labels) {
      const s = samples.get(name)!.get(w.name)!;
      const values = s.map((x) => x.value);
      rows.push([
        w.unit,
        label,
        fmtRate(summarize(values).median),
        spreadPercent(values),
        w.name.startsWith('tput') ? '—' : summarize(s.map((x) => x.p50Us)).median.toFixed(1),
        name === baseline ? '1' : fmtRatio(pairedRatios(s, samples.get(baseline)!.get(w.name)!)),
      ]);
    }
  }
  const parts = [table(header, rows)];
  if (o.comparisons.length > 0) {
    const ratio = (c: Comparison, w: Workload) => pairedRatios(samples.get(c.contender)!.get(w.name)!, samples.get(c.reference)!.get(w.name)!);
    const cHeader = ['paired ratio: median (min–max)', ...workloads.map((w) => w.unit), 'aim'];
    const cRows = o.comparisons.map((c) => [
      c.label,
      ...workloads.map((w) => fmtRatio(ratio(c, w))),
      c.aim === undefined ? '—' : `≥ ${c.aim} ${workloads.every((w) => summarize(ratio(c, w)).median >= c.aim!) ? '(met)' : '(missed)'}`,
    ]);
    parts.push(table(cHeader, cRows));
  }
  return parts.join('\n\n');
}
