/* SPDX-License-Identifier: Apache-2.0 */
/* IP prefix → security identity (Cilium's ipcache), one LPM trie for both families: the
 * family byte and its padding are part of every prefix, so an IPv4 prefix never matches an
 * IPv6 address. Addresses in network order (research/bpf.md gotcha 13). */
#ifndef MESHD_LIB_IPCACHE_H
#define MESHD_LIB_IPCACHE_H

#include "common.h"

/* Reserved identities for addresses the ipcache does not know (policy layer's
 * worldIdentityOf: world-ipv4 / world-ipv6). A unit test compares them with TypeScript. */
#define WORLD_IPV4_ID 9
#define WORLD_IPV6_ID 10

/* prefixlen counts the family byte and the three padding bytes before the address. */
#define IPCACHE_PREFIX_BASE 32

struct ipcache_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	__u32 addr[4];
};

struct ipcache_value {
	__u32 identity;
	__u32 flags; /* reserved, 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 524288);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_ipcache_v1 SEC(".maps");

static __always_inline __u32 ipcache_identity4(__be32 addr)
{
	struct ipcache_key key = {};
	struct ipcache_value *v;

	key.prefixlen = IPCACHE_PREFIX_BASE + 32;
	key.family = AF_INET;
	key.addr[0] = addr;
	v = bpf_map_lookup_elem(&meshd_ipcache_v1, &key);
	return v ? v->identity : WORLD_IPV4_ID;
}

static __always_inline __u32 ipcache_identity6(const __u32 addr[4])
{
	struct ipcache_key key = {};
	struct ipcache_value *v;

	key.prefixlen = IPCACHE_PREFIX_BASE + 128;
	key.family = AF_INET6;
	addr_copy(key.addr, addr);
	v = bpf_map_lookup_elem(&meshd_ipcache_v1, &key);
	return v ? v->identity : WORLD_IPV6_ID;
}

static __always_inline __u32 ipcache_identity(__u8 family, const union meshd_addr *addr)
{
	return family == AF_INET ? ipcache_identity4(addr->v4) : ipcache_identity6(addr->v6);
}

#endif /* MESHD_LIB_IPCACHE_H */
