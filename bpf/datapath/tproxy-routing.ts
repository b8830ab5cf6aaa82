// The node's half of BPF TPROXY (tc.bpf.c, docs/adr/0003): a packet that tc assigned to a
// proxy socket still has a pod's address as destination, and routing would forward it to the
// pod. Packets carrying the mark are looked up in a table whose only route says "every address
// is local", so they are delivered to the assigned socket (Cilium installs the same pair):
//   ip rule add fwmark 0x200/0xf00 lookup <table> priority <priority>
//   ip route replace local 0.0.0.0/0 dev lo table <table>      (and the -6 twins)
// Done with the `ip` command (iproute2, present wherever meshd's pods are): a netlink client in
// Node for four messages is not worth its weight. Runs in the caller's network namespace.
import { execFileSync } from 'node:child_process';
import { TPROXY_MARK, TPROXY_MARK_MASK } from './constants.js';
import { DatapathError } from './errors.js';

export interface TproxyRoutingOptions {
  /** Routing table of the local-delivery route; default 2004 (Cilium's "to proxy" table). */
  table?: number;
  /** Priority of the fwmark rule: before the main table (32766); default 9, as Cilium. */
  priority?: number;
}

export const DEFAULT_TPROXY_TABLE = 2004;
export const DEFAULT_TPROXY_RULE_PRIORITY = 9;

const FAMILIES = [
  { flag: '-4', everything: '0.0.0.0/0' },
  { flag: '-6', everything: '::/0' },
] as const;

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new DatapathError('MESHD_ERR_DATAPATH_ROUTING', `ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`, {
      hint: 'needs root (CAP_NET_ADMIN) and iproute2 (`ip`) in PATH',
      cause: err,
    });
  }
}

/** `ip … route show table T …`: IPv4 answers an error for a table that does not exist yet. */
function localRoutes(flag: '-4' | '-6', table: number, everything: string): string {
  try {
    return execFileSync('ip', [flag, 'route', 'show', 'table', String(table), 'type', 'local', everything], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
}

function markArg(): string {
  return `0x${TPROXY_MARK.toString(16)}/0x${TPROXY_MARK_MASK.toString(16)}`;
}

/** Rules of one family that match our mark and table (`ip -j rule show`). */
function ourRules(flag: '-4' | '-6', table: number): Array<{ priority: number }> {
  const rules = JSON.parse(ip(['-j', flag, 'rule', 'show']) || '[]') as Array<{ priority?: number; fwmark?: string; fwmask?: string; table?: string }>;
  return rules
    .filter((r) => Number(r.fwmark) === TPROXY_MARK && Number(r.fwmask ?? '0xffffffff') === TPROXY_MARK_MASK && String(r.table) === String(table))
    .map((r) => ({ priority: r.priority ?? 0 }));
}

/**
 * Installs the fwmark rule and the local-delivery route for both families, idempotently (a
 * rule already there is kept, the route is `replace`d). The agent calls it at node setup,
 * before attachIngressDevice; teardownTproxyRouting removes both.
 */
export function setupTproxyRouting(options: TproxyRoutingOptions = {}): void {
  const table = options.table ?? DEFAULT_TPROXY_TABLE;
  const priority = options.priority ?? DEFAULT_TPROXY_RULE_PRIORITY;
  for (const { flag, everything } of FAMILIES) {
    ip([flag, 'route', 'replace', 'local', everything, 'dev', 'lo', 'table', String(table)]);
    if (ourRules(flag, table).length === 0) {
      ip([flag, 'rule', 'add', 'fwmark', markArg(), 'lookup', String(table), 'priority', String(priority)]);
    }
  }
}

/** Removes what setupTproxyRouting installed (every copy of the rule); absent parts are fine. */
export function teardownTproxyRouting(options: TproxyRoutingOptions = {}): void {
  const table = options.table ?? DEFAULT_TPROXY_TABLE;
  for (const { flag, everything } of FAMILIES) {
    for (const r of ourRules(flag, table)) {
      ip([flag, 'rule', 'del', 'fwmark', markArg(), 'lookup', String(table), 'priority', String(r.priority)]);
    }
    const routes = localRoutes(flag, table, everything);
    if (routes.trim() !== '') ip([flag, 'route', 'del', 'local', everything, 'dev', 'lo', 'table', String(table)]);
  }
}

/** Whether both families' rule and route are in place (for status and tests). */
export function tproxyRoutingInstalled(options: TproxyRoutingOptions = {}): boolean {
  const table = options.table ?? DEFAULT_TPROXY_TABLE;
  return FAMILIES.every(({ flag, everything }) => {
    if (ourRules(flag, table).length === 0) return false;
    return localRoutes(flag, table, everything).trim() !== '';
  });
}
