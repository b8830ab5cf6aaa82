// Network interfaces of the current network namespace. /sys/class/net shows the netns that
// mounted sysfs, not the caller's: a process that entered another netns with nsenter (bench/bpf
// runs its whole node in one) would see the wrong interfaces there. /proc/net is
// /proc/self/net, the caller's own netns, and `ip` works in the caller's netns too.

import { readFileSync } from 'node:fs';
import { HOST_VETH_PREFIX } from './addresses.js';
import { runCommand } from './run-command.js';

/** Interface names in /proc/net/dev text (two header lines, then `name: counters…`). */
export function parseProcNetDev(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.add(line.slice(0, colon).trim());
  }
  return names;
}

export function linkExists(name: string): boolean {
  return parseProcNetDev(readFileSync('/proc/net/dev', 'utf8')).has(name);
}

export interface PodVeth {
  name: string;
  /** The owning pod's netns name ('' when unset). */
  alias: string;
}

/** Host veths of meshd pods in this netns, with their aliases. */
export async function listPodVeths(): Promise<PodVeth[]> {
  const links = JSON.parse((await runCommand('ip', ['-j', 'link', 'show'])).stdout || '[]') as Array<{ ifname?: string; ifalias?: string }>;
  return links.filter((l) => l.ifname?.startsWith(HOST_VETH_PREFIX)).map((l) => ({ name: l.ifname!, alias: l.ifalias ?? '' }));
}

/** The ifindex in `ip link show` output (`13: mshd…@if2: <…>`), for the named link. */
export function ifindexFromLinkShow(output: string, name: string): number | undefined {
  for (const line of output.split('\n')) {
    const m = /^(\d+): ([^:@\s]+)[@:]/.exec(line);
    if (m && m[2] === name) return Number(m[1]);
  }
  return undefined;
}
