/* SPDX-License-Identifier: Apache-2.0 */
/* Verdict events: one ring buffer for every object. Denies, redirects and audits are always
 * reported; allowed new connections as configured (datapath_config.sample_allowed). A full ring
 * buffer loses events, never traffic (research/bpf.md gotcha 16). */
#ifndef MESHD_LIB_EVENTS_H
#define MESHD_LIB_EVENTS_H

#include "common.h"
#include "config.h"
#include "policy.h"

/* Layout mirrored by bpf/datapath/codecs.ts (checked against BTF by codecs.test.ts). */
struct verdict_event {
	__u64 timestamp_ns;   /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 cookie;         /* socket cookie */
	__u32 endpoint_id;
	__u32 local_identity;
	__u32 peer_identity;
	__u32 saddr[4];       /* source of the connection (the peer for ingress) */
	__u32 daddr[4];       /* destination; the original one for redirects */
	__be16 sport;         /* 0 when not yet bound (connect) */
	__be16 dport;
	__u8 family;          /* AF_INET / AF_INET6 */
	__u8 protocol;        /* IPPROTO_* */
	__u8 direction;       /* DIR_* */
	__u8 verdict;         /* VERDICT_* */
	__u16 drop_reason;    /* enum drop_reason */
	__u16 proxy_port;     /* host order, for redirects */
	__u8 hook;            /* HOOK_* */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_events_v1 SEC(".maps");

/* The caller fills the fields after this; reserve-then-submit avoids a 80-byte stack copy. */
static __always_inline struct verdict_event *event_reserve(void)
{
	struct verdict_event *e = bpf_ringbuf_reserve(&meshd_events_v1, sizeof(*e), 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void event_submit(struct verdict_event *e)
{
	bpf_ringbuf_submit(e, 0);
}

/* The decision half of an event, the same at every hook: whose policy decided, about which peer,
 * and what it said. The caller fills in the addresses, ports and protocol of its own flow. */
static __always_inline void event_set_decision(struct verdict_event *e, const struct endpoint_info *owner, __u32 peer,
					       const struct policy_verdict *pv, __u8 direction, __u8 hook)
{
	e->endpoint_id = owner->endpoint_id;
	e->local_identity = owner->identity;
	e->peer_identity = peer;
	e->direction = direction;
	e->verdict = pv->verdict;
	e->drop_reason = pv->drop_reason;
	e->proxy_port = pv->proxy_port;
	e->hook = hook;
}

static __always_inline int event_wanted(__u8 verdict, const struct datapath_config *cfg)
{
	return verdict != VERDICT_ALLOWED || config_should_report_allowed(cfg);
}

#endif /* MESHD_LIB_EVENTS_H */
