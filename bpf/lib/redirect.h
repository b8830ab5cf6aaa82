/* SPDX-License-Identifier: Apache-2.0 */
/* L7 redirect state ("mode A" of research/bpf.md: the proxy listens on the node proxy address
 * every pod routes to):
 *   - meshd_sock_v1 (SK_STORAGE): per app socket, the original destination and the proxy
 *     address it was rewritten to; recvmsg/getpeername translate back from it, sockops copies
 *     it to the tuple map. Freed with the socket.
 *   - meshd_orig_dst_v1 (LRU): {client addr/port, proxy addr/port} → original destination,
 *     read by the proxy (userspace lookup, or getsockopt(SO_ORIGINAL_DST) for Envoy). Pod
 *     addresses are unique on the node, so the tuple is too. LRU instead of deletion on close:
 *     the proxy may ask after the client has already closed (a short request in the accept
 *     queue), and eviction only hits tuples far older than any accept backlog.
 *   - meshd_udp_peers_v1 (LRU): {socket cookie, peer addr/port} an unconnected UDP socket
 *     sent to, so ingress lets the replies in.
 *   - meshd_sockhash_v1: app↔proxy sockets for the optional sk_msg short-circuit. */
#ifndef MESHD_LIB_REDIRECT_H
#define MESHD_LIB_REDIRECT_H

#include "common.h"

#define SOCK_F_REDIRECTED (1U << 0)

struct sock_state {
	__u32 orig_addr[4];
	__u32 proxy_addr[4];
	__be16 orig_port;
	__be16 proxy_port;
	__u8 family;          /* of both addresses; AF_INET also for v4-mapped IPv6 sockets */
	__u8 flags;           /* SOCK_F_* */
	__u8 protocol;
	__u8 pad;
	__u32 endpoint_id;
	__u32 local_identity;
	__u32 peer_identity;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_sock_v1 SEC(".maps");

struct orig_dst_key {
	__u32 client_addr[4];
	__u32 proxy_addr[4];
	__be16 client_port;   /* 0 for connected UDP: the port is bound after connect4 runs */
	__be16 proxy_port;
	__u8 family;
	__u8 protocol;
	__u8 pad[2];
};

struct orig_dst {
	__u32 addr[4];
	__be16 port;
	__u8 family;
	__u8 protocol;
	__u32 endpoint_id;
	__u32 local_identity;
	__u32 peer_identity;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct orig_dst_key);
	__type(value, struct orig_dst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_orig_dst_v1 SEC(".maps");

struct udp_peer_key {
	__u64 cookie;
	__u32 addr[4];
	__be16 port;
	__u8 family;
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_peer_key);
	__type(value, __u64); /* last send, bpf_ktime_get_ns */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_udp_peers_v1 SEC(".maps");

/* A socket's own 4-tuple, as the sockhash key; the sk_msg side builds the peer's by swapping. */
struct sock_key {
	__u32 local_addr[4];
	__u32 remote_addr[4];
	__be16 local_port;
	__be16 remote_port;
	__u8 family;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_sockhash_v1 SEC(".maps");

static __always_inline void orig_dst_from_state(struct orig_dst *o, const struct sock_state *st)
{
	addr_copy(o->addr, st->orig_addr);
	o->port = st->orig_port;
	o->family = st->family;
	o->protocol = st->protocol;
	o->endpoint_id = st->endpoint_id;
	o->local_identity = st->local_identity;
	o->peer_identity = st->peer_identity;
}

/* A socket's own tuple from a sockops or sk_msg context (both have the same field names):
 * ports in network order (remote_port holds it in the upper 16 bits, local_port is host
 * order: research/bpf.md gotcha 2), v4-mapped IPv6 folded to IPv4 so an app's AF_INET6
 * socket and the proxy's AF_INET socket build matching keys. */
#define SOCK_KEY_FROM_CTX(key, ctx, type)                                                           \
	do {                                                                                        \
		(key)->local_port = bpf_htons((__u16)(LOAD32(ctx, type, local_port)));              \
		(key)->remote_port = (__be16)(LOAD32(ctx, type, remote_port) >> 16);                \
		if (LOAD32(ctx, type, family) == AF_INET) {                                         \
			(key)->family = AF_INET;                                                    \
			(key)->local_addr[0] = LOAD32(ctx, type, local_ip4);                        \
			(key)->remote_addr[0] = LOAD32(ctx, type, remote_ip4);                      \
		} else {                                                                            \
			__u32 __l[4], __r[4];                                                       \
			__l[0] = LOAD32(ctx, type, local_ip6[0]);                                   \
			__l[1] = LOAD32(ctx, type, local_ip6[1]);                                   \
			__l[2] = LOAD32(ctx, type, local_ip6[2]);                                   \
			__l[3] = LOAD32(ctx, type, local_ip6[3]);                                   \
			__r[0] = LOAD32(ctx, type, remote_ip6[0]);                                  \
			__r[1] = LOAD32(ctx, type, remote_ip6[1]);                                  \
			__r[2] = LOAD32(ctx, type, remote_ip6[2]);                                  \
			__r[3] = LOAD32(ctx, type, remote_ip6[3]);                                  \
			if (ipv6_is_v4mapped(__l)) {                                                \
				(key)->family = AF_INET;                                            \
				(key)->local_addr[0] = __l[3];                                      \
				(key)->remote_addr[0] = __r[3];                                     \
			} else {                                                                    \
				(key)->family = AF_INET6;                                           \
				__builtin_memcpy((key)->local_addr, __l, 16);                       \
				__builtin_memcpy((key)->remote_addr, __r, 16);                      \
			}                                                                           \
		}                                                                                   \
	} while (0)

#endif /* MESHD_LIB_REDIRECT_H */
