// Numbers shared with the C side (bpf/lib/*.h). They leave the kernel in map entries and
// events, so they are append-only; constants.test.ts parses the headers and compares.
import { endianness } from 'node:os';

// The maps store host-order integers; every codec here writes little-endian.
if (endianness() !== 'LE') throw new Error('meshd datapath codecs assume a little-endian host');

export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

/** lib/common.h DIR_*: Cilium's TrafficDirection numbering. */
export const DIRECTION = { ingress: 0, egress: 1 } as const;
export type DirectionName = keyof typeof DIRECTION;

/** lib/common.h VERDICT_*. `audit`: policy would have denied (the drop reason says why), the
 *  endpoint is in audit mode, the traffic passed. */
export const VERDICT = { allowed: 0, denied: 1, redirected: 2, audit: 3 } as const;
export type VerdictName = keyof typeof VERDICT;

/** lib/common.h HOOK_*. `tc-ingress`: BPF TPROXY on a node device (clients from other nodes). */
export const HOOK = { connect: 1, sendmsg: 2, 'skb-ingress': 3, 'tc-ingress': 4 } as const;
export type HookName = keyof typeof HOOK;

/** lib/endpoints.h ENDPOINT_F_*. */
export const ENDPOINT_FLAGS = { ingressEnforced: 1 << 0, egressEnforced: 1 << 1, audit: 1 << 2 } as const;

/** lib/policy.h POLICY_F_*. */
export const POLICY_FLAGS = { deny: 1 << 0, allow: 1 << 1, l7: 1 << 2, defaultDeny: 1 << 3 } as const;
export const POLICY_PREFIX_BASE = 48;
export const POLICY_PREFIX_FULL = 64;
export const POLICY_L7_SPAN_NONE = 0xffffffff;
/** The per-direction entry that carries default-deny: peer 0, protocol 0, port 0. */
export const POLICY_SENTINEL_PROTOCOL = 0;

/** lib/config.h CONFIG_F_*. */
export const CONFIG_FLAGS = { socketAcceleration: 1 << 0 } as const;

/** lib/ipcache.h. */
export const IPCACHE_PREFIX_BASE = 32;
export const WORLD_IPV4_ID = 9;
export const WORLD_IPV6_ID = 10;

/** lib/policy.h: inner tries are created by the agent with the template's type and flags. */
export const BPF_F_NO_PREALLOC = 1;

/** Pinned map names (`meshd_<thing>_v<n>`; a layout change means a new suffix). */
export const MAP_NAMES = {
  config: 'meshd_config_v1',
  endpoints: 'meshd_endpoints_v1',
  endpointAddrs: 'meshd_endpoint_addrs_v1',
  ipcache: 'meshd_ipcache_v1',
  policy: 'meshd_policy_v1',
  sockState: 'meshd_sock_v1',
  origDst: 'meshd_orig_dst_v1',
  udpPeers: 'meshd_udp_peers_v1',
  sockhash: 'meshd_sockhash_v1',
  events: 'meshd_events_v1',
} as const;

/** Objects built by bpf/progs/Makefile, and the programs each one holds. */
export const OBJECTS = {
  sock: {
    file: 'sock.bpf.o',
    endpointPrograms: [
      'meshd_connect4',
      'meshd_connect6',
      'meshd_sendmsg4',
      'meshd_sendmsg6',
      'meshd_recvmsg4',
      'meshd_recvmsg6',
      'meshd_getpeername4',
      'meshd_getpeername6',
    ],
    proxyPrograms: ['meshd_getsockopt'],
  },
  sockops: { file: 'sockops.bpf.o', endpointPrograms: ['meshd_sockops'], proxyPrograms: [] as string[] },
  skb: { file: 'skb.bpf.o', endpointPrograms: ['meshd_skb_ingress'], proxyPrograms: [] as string[] },
  /** BPF TPROXY on the node's devices from other nodes (Datapath.attachIngressDevice). */
  tc: { file: 'tc.bpf.o', endpointPrograms: [] as string[], proxyPrograms: [] as string[] },
} as const;
export const TC_INGRESS_PROGRAM = 'meshd_tc_ingress';

/** lib/tproxy.h: the mark of packets assigned to a proxy socket, and the mask the node's
 *  policy-routing rule matches it with. */
export const TPROXY_MARK = 0x200;
export const TPROXY_MARK_MASK = 0xf00;
export const SOCKOPS_PROGRAM = 'meshd_sockops';
export const SK_MSG_PROGRAM = 'meshd_sk_msg';
/** The object that only carries BTF for the layout check; never loaded. */
export const LAYOUT_OBJECT = 'layout.bpf.o';
