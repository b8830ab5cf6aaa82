// meshd_udp_peers_v1 decoded: which unconnected UDP socket last sent to which peer, and when.
// sendmsg4/6 write it on every allowed datagram (so cgroup_skb ingress lets the replies in);
// the agent reads it to tell whether a learned DNS address is still used by unconnected UDP
// (agent/fqdn/flow-activity.ts), the only flow the datapath judges again per datagram.
import { join } from 'node:path';
import { BpfMap, DEFAULT_PIN_ROOT } from '../addon/index.js';
import { decodeUdpPeer, STRUCT_LAYOUTS, UDP_PEER_VALUE_SIZE } from './codecs.js';
import { AF_INET, MAP_NAMES } from './constants.js';
import { formatAddress } from './addresses.js';
import { DatapathError } from './errors.js';

export interface UdpPeerEntry {
  /** Socket cookie of the sending socket. */
  cookie: bigint;
  family: 4 | 6;
  /** The peer the socket sent to, canonical text. */
  address: string;
  port: number;
  /** Last send, bpf_ktime_get_ns (CLOCK_MONOTONIC, the clock of process.hrtime.bigint()). */
  lastSendNs: bigint;
  /** The same instant in Date.now() milliseconds, converted when the map was read. */
  lastSendAt: number;
}

/** Every entry of an open meshd_udp_peers_v1 map (one batch read). */
export function readUdpPeers(map: BpfMap): UdpPeerEntry[] {
  // bpf_ktime_get_ns and process.hrtime are both CLOCK_MONOTONIC; the offset turns one into wall time.
  const monotonicNowNs = process.hrtime.bigint();
  const wallNowMs = Date.now();
  const out: UdpPeerEntry[] = [];
  for (const [key, value] of map.entries()) {
    const r = decodeUdpPeer(key, value);
    if (!r) continue;
    out.push({
      cookie: r.cookie,
      family: r.family === AF_INET ? 4 : 6,
      address: formatAddress(r.family, r.address),
      port: r.port,
      lastSendNs: r.lastSendNs,
      lastSendAt: wallNowMs - Number(monotonicNowNs - r.lastSendNs) / 1e6,
    });
  }
  return out;
}

/**
 * The entries of the map pinned under `pinRoot` by the process that loaded the datapath (the
 * agent). Opens and closes the pin on each call, so it works whether or not the datapath was
 * loaded when the caller was set up. Throws MESHD_ERR_DATAPATH_NOT_LOADED when the map is not
 * pinned there or has another layout.
 */
export function readPinnedUdpPeers(pinRoot: string = DEFAULT_PIN_ROOT): UdpPeerEntry[] {
  const path = join(pinRoot, MAP_NAMES.udpPeers);
  let map: BpfMap;
  try {
    map = BpfMap.openPinned(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DatapathError('MESHD_ERR_DATAPATH_NOT_LOADED', `cannot open the pinned datapath map ${path}: ${code === 'ENOENT' ? 'it is not pinned there' : (err as Error).message}`, {
      hint: 'the agent loads and pins the datapath: start it first, or pass the pin root it uses',
      cause: err,
    });
  }
  try {
    if (map.keySize !== STRUCT_LAYOUTS.udp_peer_key.size || map.valueSize !== UDP_PEER_VALUE_SIZE) {
      throw new DatapathError('MESHD_ERR_DATAPATH_NOT_LOADED', `the pinned map ${path} has another layout (key ${map.keySize} / value ${map.valueSize} bytes) than this build expects`, {
        hint: 'the datapath was loaded by another meshd version',
      });
    }
    return readUdpPeers(map);
  } finally {
    map.close();
  }
}
