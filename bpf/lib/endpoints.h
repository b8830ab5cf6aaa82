/* SPDX-License-Identifier: Apache-2.0 */
/* Local endpoints (pods), keyed by the cgroup v2 id their sockets belong to, and the same
 * endpoints by address (meshd_endpoint_addrs_v1), so a client pod's connect hook can apply a
 * local destination's ingress policy (ingress L7 for local clients, docs/adr/0003). */
#ifndef MESHD_LIB_ENDPOINTS_H
#define MESHD_LIB_ENDPOINTS_H

#include "common.h"

/* Default-deny per direction (DirectionPolicy.isDefaultDeny). A direction without the flag
 * allows whatever no deny entry matches. */
#define ENDPOINT_F_INGRESS_ENFORCED (1U << 0)
#define ENDPOINT_F_EGRESS_ENFORCED (1U << 1)
/* Audit mode: what policy would deny passes and is reported with VERDICT_AUDIT. Kept here, in
 * the pinned map, so an agent restart keeps it. */
#define ENDPOINT_F_AUDIT (1U << 2)

struct endpoint_info {
	__u32 endpoint_id;
	__u32 identity;
	__u32 flags;       /* ENDPOINT_F_* */
	__be32 ipv4;       /* the pod's address, 0 = unknown: source of unbound UDP sockets */
	__u32 ipv6[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* cgroup id */
	__type(value, struct endpoint_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_endpoints_v1 SEC(".maps");

static __always_inline const struct endpoint_info *endpoint_lookup(__u64 cgroup_id)
{
	return bpf_map_lookup_elem(&meshd_endpoints_v1, &cgroup_id);
}

/* A pod address (IPv4 in addr[0], the rest zero) → the endpoint's cgroup id. The value points
 * into meshd_endpoints_v1 rather than copying it, so flags (enforcement, audit) live in one
 * place; endpoint_id guards against a stale entry of a cgroup that got another endpoint. */
struct endpoint_addr_key {
	__u8 family;       /* AF_INET / AF_INET6 */
	__u8 pad[3];
	__u32 addr[4];
};

struct endpoint_addr_value {
	__u64 cgroup_id;
	__u32 endpoint_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072); /* two addresses per endpoint */
	__type(key, struct endpoint_addr_key);
	__type(value, struct endpoint_addr_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_endpoint_addrs_v1 SEC(".maps");

/* The local endpoint owning `addr`, or 0 when the address is not a pod of this node. */
static __always_inline const struct endpoint_info *endpoint_of_address(__u8 family, const union meshd_addr *addr)
{
	struct endpoint_addr_key key = {};
	const struct endpoint_addr_value *v;
	const struct endpoint_info *ep;

	key.family = family;
	addr_copy(key.addr, addr->v6);
	v = bpf_map_lookup_elem(&meshd_endpoint_addrs_v1, &key);
	if (!v)
		return 0;
	ep = endpoint_lookup(v->cgroup_id);
	if (!ep || ep->endpoint_id != v->endpoint_id)
		return 0;
	return ep;
}

/* Programs are attached to the endpoint's cgroup and run for its descendants too (container
 * runtimes put each container in a child cgroup of the pod's). The exact cgroup is tried first;
 * otherwise the deepest ancestor that is an endpoint. Levels deeper than this are not walked. */
#define ENDPOINT_MAX_CGROUP_DEPTH 16

/* `skb` is 0 for the socket hooks (the current task's cgroup) and the packet for cgroup_skb (its
 * socket's cgroup). Both callers below pass a constant `of_skb`, so each program type keeps
 * only the helpers it may call. */
static __always_inline const struct endpoint_info *endpoint_of_cgroup(const int of_skb, struct __sk_buff *skb)
{
	const struct endpoint_info *ep;
	int level;

	ep = endpoint_lookup(of_skb ? bpf_skb_cgroup_id(skb) : bpf_get_current_cgroup_id());
	if (ep)
		return ep;
	for (level = ENDPOINT_MAX_CGROUP_DEPTH - 1; level >= 0; level--) {
		__u64 id = of_skb ? bpf_skb_ancestor_cgroup_id(skb, level) : bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			continue;
		ep = endpoint_lookup(id);
		if (ep)
			return ep;
	}
	return 0;
}

static __always_inline const struct endpoint_info *endpoint_of_current_task(void)
{
	return endpoint_of_cgroup(0, 0);
}

static __always_inline const struct endpoint_info *endpoint_of_skb(struct __sk_buff *skb)
{
	return endpoint_of_cgroup(1, skb);
}

static __always_inline int endpoint_is_audited(const struct endpoint_info *ep)
{
	return !!(ep->flags & ENDPOINT_F_AUDIT);
}

static __always_inline int endpoint_is_enforced(const struct endpoint_info *ep, __u8 dir)
{
	return ep->flags & (dir == DIR_EGRESS ? ENDPOINT_F_EGRESS_ENFORCED : ENDPOINT_F_INGRESS_ENFORCED);
}

#endif /* MESHD_LIB_ENDPOINTS_H */
