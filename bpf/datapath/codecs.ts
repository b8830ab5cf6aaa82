// Encoders and decoders for the map keys, values and events of bpf/lib/*.h. Each struct's
// size and member offsets are spelled out once, in STRUCT_LAYOUTS, under the C names;
// codecs.test.ts reads the compiled objects' BTF and compares every one of them.
import { AF_INET, IPCACHE_PREFIX_BASE, POLICY_PREFIX_BASE } from './constants.js';
import type { BinaryAddress, BinaryPrefix } from './addresses.js';

export interface StructLayout {
  size: number;
  /** C member name → byte offset. */
  offsets: Record<string, number>;
}

export const STRUCT_LAYOUTS = {
  datapath_config: { size: 32, offsets: { sample_allowed: 0, flags: 4, proxy_ipv4: 8, proxy_ipv6: 12, pad: 28 } },
  endpoint_info: { size: 32, offsets: { endpoint_id: 0, identity: 4, flags: 8, ipv4: 12, ipv6: 16 } },
  endpoint_addr_key: { size: 20, offsets: { family: 0, pad: 1, addr: 4 } },
  endpoint_addr_value: { size: 16, offsets: { cgroup_id: 0, endpoint_id: 8, pad: 12 } },
  ipcache_key: { size: 24, offsets: { prefixlen: 0, family: 4, pad: 5, addr: 8 } },
  ipcache_value: { size: 8, offsets: { identity: 0, flags: 4 } },
  policy_key: { size: 12, offsets: { prefixlen: 0, peer_identity: 4, direction: 8, protocol: 9, dport: 10 } },
  policy_value: { size: 8, offsets: { proxy_port: 0, flags: 2, pad: 3, l7_span: 4 } },
  orig_dst_key: {
    size: 40,
    offsets: { client_addr: 0, proxy_addr: 16, client_port: 32, proxy_port: 34, family: 36, protocol: 37, pad: 38 },
  },
  orig_dst: {
    size: 32,
    offsets: { addr: 0, port: 16, family: 18, protocol: 19, endpoint_id: 20, local_identity: 24, peer_identity: 28 },
  },
  udp_peer_key: { size: 32, offsets: { cookie: 0, addr: 8, port: 24, family: 26, pad: 27 } },
  verdict_event: {
    size: 80,
    offsets: {
      timestamp_ns: 0,
      cookie: 8,
      endpoint_id: 16,
      local_identity: 20,
      peer_identity: 24,
      saddr: 28,
      daddr: 44,
      sport: 60,
      dport: 62,
      family: 64,
      protocol: 65,
      direction: 66,
      verdict: 67,
      drop_reason: 68,
      proxy_port: 70,
      hook: 72,
      pad: 73,
    },
  },
} as const satisfies Record<string, StructLayout>;

const L = STRUCT_LAYOUTS;

// ---- config -------------------------------------------------------------------------------

export interface DatapathConfigValue {
  sampleAllowed: number;
  flags: number;
  /** 4 bytes, network order; zeros = no proxy address. */
  proxyIpv4: Buffer;
  /** 16 bytes. */
  proxyIpv6: Buffer;
}

export function encodeConfig(c: DatapathConfigValue): Buffer {
  const o = L.datapath_config.offsets;
  const b = Buffer.alloc(L.datapath_config.size);
  b.writeUInt32LE(c.sampleAllowed >>> 0, o.sample_allowed);
  b.writeUInt32LE(c.flags >>> 0, o.flags);
  c.proxyIpv4.copy(b, o.proxy_ipv4, 0, 4);
  c.proxyIpv6.copy(b, o.proxy_ipv6, 0, 16);
  return b;
}

export function encodeU32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

// ---- endpoints ----------------------------------------------------------------------------

export interface EndpointInfoValue {
  endpointId: number;
  identity: number;
  flags: number;
  /** 4 bytes or zeros. */
  ipv4: Buffer;
  /** 16 bytes or zeros. */
  ipv6: Buffer;
}

export function encodeEndpointKey(cgroupId: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(cgroupId);
  return b;
}

export function decodeEndpointKey(b: Buffer): bigint {
  return b.readBigUInt64LE(0);
}

export function encodeEndpointInfo(e: EndpointInfoValue): Buffer {
  const o = L.endpoint_info.offsets;
  const b = Buffer.alloc(L.endpoint_info.size);
  b.writeUInt32LE(e.endpointId >>> 0, o.endpoint_id);
  b.writeUInt32LE(e.identity >>> 0, o.identity);
  b.writeUInt32LE(e.flags >>> 0, o.flags);
  e.ipv4.copy(b, o.ipv4, 0, 4);
  e.ipv6.copy(b, o.ipv6, 0, 16);
  return b;
}

export function decodeEndpointInfo(b: Buffer): EndpointInfoValue {
  const o = L.endpoint_info.offsets;
  return {
    endpointId: b.readUInt32LE(o.endpoint_id),
    identity: b.readUInt32LE(o.identity),
    flags: b.readUInt32LE(o.flags),
    ipv4: Buffer.from(b.subarray(o.ipv4, o.ipv4 + 4)),
    ipv6: Buffer.from(b.subarray(o.ipv6, o.ipv6 + 16)),
  };
}

