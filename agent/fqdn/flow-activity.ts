// When was an IP last used by a flow the datapath judges per packet? meshd's egress enforcement
// is at the socket (docs/adr/0003): TCP and connected UDP are judged once, at connect(), and
// ingress judges only a connection's first packet (a SYN without ACK, or a datagram from a peer
// the socket never sent to). So removing an IP from the ipcache never cuts an open TCP or
// connected-UDP connection. The one flow judged again and again is unconnected UDP: sendmsg
// decides each datagram. For it the datapath keeps a real record: meshd_udp_peers_v1, an LRU
// map {socket cookie, peer address, port} → last send, written by sendmsg4/6 on every allowed
// datagram. The bpf layer decodes it (UdpPeerEntry); this module asks it per IP.
import { readPinnedUdpPeers, type UdpPeerEntry } from '../../bpf/index.js';
import { canonicalIp } from './host-prefix.js';

/** Last use of each IP, wall-clock ms; IPs without a recorded flow are absent. */
export interface FlowActivity {
  lastUse(ips: ReadonlySet<string>): Map<string, number>;
}

/** Where the UDP peer records come from: a loaded Datapath (its udpPeers()) or, given a pin
 *  root, the pinned map read afresh on each call. */
export type UdpPeerSource = string | { udpPeers(): UdpPeerEntry[] };

/** Reads meshd_udp_peers_v1 each time it is asked. */
export class UdpPeerActivity implements FlowActivity {
  readonly #read: () => UdpPeerEntry[];

  constructor(source: UdpPeerSource) {
    this.#read = typeof source === 'string' ? () => readPinnedUdpPeers(source) : () => source.udpPeers();
  }

  lastUse(ips: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    if (ips.size === 0) return out;
    for (const peer of this.#read()) {
      const ip = canonicalIp(peer.address);
      if (!ips.has(ip)) continue;
      if (peer.lastSendAt > (out.get(ip) ?? 0)) out.set(ip, peer.lastSendAt);
    }
    return out;
  }
}
