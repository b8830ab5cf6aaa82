// The iptables contenders. Every rule lives in a client pod's own network namespace, so it
// applies to that pod's traffic only (the other variants run beside it, unaffected), and it
// disappears with the pod: nothing to undo on the host, whatever happens to the bench.
//   policy:   filter OUTPUT, N rules: N-3 fillers, the two allows, then DROP for other TCP;
//             the allows come last, so every packet the client sends walks the whole chain,
//             as in research/bpf.md §4.3 (linear rules, no ESTABLISHED shortcut).
//   redirect: nat OUTPUT DNAT to the node relay (conntrack in the pod netns, as a per-pod
//             iptables redirect has it).

import type { Pod } from '../../agent/index.js';

export type IptablesBackend = 'nft' | 'legacy';
const RESTORE_TIMEOUT_MS = 300_000;

/** Filler addresses outside the cluster ranges: 172.16.0.0/12, one per rule. */
function fillerRule(i: number): string {
  return `-A OUTPUT -d 172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}/32 -p tcp -m tcp --dport ${1024 + (i % 60000)} -j ACCEPT`;
}

/** iptables-restore input: `size` rules in filter OUTPUT allowing TCP to `server` on `ports`. */
export function policyRules(size: number, server: string, ports: readonly number[]): string {
  const fillers = Math.max(0, size - ports.length - 1);
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (let i = 0; i < fillers; i++) lines.push(fillerRule(i));
  for (const port of ports) lines.push(`-A OUTPUT -d ${server}/32 -p tcp -m tcp --dport ${port} -j ACCEPT`);
  lines.push('-A OUTPUT -p tcp -j DROP', 'COMMIT', '');
  return lines.join('\n');
}

/** iptables-restore input: DNAT of `server:port` to `gateway:proxyPort` for each redirect. */
export function redirectRules(server: string, gateway: string, redirects: ReadonlyMap<number, number>): string {
  const lines = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]'];
  for (const [port, proxyPort] of redirects) {
    lines.push(`-A OUTPUT -d ${server}/32 -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${gateway}:${proxyPort}`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Loads `rules` into the pod's netns and checks the chain holds `expectRules` rules. */
export async function loadRules(pod: Pod, backend: IptablesBackend, rules: string, table: 'filter' | 'nat', expectRules: number): Promise<void> {
  const restore = await pod.exec(`iptables-${backend}-restore`, ['-w'], { input: rules, timeoutMs: RESTORE_TIMEOUT_MS });
  if (restore.code !== 0) throw new Error(`iptables-${backend}-restore in pod ${pod.name}: ${restore.stderr}`);
  const listed = await pod.exec(`iptables-${backend}`, ['-w', '-t', table, '-S', 'OUTPUT'], { timeoutMs: RESTORE_TIMEOUT_MS });
  const count = listed.stdout.split('\n').filter((l) => l.startsWith('-A OUTPUT')).length;
  if (count !== expectRules) throw new Error(`pod ${pod.name}: iptables-${backend} -t ${table} OUTPUT has ${count} rules, expected ${expectRules}`);
}
