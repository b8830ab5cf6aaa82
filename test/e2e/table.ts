// The demo's table: one line per request, with what the policy intends and what happened.
import type { RowResult } from './rows.js';

const STAGE_TITLES: Record<string, string> = { l3l4: '1 L3/L4', l7: '2 L7', lockdown: '3 lockdown' };

export function renderTable(results: readonly RowResult[], pods: ReadonlyMap<string, { namespace: string; name: string }>): string {
  const header = ['STAGE', 'FROM', 'REQUEST', 'EXPECTED', 'RESULT', 'LAYER', 'POLICY', 'DETAIL', ''];
  const rows = results.map((r) => {
    const from = pods.get(r.row.from);
    return [
      STAGE_TITLES[r.row.stage] ?? r.row.stage,
      from ? `${from.namespace}/${from.name}` : r.row.from,
      r.row.request,
      r.row.expect,
      r.attempt.allowed ? 'allowed' : 'denied',
      r.decision?.layer ?? '?',
      r.decision?.policy ?? '?',
      r.attempt.detail.length > 40 ? `${r.attempt.detail.slice(0, 39)}…` : r.attempt.detail,
      r.ok ? 'ok' : 'MISMATCH',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header)];
  let stage = '';
  for (const [i, row] of rows.entries()) {
    if (results[i]!.row.stage !== stage && stage !== '') out.push('');
    stage = results[i]!.row.stage;
    out.push(line(row));
  }
  return out.join('\n');
}

export function renderProblems(results: readonly RowResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map(
      (r) =>
        `- ${r.row.from} ${r.row.request} (stage ${r.row.stage}): ${r.problems.join('; ')}` +
        (r.decision ? `\n  flow: ${r.decision.flow.summary ?? ''} ${JSON.stringify({ layer: r.decision.flow.layer, verdict: r.decision.flow.verdict, policy: r.decision.flow.policy, reason: r.decision.flow.reason })}` : '') +
        (r.attempt.output ? `\n  ${r.attempt.output.trim().split('\n').join('\n  ')}` : ''),
    )
    .join('\n');
}
