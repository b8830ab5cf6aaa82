/* SPDX-License-Identifier: Apache-2.0 */
/* Shared definitions for every meshd eBPF object: uapi includes, address helpers and the
 * constants the TypeScript side mirrors (bpf/datapath/constants.ts, checked by a unit test). */
#ifndef MESHD_LIB_COMMON_H
#define MESHD_LIB_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Not in the uapi headers the BPF target can include (they live in libc's socket.h / in.h). */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMP_NUM 1
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17
#define IPPROTO_ICMPV6_NUM 58
#define IPPROTO_SCTP_NUM 132
#define SOL_IP_NUM 0
#define SOL_IPV6_NUM 41
/* linux/netfilter_ipv4.h SO_ORIGINAL_DST and linux/netfilter_ipv6/ip6_tables.h IP6T_SO_ORIGINAL_DST. */
#define SO_ORIGINAL_DST_NUM 80
#define IP6T_SO_ORIGINAL_DST_NUM 80

/* Cilium's TrafficDirection numbering. */
#define DIR_INGRESS 0
#define DIR_EGRESS 1

/* Verdicts carried by events (append-only, mirrored in TypeScript). */
#define VERDICT_ALLOWED 0
#define VERDICT_DENIED 1
#define VERDICT_REDIRECTED 2
/* Audit mode: policy would have denied (the event's drop reason says why), the traffic passed. */
#define VERDICT_AUDIT 3

/* Which hook produced an event (append-only, mirrored in TypeScript). */
#define HOOK_CONNECT 1
#define HOOK_SENDMSG 2
#define HOOK_SKB_INGRESS 3
/* tc ingress of a node device (BPF TPROXY for clients from other nodes, tc.bpf.c). */
#define HOOK_TC_INGRESS 4

/* Return values of cgroup programs: 1 lets the operation proceed, 0 rejects it (EPERM for
 * sock_addr hooks, a drop for cgroup_skb). */
#define SYS_PROCEED 1
#define SYS_REJECT 0

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* An address of either family: IPv4 in word 0 (network order), the other words zero. Keys
 * hold addresses in this form so one struct serves both families. */
union meshd_addr {
	__u32 v4;
	__u32 v6[4];
};

/* Keeps clang from merging adjacent context stores into one wider store, which the verifier
 * rejects for context structs (research/bpf.md gotcha 1). */
#define barrier() asm volatile("" ::: "memory")

/* One 32-bit load of a context or socket field at a fixed offset. Where branches load
 * different fields, clang may instead select an offset and load once through ptr + offset,
 * which the verifier rejects for contexts ("dereference of modified ctx ptr") and sockets
 * ("pointer arithmetic on sock prohibited"). */
#define LOAD32(ptr, type, field)                                                                   \
	({                                                                                         \
		__u32 __v;                                                                         \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                                              \
			     : "=r"(__v)                                                           \
			     : "r"(ptr), "i"(__builtin_offsetof(type, field)));                    \
		__v;                                                                               \
	})
#define SK_LOAD32(sk, field) LOAD32(sk, struct bpf_sock, field)

/* A 16-byte address between stack, map values and ring buffer records. Not for reading context
 * or socket fields: the verifier wants those as single loads at fixed offsets (LOAD32 below). */
static __always_inline void addr_copy(__u32 dst[4], const __u32 src[4])
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

static __always_inline int ipv6_is_v4mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int ipv6_is_loopback(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

static __always_inline int ipv4_is_loopback(__be32 a)
{
	return (bpf_ntohl(a) >> 24) == 127;
}

#endif /* MESHD_LIB_COMMON_H */
