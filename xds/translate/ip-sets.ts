// Identity sets as IP sets, from the ipcache view (prefix → identity). A peer's identity is the one
// of the longest ipcache prefix holding its address (world when none does), so "the peer's identity
// is in S" is exactly: inside some prefix p of S, and not inside a longer prefix inside p that
// belongs to an identity outside S. For pod /32s that is just the list of addresses; for CIDR and
// world identities it carves out the more specific prefixes of other identities.
import { isIP } from 'node:net';
import { parseCidr, parseIp, prefixContains } from '../../policy/index.js';
import type { Prefix as CidrPrefix } from '../../policy/index.js';
import type { IpSetPlan, PrefixPlan } from '../resources/index.js';
import { XdsTranslateError } from './errors.js';

export interface IpCacheEntry {
  /** `10.0.0.1/32`, `10.0.0.0/8`, `fd00::/64`. */
  prefix: string;
  identity: number;
}

interface Prefix extends PrefixPlan {
  cidr: CidrPrefix;
  identity: number;
}

export class IpCacheIndex {
  readonly #prefixes: Prefix[];
  readonly #memo = new Map<string, IpSetPlan>();

  constructor(entries: Iterable<IpCacheEntry>, world: { ipv4: number; ipv6: number }) {
    const byText = new Map<string, Prefix>();
    for (const e of entries) {
      const prefix = parsePrefix(e.prefix, e.identity);
      byText.set(prefix.cidr.canonical, prefix);
    }
    // Addresses no prefix holds are world's: make that an explicit /0 unless the view has one.
    if (!byText.has('0.0.0.0/0')) byText.set('0.0.0.0/0', parsePrefix('0.0.0.0/0', world.ipv4));
    if (!byText.has('::/0')) byText.set('::/0', parsePrefix('::/0', world.ipv6));
    this.#prefixes = [...byText.values()].sort(comparePrefixes);
  }

  /** The addresses whose identity is one of `identities`. */
  ipSetOf(identities: ReadonlySet<number>): IpSetPlan {
    const key = [...identities].sort((a, b) => a - b).join(',');
    const hit = this.#memo.get(key);
    if (hit) return hit;
    const terms: IpSetPlan[] = [];
    for (const p of this.#prefixes) {
      if (!identities.has(p.identity)) continue;
      const inside = this.#prefixes.filter((q) => !identities.has(q.identity) && this.#strictlyInside(q, p));
      // Only the outermost carve-outs matter: an address in a nested one is in its parent too.
      const outermost = inside.filter((q) => !inside.some((r) => r !== q && this.#strictlyInside(q, r)));
      const prefix: IpSetPlan = { kind: 'prefix', prefix: { address: p.address, length: p.length } };
      terms.push(outermost.length === 0 ? prefix : { kind: 'and', items: [prefix, { kind: 'not', item: orOf(outermost.map((q) => ({ kind: 'prefix', prefix: { address: q.address, length: q.length } }))) }] });
    }
    const set: IpSetPlan = terms.length === 0 ? { kind: 'none' } : orOf(terms);
    this.#memo.set(key, set);
    return set;
  }

  #strictlyInside(q: Prefix, p: Prefix): boolean {
    return q.length > p.length && prefixContains(p.cidr, q.cidr);
  }
}

function orOf(items: IpSetPlan[]): IpSetPlan {
  return items.length === 1 ? items[0]! : { kind: 'or', items };
}

/** An ipcache key: a CIDR, or a bare address as its host prefix (host bits past the length are cleared). */
function parsePrefix(text: string, identity: number): Prefix {
  const parsed = text.includes('/') ? parseCidr(text) : parseIp(text);
  if (!parsed.ok) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `ipcache prefix "${text}": ${parsed.error}`);
  const cidr = parsed.prefix;
  return { address: cidr.canonical.slice(0, cidr.canonical.lastIndexOf('/')), length: cidr.length, cidr, identity };
}

/** An endpoint address as a host prefix. */
export function hostPrefix(ip: string): PrefixPlan {
  const family = isIP(ip);
  if (family === 0) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `endpoint address "${ip}" is not an IP address`);
  return { address: ip, length: family === 4 ? 32 : 128 };
}

function comparePrefixes(a: Prefix, b: Prefix): number {
  return a.cidr.family - b.cidr.family || a.length - b.length || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
}
