// Identity sets as IP sets, from the ipcache view (prefix → identity). A peer's identity is the one
// of the longest ipcache prefix holding its address (world when none does), so "the peer's identity
// is in S" is exactly: inside some prefix p of S, and not inside a longer prefix inside p that
// belongs to an identity outside S. For pod /32s that is just the list of addresses; for CIDR and
// world identities it carves out the more specific prefixes of other identities.
import { BlockList, isIP } from 'node:net';
import type { IpSetPlan, PrefixPlan } from '../resources/index.js';
import { XdsTranslateError } from './errors.js';

export interface IpCacheEntry {
  /** `10.0.0.1/32`, `10.0.0.0/8`, `fd00::/64`. */
  prefix: string;
  identity: number;
}

interface Prefix extends PrefixPlan {
  family: 4 | 6;
  identity: number;
  text: string;
}

export class IpCacheIndex {
  readonly #prefixes: Prefix[];
  readonly #blocks = new Map<string, BlockList>();
  readonly #memo = new Map<string, IpSetPlan>();

  constructor(entries: Iterable<IpCacheEntry>, world: { ipv4: number; ipv6: number }) {
    const byText = new Map<string, Prefix>();
    for (const e of entries) {
      const prefix = parsePrefix(e.prefix, e.identity);
      byText.set(prefix.text, prefix);
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
    if (q.family !== p.family || q.length <= p.length) return false;
    let block = this.#blocks.get(p.text);
    if (!block) {
      block = new BlockList();
      block.addSubnet(p.address, p.length, p.family === 4 ? 'ipv4' : 'ipv6');
      this.#blocks.set(p.text, block);
    }
    return block.check(q.address, q.family === 4 ? 'ipv4' : 'ipv6');
  }
}

function orOf(items: IpSetPlan[]): IpSetPlan {
  return items.length === 1 ? items[0]! : { kind: 'or', items };
}

export function parsePrefix(text: string, identity: number): Prefix {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `ipcache prefix "${text}" has no valid address`);
  const max = family === 4 ? 32 : 128;
  const length = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(length) || length < 0 || length > max) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `ipcache prefix "${text}" has a bad length`);
  return { address, length, family: family as 4 | 6, identity, text: `${address}/${length}` };
}

/** An endpoint address as a host prefix. */
export function hostPrefix(ip: string): PrefixPlan {
  const family = isIP(ip);
  if (family === 0) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `endpoint address "${ip}" is not an IP address`);
  return { address: ip, length: family === 4 ? 32 : 128 };
}

function comparePrefixes(a: Prefix, b: Prefix): number {
  return a.family - b.family || a.length - b.length || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
}
