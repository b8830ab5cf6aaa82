// Aligned text tables for the inspect commands: a header row, columns padded to their widest
// cell, two spaces between columns, the last column not padded (no trailing blanks).

export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((r) => (r[col] ?? '').length)));
  return all.map((r) => header.map((_, col) => (col === header.length - 1 ? (r[col] ?? '') : (r[col] ?? '').padEnd(widths[col]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `1h 02m 03s`, `4m 05s`, `6s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

export function percent(part: number, whole: number): string {
  if (whole <= 0) return '-';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

/**
 * Labels as a person reads them in a table: `k8s:` dropped, the namespace as `ns=`, and the
 * labels Cilium derives for every pod (cluster, namespace labels) left out. JSON keeps them all.
 */
export function compactLabels(labels: readonly string[]): string {
  const out: string[] = [];
  let namespace: string | undefined;
  for (const l of labels) {
    if (l.startsWith('k8s:io.kubernetes.pod.namespace=')) namespace = l.slice('k8s:io.kubernetes.pod.namespace='.length);
    else if (l.startsWith('k8s:io.cilium.k8s.')) continue;
    else out.push(l.startsWith('k8s:') ? l.slice(4) : l);
  }
  if (namespace !== undefined) out.push(`ns=${namespace}`);
  return out.join(',');
}
