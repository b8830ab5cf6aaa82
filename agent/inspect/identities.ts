// `meshd identity list`: every identity this agent uses — the reserved ones, the pods', and the
// local ones of CIDR and learned-FQDN prefixes — with its labels, reference count and scope.
//
// The allocator cannot enumerate what it holds, so the list is the union of the places an
// identity is used: the reserved table, the endpoints, the kernel's ipcache and the FQDN cache.
import { RESERVED_IDENTITIES } from '../../policy/index.js';
import type { LabelSet } from '../../policy/index.js';
import { compactLabels, renderTable } from './table.js';

export type IdentityScopeName = 'reserved' | 'global' | 'local';

export interface IdentityRow {
  id: number;
  labels: string[];
  /** References the allocator counts (endpoints, learned IPs); null for reserved identities, which are not counted. */
  refcount: number | null;
  scope: IdentityScopeName;
  /** Pods (`namespace/name`) with this identity. */
  endpoints: string[];
  /** ipcache prefixes that map to it. */
  prefixes: string[];
}

export interface IdentitySources {
  endpoints(): ReadonlyArray<{ id: string; identity: number }>;
  ipcache(): ReadonlyArray<readonly [string, number]>;
  /** Identities of learned FQDN IPs (they are in the ipcache too, unless the kernel lost them). */
  fqdnIdentities(): Iterable<number>;
  labelsOf(id: number): LabelSet | undefined;
  refCount(id: number): number;
}

/** Cilium's numbering: node-local identities carry the scope bit 1 << 24. */
const LOCAL_SCOPE_BIT = 1 << 24;
const RESERVED_IDS = new Map(RESERVED_IDENTITIES.map((r) => [r.id, r]));

export function listIdentities(s: IdentitySources): IdentityRow[] {
  const rows = new Map<number, IdentityRow>();
  const row = (id: number): IdentityRow => {
    let r = rows.get(id);
    if (!r) {
      const reserved = RESERVED_IDS.get(id);
      const labels = s.labelsOf(id) ?? reserved?.labels;
      r = {
        id,
        labels: labels?.toStrings() ?? [],
        refcount: reserved ? null : s.refCount(id),
        scope: reserved ? 'reserved' : id >= LOCAL_SCOPE_BIT ? 'local' : 'global',
        endpoints: [],
        prefixes: [],
      };
      rows.set(id, r);
    }
    return r;
  };
  for (const r of RESERVED_IDENTITIES) row(r.id);
  for (const e of s.endpoints()) row(e.identity).endpoints.push(e.id);
  for (const [prefix, id] of s.ipcache()) row(id).prefixes.push(prefix);
  for (const id of s.fqdnIdentities()) row(id);
  const out = [...rows.values()].sort((a, b) => a.id - b.id);
  for (const r of out) {
    r.endpoints.sort();
    r.prefixes.sort();
  }
  return out;
}

export function renderIdentities(rows: readonly IdentityRow[]): string {
  return renderTable(
    ['ID', 'SCOPE', 'REFS', 'LABELS', 'USED BY'],
    rows.map((r) => [
      String(r.id),
      r.scope,
      r.refcount === null ? '-' : String(r.refcount),
      compactLabels(r.labels) || '(unknown)',
      usedBy(r),
    ]),
  );
}

function usedBy(r: IdentityRow): string {
  const parts: string[] = [];
  if (r.endpoints.length > 0) parts.push(r.endpoints.join(','));
  // Pods' own addresses are in the ipcache too; only other prefixes say something new.
  const prefixes = r.endpoints.length > 0 ? [] : r.prefixes;
  if (prefixes.length > 3) parts.push(`${prefixes.slice(0, 3).join(',')} +${prefixes.length - 3} prefixes`);
  else if (prefixes.length > 0) parts.push(prefixes.join(','));
  return parts.join(' ') || '-';
}