/** A pod address as the endpoint-address map keys it (IPv4 in the first 4 bytes). */
export function encodeEndpointAddrKey(a: BinaryAddress): Buffer {
  const o = L.endpoint_addr_key.offsets;
  const b = Buffer.alloc(L.endpoint_addr_key.size);
  b.writeUInt8(a.family, o.family);
  a.bytes.copy(b, o.addr, 0, 16);
  return b;
}

export function decodeEndpointAddrKey(b: Buffer): BinaryAddress {
  const o = L.endpoint_addr_key.offsets;
  const family = b.readUInt8(o.family) === AF_INET ? AF_INET : (10 as const);
  return { family, bytes: Buffer.from(b.subarray(o.addr, o.addr + 16)) };
}

export interface EndpointAddrValue {
  cgroupId: bigint;
  endpointId: number;
}

export function encodeEndpointAddrValue(v: EndpointAddrValue): Buffer {
  const o = L.endpoint_addr_value.offsets;
  const b = Buffer.alloc(L.endpoint_addr_value.size);
  b.writeBigUInt64LE(v.cgroupId, o.cgroup_id);
  b.writeUInt32LE(v.endpointId >>> 0, o.endpoint_id);
  return b;
}

export function decodeEndpointAddrValue(b: Buffer): EndpointAddrValue {
  const o = L.endpoint_addr_value.offsets;
  return { cgroupId: b.readBigUInt64LE(o.cgroup_id), endpointId: b.readUInt32LE(o.endpoint_id) };
}

// ---- ipcache ------------------------------------------------------------------------------

export function encodeIpcacheKey(p: BinaryPrefix): Buffer {
  const o = L.ipcache_key.offsets;
  const b = Buffer.alloc(L.ipcache_key.size);
  b.writeUInt32LE(IPCACHE_PREFIX_BASE + p.length, o.prefixlen);
  b.writeUInt8(p.family, o.family);
  p.bytes.copy(b, o.addr, 0, 16);
  return b;
}

export function decodeIpcacheKey(b: Buffer): BinaryPrefix {
  const o = L.ipcache_key.offsets;
  const family = b.readUInt8(o.family) === AF_INET ? AF_INET : (10 as const);
  return { family, length: b.readUInt32LE(o.prefixlen) - IPCACHE_PREFIX_BASE, bytes: Buffer.from(b.subarray(o.addr, o.addr + 16)) };
}

export function encodeIpcacheValue(identity: number): Buffer {
  const b = Buffer.alloc(L.ipcache_value.size);
  b.writeUInt32LE(identity >>> 0, L.ipcache_value.offsets.identity);
  return b;
}

export function decodeIpcacheValue(b: Buffer): number {
  return b.readUInt32LE(L.ipcache_value.offsets.identity);
}

// ---- policy -------------------------------------------------------------------------------

export interface PolicyKey {
  /** 0 = any peer. */
  peerIdentity: number;
  direction: number;
  protocol: number;
  /** First port of the prefix (host order). */
  port: number;
  /** How many leading port bits the entry fixes: 16 = one port, 0 = every port. */
  portPrefixBits: number;
}

export interface PolicyValue {
  flags: number;
  proxyPort: number;
  l7Span: number;
}

export function encodePolicyKey(k: PolicyKey): Buffer {
  const o = L.policy_key.offsets;
  const b = Buffer.alloc(L.policy_key.size);
  b.writeUInt32LE(POLICY_PREFIX_BASE + k.portPrefixBits, o.prefixlen);
  b.writeUInt32LE(k.peerIdentity >>> 0, o.peer_identity);
  b.writeUInt8(k.direction, o.direction);
  b.writeUInt8(k.protocol, o.protocol);
  b.writeUInt16BE(k.port, o.dport);
  return b;
}

export function decodePolicyKey(b: Buffer): PolicyKey {
  const o = L.policy_key.offsets;
  return {
    portPrefixBits: b.readUInt32LE(o.prefixlen) - POLICY_PREFIX_BASE,
    peerIdentity: b.readUInt32LE(o.peer_identity),
    direction: b.readUInt8(o.direction),
    protocol: b.readUInt8(o.protocol),
    port: b.readUInt16BE(o.dport),
  };
}

export function encodePolicyValue(v: PolicyValue): Buffer {
  const o = L.policy_value.offsets;
  const b = Buffer.alloc(L.policy_value.size);
  b.writeUInt16LE(v.proxyPort, o.proxy_port);
  b.writeUInt8(v.flags, o.flags);
  b.writeUInt32LE(v.l7Span >>> 0, o.l7_span);
  return b;
}

export function decodePolicyValue(b: Buffer): PolicyValue {
  const o = L.policy_value.offsets;
  return { proxyPort: b.readUInt16LE(o.proxy_port), flags: b.readUInt8(o.flags), l7Span: b.readUInt32LE(o.l7_span) };
}

