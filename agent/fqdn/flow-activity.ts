// When was an IP last used by a flow the datapath judges per packet? meshd's egress enforcement
// is at the socket (docs/adr/0003): TCP and connected UDP are judged once, at connect(), and
// ingress judges only a connection's first packet (a SYN without ACK, or a datagram from a peer
// the socket never sent to). So removing an IP from the ipcache never cuts an open TCP or
// connected-UDP connection. The one flow judged again and again is unconnected UDP: sendmsg
// decides each datagram. For it the datapath keeps a real record: meshd_udp_peers_v1, an LRU
// map {socket cookie, peer address, port} → last send (bpf_ktime_get_ns, CLOCK_MONOTONIC),
// written by sendmsg4/6 on every allowed datagram. This module reads it.
import { join } from 'node:path';
import { BpfMap, MAP_NAMES } from '../../bpf/index.js';
import { canonicalIp } from './host-prefix.js';

/** Last use of each IP, wall-clock ms; IPs without a recorded flow are absent. */
export interface FlowActivity {
  lastUse(ips: ReadonlySet<string>): Map<string, number>;
}

// struct udp_peer_key (bpf/lib/redirect.h): u64 cookie, u32 addr[4], be16 port, u8 family, u8 pad[5].
const KEY_SIZE = 32;
const ADDR_OFFSET = 8;
const FAMILY_OFFSET = 26;
const AF_INET = 2;
const AF_INET6 = 10;

/** Reads the pinned meshd_udp_peers_v1 of a datapath's pin root, each time it is asked. */
export class UdpPeerActivity implements FlowActivity {
  readonly #path: string;

  constructor(pinRoot: string) {
    this.#path = join(pinRoot, MAP_NAMES.udpPeers);
  }

  lastUse(ips: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    if (ips.size === 0) return out;
    const map = BpfMap.openPinned(this.#path);
    try {
      // bpf_ktime_get_ns and process.hrtime are both CLOCK_MONOTONIC; the offset turns one into wall time.
      const monotonicNowNs = process.hrtime.bigint();
      const wallNowMs = Date.now();
      for (const [key, value] of map.entries()) {
        if (key.length < KEY_SIZE || value.length < 8) continue;
        const ip = decodeAddress(key);
        if (ip === undefined || !ips.has(ip)) continue;
        const atMs = wallNowMs - Number(monotonicNowNs - value.readBigUInt64LE(0)) / 1e6;
        if (atMs > (out.get(ip) ?? 0)) out.set(ip, atMs);
      }
    } finally {
      map.close();
    }
    return out;
  }
}

function decodeAddress(key: Buffer): string | undefined {
  const family = key[FAMILY_OFFSET];
  if (family === AF_INET) return [...key.subarray(ADDR_OFFSET, ADDR_OFFSET + 4)].join('.');
  if (family !== AF_INET6) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(key.readUInt16BE(ADDR_OFFSET + i * 2).toString(16));
  return canonicalIp(groups.join(':'));
}
