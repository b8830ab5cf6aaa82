// The node's pod addressing (defaults fixed so the datapath and its tests agree; a node of a
// cluster gets its own /24 + /64 inside the cluster ranges; docs/pods.md) and the pure helpers
// that name and number pods. Nothing here touches the system.

import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpAddress, ipInPrefix, parseCidr, parseIp, type Prefix } from '../../policy/index.js';
import { PodError } from './errors.js';

export const GATEWAY_INTERFACE = 'meshd0';
export const GATEWAY4 = '10.244.0.1';
export const GATEWAY6 = 'fd44:244::1';
export const POD_CIDR4 = '10.244.0.0/24';
export const POD_CIDR6 = 'fd44:244::/64';
export const CLUSTER_CIDR4 = '10.244.0.0/16';
export const CLUSTER_CIDR6 = 'fd44:244::/48';
/** Pod i gets host number FIRST_POD_HOST + i: 10.244.0.(10+i) and fd44:244::(a+i). */
const FIRST_POD_HOST = 10;
/** .255 stays free: it is the /24's broadcast address for anyone who thinks in subnets. */
const LAST_POD_HOST = 254;
export const DEFAULT_PREFIX = 'meshd-';
/** Host-side veth names: this prefix + 11 hex digits of a hash = 15 characters, IFNAMSIZ - 1. */
export const HOST_VETH_PREFIX = 'mshd';
export const POD_INTERFACE = 'eth0';

export interface PodAddresses {
  ipv4: string;
  ipv6: string;
}

/**
 * A node's pod ranges: an IPv4 /24 inside CLUSTER_CIDR4 and an IPv6 /64 inside CLUSTER_CIDR6,
 * the gateway being the first host of each. Pods of every node share the host numbering
 * (10..254), so the two ranges are exactly a /24 and a /64: anything else would need a second
 * numbering scheme for no test or user that exists.
 */
export interface PodRanges {
  podCidr4: string;
  podCidr6: string;
  gateway4: string;
  gateway6: string;
}

export interface PodRangeOptions {
  /** Default POD_CIDR4 (10.244.0.0/24). */
  podCidr4?: string;
  /** Default POD_CIDR6 (fd44:244::/64). */
  podCidr6?: string;
}

interface ParsedRanges extends PodRanges {
  net4: Prefix;
  net6: Prefix;
}

function checkedRange(text: string, family: 4 | 6): Prefix {
  const length = family === 4 ? 24 : 64;
  const cluster = family === 4 ? CLUSTER_CIDR4 : CLUSTER_CIDR6;
  const parsed = parseCidr(text);
  const ok = parsed.ok && !parsed.hostBitsSet && parsed.prefix.family === family && parsed.prefix.length === length;
  if (!ok || !ipInPrefix(parsed.prefix, family === 4 ? CLUSTER4 : CLUSTER6)) {
    throw new PodError(
      'MESHD_ERR_POD_INVALID_SPEC',
      `node pod range ${JSON.stringify(text)}: expected an IPv${family} /${length} inside ${cluster} with no host bits set`,
      family === 4 ? 'for example 10.244.1.0/24' : 'for example fd44:244:0:1::/64',
    );
  }
  return parsed.prefix;
}

function hostOf(range: Prefix, host: number): string {
  return formatIpAddress({ family: range.family, bits: range.bits + BigInt(host) });
}

const rangeCache = new Map<string, ParsedRanges>();

function parsedRanges(opts: PodRangeOptions): ParsedRanges {
  const podCidr4 = opts.podCidr4 ?? POD_CIDR4;
  const podCidr6 = opts.podCidr6 ?? POD_CIDR6;
  const key = `${podCidr4} ${podCidr6}`;
  let ranges = rangeCache.get(key);
  if (ranges === undefined) {
    const net4 = checkedRange(podCidr4, 4);
    const net6 = checkedRange(podCidr6, 6);
    ranges = { podCidr4: net4.canonical, podCidr6: net6.canonical, gateway4: hostOf(net4, 1), gateway6: hostOf(net6, 1), net4, net6 };
    rangeCache.set(key, ranges);
  }
  return ranges;
}

/** Validates and completes a node's pod ranges (defaults: POD_CIDR4, POD_CIDR6). Throws
 *  MESHD_ERR_POD_INVALID_SPEC for a range that is not a /24 or /64 inside the cluster ranges. */
export function resolvePodRanges(opts: PodRangeOptions = {}): PodRanges {
  const { podCidr4, podCidr6, gateway4, gateway6 } = parsedRanges(opts);
  return { podCidr4, podCidr6, gateway4, gateway6 };
}

export function podAddressesForHost(host: number, ranges: PodRangeOptions = {}): PodAddresses {
  const r = parsedRanges(ranges);
  return { ipv4: hostOf(r.net4, host), ipv6: hostOf(r.net6, host) };
}

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PREFIX = /^[a-z0-9][a-z0-9-]*$/;
/** A netns name becomes a file name and an interface alias; keep it short and plain. */
const MAX_NETNS_NAME = 63;

/** Pod names and prefixes end up in ip batch lines, file names and cgroup paths: only
 *  lowercase letters, digits and inner dashes, so none of them can be misread. */