// ---- original destinations ----------------------------------------------------------------

export interface OrigDstKey {
  family: number;
  protocol: number;
  client: BinaryAddress;
  clientPort: number;
  proxy: BinaryAddress;
  proxyPort: number;
}

export function encodeOrigDstKey(k: OrigDstKey): Buffer {
  const o = L.orig_dst_key.offsets;
  const b = Buffer.alloc(L.orig_dst_key.size);
  k.client.bytes.copy(b, o.client_addr, 0, 16);
  k.proxy.bytes.copy(b, o.proxy_addr, 0, 16);
  b.writeUInt16BE(k.clientPort, o.client_port);
  b.writeUInt16BE(k.proxyPort, o.proxy_port);
  b.writeUInt8(k.family, o.family);
  b.writeUInt8(k.protocol, o.protocol);
  return b;
}

export interface OrigDstValue {
  family: number;
  protocol: number;
  address: Buffer;
  port: number;
  endpointId: number;
  localIdentity: number;
  peerIdentity: number;
}

export function decodeOrigDst(b: Buffer): OrigDstValue {
  const o = L.orig_dst.offsets;
  return {
    address: Buffer.from(b.subarray(o.addr, o.addr + 16)),
    port: b.readUInt16BE(o.port),
    family: b.readUInt8(o.family),
    protocol: b.readUInt8(o.protocol),
    endpointId: b.readUInt32LE(o.endpoint_id),
    localIdentity: b.readUInt32LE(o.local_identity),
    peerIdentity: b.readUInt32LE(o.peer_identity),
  };
}

// ---- UDP peers ----------------------------------------------------------------------------

/** meshd_udp_peers_v1: {socket cookie, peer} → last send (bpf_ktime_get_ns). */
export interface UdpPeerRecord {
  cookie: bigint;
  family: number;
  /** 16 bytes; IPv4 in the first 4. */
  address: Buffer;
  port: number;
  lastSendNs: bigint;
}

export const UDP_PEER_VALUE_SIZE = 8;

export function encodeUdpPeer(r: UdpPeerRecord): { key: Buffer; value: Buffer } {
  const o = L.udp_peer_key.offsets;
  const key = Buffer.alloc(L.udp_peer_key.size);
  key.writeBigUInt64LE(r.cookie, o.cookie);
  r.address.copy(key, o.addr, 0, 16);
  key.writeUInt16BE(r.port, o.port);
  key.writeUInt8(r.family, o.family);
  const value = Buffer.alloc(UDP_PEER_VALUE_SIZE);
  value.writeBigUInt64LE(r.lastSendNs);
  return { key, value };
}

/** undefined for a record of another size (a map of another layout). */
export function decodeUdpPeer(key: Buffer, value: Buffer): UdpPeerRecord | undefined {
  if (key.length !== L.udp_peer_key.size || value.length !== UDP_PEER_VALUE_SIZE) return undefined;
  const o = L.udp_peer_key.offsets;
  return {
    cookie: key.readBigUInt64LE(o.cookie),
    address: Buffer.from(key.subarray(o.addr, o.addr + 16)),
    port: key.readUInt16BE(o.port),
    family: key.readUInt8(o.family),
    lastSendNs: value.readBigUInt64LE(0),
  };
}

// ---- events -------------------------------------------------------------------------------

export interface RawVerdictEvent {
  timestampNs: bigint;
  cookie: bigint;
  endpointId: number;
  localIdentity: number;
  peerIdentity: number;
  saddr: Buffer;
  daddr: Buffer;
  sport: number;
  dport: number;
  family: number;
  protocol: number;
  direction: number;
  verdict: number;
  dropReason: number;
  proxyPort: number;
  hook: number;
}

export const VERDICT_EVENT_SIZE = L.verdict_event.size;

export function decodeVerdictEvent(b: Buffer): RawVerdictEvent {
  const o = L.verdict_event.offsets;
  return {
    timestampNs: b.readBigUInt64LE(o.timestamp_ns),
    cookie: b.readBigUInt64LE(o.cookie),
    endpointId: b.readUInt32LE(o.endpoint_id),
    localIdentity: b.readUInt32LE(o.local_identity),
    peerIdentity: b.readUInt32LE(o.peer_identity),
    saddr: Buffer.from(b.subarray(o.saddr, o.saddr + 16)),
    daddr: Buffer.from(b.subarray(o.daddr, o.daddr + 16)),
    sport: b.readUInt16BE(o.sport),
    dport: b.readUInt16BE(o.dport),
    family: b.readUInt8(o.family),
    protocol: b.readUInt8(o.protocol),
    direction: b.readUInt8(o.direction),
    verdict: b.readUInt8(o.verdict),
    dropReason: b.readUInt16LE(o.drop_reason),
    proxyPort: b.readUInt16LE(o.proxy_port),
    hook: b.readUInt8(o.hook),
  };
}
