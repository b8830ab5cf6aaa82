/* SPDX-License-Identifier: Apache-2.0 */
/* Per-endpoint L3/L4 policy: an outer HASH_OF_MAPS, endpoint id → that endpoint's LPM trie.
 * The agent replaces an endpoint's policy by building a complete new trie and swapping it in
 * with one outer-map update, so no half-written policy is ever enforced.
 *
 * Key (Cilium's policy_key idea): {peer identity (0 = any peer), direction, protocol, port},
 * with port ranges stored as prefixes of the port bits, so one LPM probe finds the most
 * specific entry for a peer. Two probes per lookup: the peer's identity, then 0 (any peer).
 *
 * Each trie entry is a summary precomputed in userspace (bpf/datapath/policy-entries.ts):
 * for the flows whose longest match is that key, which kinds of policy entry of that peer
 * class match them (deny, plain allow, L7 allow with its proxy port). Prefixes nest, so every
 * entry covering such a flow covers the whole key, and the summary is exact. The two probes'
 * summaries are then combined with lookupFlow's rules (policy/resolve/endpoint-policy.ts):
 *   deny from any matching entry wins; else a plain allow wins over L7 (no redirect);
 *   else an L7 allow redirects to the proxy port of the narrowest L7 entry (the peer's on a
 *   tie); else default-deny when the direction is enforced, allow otherwise. */
#ifndef MESHD_LIB_POLICY_H
#define MESHD_LIB_POLICY_H

#include "common.h"
#include "endpoints.h"
#include "drop_reasons.h"

#define POLICY_F_DENY (1U << 0)
#define POLICY_F_ALLOW (1U << 1)   /* an allow entry without L7 rules */
#define POLICY_F_L7 (1U << 2)      /* an allow entry with L7 rules: redirect to proxy_port */
#define POLICY_F_DEFAULT_DENY (1U << 3) /* only in the sentinel entry (below) */

/* Each direction's default-deny travels in the trie itself, in a sentinel entry {peer 0,
 * direction, protocol 0, port 0} (protocol 0 is never a real entry's), so that replacing the
 * trie changes entries and enforcement in the same instant. Without a trie (no policy
 * installed yet) the endpoint's flags decide. */
#define POLICY_SENTINEL_PROTOCOL 0

/* prefixlen covers peer identity, direction and protocol; the port bits follow. */
#define POLICY_PREFIX_BASE 48
#define POLICY_PREFIX_FULL 64
#define POLICY_L7_SPAN_NONE 0xffffffffU

struct policy_key {
	__u32 prefixlen;
	__u32 peer_identity; /* host byte order; 0 = any peer */
	__u8 direction;      /* DIR_INGRESS / DIR_EGRESS */
	__u8 protocol;       /* IPPROTO_*; never a wildcard (ANY is expanded to TCP, UDP, SCTP) */
	__be16 dport;
};

struct policy_value {
	__u16 proxy_port;    /* host byte order; with POLICY_F_L7 */
	__u8 flags;          /* POLICY_F_* */
	__u8 pad;
	__u32 l7_span;       /* port count - 1 of the narrowest L7 entry; POLICY_L7_SPAN_NONE */
};

/* Sizes, not BTF types: clang 14 emits the pointee structs of an inner map definition as
 * forward declarations, which libbpf cannot size. The agent creates the real inner maps with
 * the same type and flags (a map-in-map requires equal flags; LPM tries may differ in size). */
struct policy_inner_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct policy_key));
	__uint(value_size, sizeof(struct policy_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 65536);
	__type(key, __u32); /* endpoint id */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct policy_inner_map);
} meshd_policy_v1 SEC(".maps");

struct policy_verdict {
	__u8 verdict;       /* VERDICT_* */
	__u8 pad;
	__u16 drop_reason;  /* enum drop_reason */
	__u16 proxy_port;   /* host order, with VERDICT_REDIRECTED */
	__u16 pad2;
};

static __always_inline void policy_probe(void *trie, struct policy_key *key, __u8 *flags, __u32 *span, __u16 *proxy_port)
{
	struct policy_value *v = bpf_map_lookup_elem(trie, key);

	if (!v)
		return;
	*flags |= v->flags;
	/* Strictly narrower only: the peer probe runs first and wins ties, as in lookupFlow. */
	if ((v->flags & POLICY_F_L7) && v->l7_span < *span) {
		*span = v->l7_span;
		*proxy_port = v->proxy_port;
	}
}

static __always_inline int policy_is_default_deny(void *trie, const struct endpoint_info *ep, __u8 dir)
{
	struct policy_key key = {};
	struct policy_value *v;

	if (!trie)
		return endpoint_is_enforced(ep, dir);
	key.prefixlen = POLICY_PREFIX_FULL;
	key.direction = dir;
	key.protocol = POLICY_SENTINEL_PROTOCOL;
	v = bpf_map_lookup_elem(trie, &key);
	return v ? !!(v->flags & POLICY_F_DEFAULT_DENY) : endpoint_is_enforced(ep, dir);
}

static __always_inline struct policy_verdict policy_decide(const struct endpoint_info *ep, __u8 dir, __u32 peer,
							    __u8 protocol, __be16 dport)
{
	struct policy_verdict out = {};
	struct policy_key key = {};
	__u32 ep_id = ep->endpoint_id;
	__u32 span = POLICY_L7_SPAN_NONE;
	__u16 proxy_port = 0;
	__u8 flags = 0;
	void *trie;

	trie = bpf_map_lookup_elem(&meshd_policy_v1, &ep_id);
	if (trie) {
		key.prefixlen = POLICY_PREFIX_FULL;
		key.peer_identity = peer;
		key.direction = dir;
		key.protocol = protocol;
		key.dport = dport;
		policy_probe(trie, &key, &flags, &span, &proxy_port);
		if (peer != 0) {
			key.peer_identity = 0;
			policy_probe(trie, &key, &flags, &span, &proxy_port);
		}
	}

	if (flags & POLICY_F_DENY) {
		out.verdict = VERDICT_DENIED;
		out.drop_reason = DROP_POLICY_DENY_RULE;
	} else if (flags & POLICY_F_ALLOW) {
		out.verdict = VERDICT_ALLOWED;
	} else if (flags & POLICY_F_L7) {
		out.verdict = VERDICT_REDIRECTED;
		out.proxy_port = proxy_port;
	} else if (policy_is_default_deny(trie, ep, dir)) {
		out.verdict = VERDICT_DENIED;
		out.drop_reason = DROP_POLICY_DEFAULT_DENY;
	} else {
		out.verdict = VERDICT_ALLOWED;
	}
	return out;
}

/* Audit mode of the endpoint whose policy decided: a denial becomes VERDICT_AUDIT (the drop
 * reason stays, so the event says what would have happened) and the traffic proceeds. A
 * redirect stays a redirect: L7 rules are the proxy's business. */
static __always_inline void policy_apply_audit(const struct endpoint_info *ep, struct policy_verdict *pv)
{
	if (pv->verdict == VERDICT_DENIED && endpoint_is_audited(ep))
		pv->verdict = VERDICT_AUDIT;
}

#endif /* MESHD_LIB_POLICY_H */