export function validatePodName(name: string, prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod prefix ${JSON.stringify(prefix)}: use lowercase letters, digits and dashes`);
  }
  if (!NAME.test(name)) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod name ${JSON.stringify(name)}: use lowercase letters, digits and inner dashes`);
  }
  if (prefix.length + name.length > MAX_NETNS_NAME) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod name ${JSON.stringify(name)}: prefix + name longer than ${MAX_NETNS_NAME} characters`);
  }
}

function hashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `mshd` + 11 hex digits of the netns name's hash: unique enough for one node (44 bits) and
 *  within the kernel's 15-character limit whatever the pod is called. */
export function hostVethName(nsName: string): string {
  return HOST_VETH_PREFIX + hashHex(nsName).slice(0, 11);
}

/** Fixed MACs for both veth ends, so each side can get a permanent neighbour entry for the
 *  other in the same batch that creates the pair (no ARP or NDP at all; docs/pods.md).
 *  0x02 / 0x06: locally administered, unicast. */
export function vethMacs(nsName: string): { host: string; pod: string } {
  const bytes = hashHex(`mac:${nsName}`).slice(0, 10).match(/../g)!.join(':');
  return { host: `02:${bytes}`, pod: `06:${bytes}` };
}

/** Host numbers of the /32 routes into the node pod range in /proc/net/route text (the main
 *  table: destination and mask as little-endian hex). A pod's host route is its address lease:
 *  the kernel refuses a second one (EEXIST) and drops it with the veth. */
export function usedPodHosts(procNetRoute: string, ranges: PodRangeOptions = {}): Set<number> {
  const net = Number(parsedRanges(ranges).net4.bits);
  const [n0, n1, n2] = [net >>> 24, (net >>> 16) & 0xff, (net >>> 8) & 0xff];
  const used = new Set<number>();
  for (const line of procNetRoute.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const destination = fields[1];
    const mask = fields[7];
    if (destination === undefined || mask === undefined || mask.toUpperCase() !== 'FFFFFFFF') continue;
    const value = parseInt(destination, 16);
    if (!Number.isFinite(value)) continue;
    // Little-endian: the first octet is the low byte.
    const octets = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
    if (octets[0] === n0 && octets[1] === n1 && octets[2] === n2) used.add(octets[3]!);
  }
  return used;
}

/** The lowest free host number, or undefined when the range is full. */
export function pickFreeHost(unavailable: ReadonlySet<number>): number | undefined {
  for (let host = FIRST_POD_HOST; host <= LAST_POD_HOST; host++) if (!unavailable.has(host)) return host;
  return undefined;
}

function prefixOf(cidr: string): Prefix {
  const parsed = parseCidr(cidr);
  if (!parsed.ok) throw new Error(`pods: ${parsed.error}`); // a constant above: cannot happen
  return parsed.prefix;
}

const CLUSTER4 = prefixOf(CLUSTER_CIDR4);
const CLUSTER6 = prefixOf(CLUSTER_CIDR6);

/** The address as a full-length prefix if it lies in `range`, written in the range's family
 *  (parseIp reads `::ffff:10.244.0.5` as IPv4; a pod address is written in its own family). */
function addressIn(address: string, range: Prefix): Prefix | undefined {
  if (range.family === 4 ? !isIPv4(address) : !isIPv6(address)) return undefined;
  const parsed = parseIp(address);
  return parsed.ok && ipInPrefix(parsed.prefix, range) ? parsed.prefix : undefined;
}

/** The node-range host number of an address (10.244.0.N or fd44:244::N with N < 256 for the
 *  default ranges), if any. */
export function nodeHostNumber(address: string, ranges: PodRangeOptions = {}): number | undefined {
  const r = parsedRanges(ranges);
  const ip = addressIn(address, r.net4) ?? addressIn(address, r.net6);
  if (ip === undefined) return undefined;
  const host = ip.family === 4 ? ip.bits & 0xffn : ip.bits & 0xffff_ffff_ffff_ffffn;
  return host < 256n ? Number(host) : undefined;
}

/**
 * The addresses of a pod spec: both given, one given (the other from the same host number when
 * it is in the node range), or none (undefined: allocate). Addresses must lie in the cluster
 * ranges, whose blackhole routes keep a mistake on this host, and must not be the gateway or a
 * range's network address.
 */
export function resolveSpecAddresses(spec: { ipv4?: string; ipv6?: string }, ranges: PodRangeOptions = {}): PodAddresses | undefined {
  const { ipv4, ipv6 } = spec;
  const node = parsedRanges(ranges);
  if (ipv4 === undefined && ipv6 === undefined) return undefined;
  if (ipv4 !== undefined && addressIn(ipv4, CLUSTER4) === undefined) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod address ${ipv4}: not an IPv4 address in ${CLUSTER_CIDR4}`);
  }
  if (ipv6 !== undefined && addressIn(ipv6, CLUSTER6) === undefined) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod address ${ipv6}: not a plain IPv6 address in ${CLUSTER_CIDR6}`);
  }
  const given = (ipv4 ?? ipv6)!;
  const host = nodeHostNumber(given, ranges);
  const derived = host === undefined ? undefined : podAddressesForHost(host, ranges);
  const v4 = ipv4 ?? derived?.ipv4;
  const v6 = ipv6 ?? derived?.ipv6;
  if (v4 === undefined || v6 === undefined) {
    throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod address ${given} is outside the node range: give both ipv4 and ipv6`);
  }
  for (const address of [v4, v6]) {
    const n = nodeHostNumber(address, ranges);
    if (n !== undefined && n < 2) {
      throw new PodError('MESHD_ERR_POD_INVALID_SPEC', `pod address ${address}: reserved (network address or the gateway ${node.gateway4} / ${node.gateway6})`);
    }
  }
  return { ipv4: v4, ipv6: canonicalIpv6(v6) };
}

/** Lowercase, shortest form, so the same address always compares equal (RFC 5952). */
export function canonicalIpv6(address: string): string {
  const parsed = parseIp(address);
  if (!parsed.ok || parsed.prefix.family !== 6) throw new RangeError(`not a plain IPv6 address: ${address}`);
  return formatIpAddress(parsed.prefix);
}
