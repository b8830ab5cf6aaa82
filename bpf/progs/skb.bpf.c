// SPDX-License-Identifier: Apache-2.0
/* Ingress enforcement for pods: cgroup_skb/ingress on each endpoint's cgroup, which runs for
 * packets about to be queued to one of the pod's sockets. Only the first packet of a
 * connection is judged, so established and reply traffic is never dropped:
 *   - TCP: a SYN without ACK (a SYN-ACK answering the pod's own connect passes);
 *   - UDP: a datagram to a connected socket passes (the kernel only delivers its peer's), as
 *     does one from a peer this socket sent to (meshd_udp_peers_v1, written by sendmsg4/6);
 *     anything else is judged per datagram.
 * Other protocols pass (docs/adr/0003). An endpoint in audit mode lets a would-be denied packet
 * in and reports VERDICT_AUDIT. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/endpoints.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/redirect.h"
#include "lib/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP_NUM 0x0800
#define ETH_P_IPV6_NUM 0x86DD
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

struct ipv4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6_hdr {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
};

/* Ports, then (TCP only) the flags byte at offset 13. */
struct l4_head {
	__be16 sport;
	__be16 dport;
	__u32 seq;
	__u32 ack;
	__u8 doff;
	__u8 flags;
};

struct skb_flow {
	union meshd_addr saddr;
	union meshd_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 protocol;
	__u8 tcp_flags;
};

/* cgroup_skb data starts at the network header. IPv6 extension headers are not walked: such
 * packets pass (docs/adr/0003). Returns 0 when the packet is not one we judge. */
static __always_inline int parse_flow(struct __sk_buff *skb, struct skb_flow *f)
{
	struct l4_head l4 = {};
	__u32 l4_off;

	if (skb->protocol == bpf_htons(ETH_P_IP_NUM)) {
		struct ipv4_hdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return 0;
		f->family = AF_INET;
		f->protocol = ip.protocol;
		f->saddr.v4 = ip.saddr;
		f->daddr.v4 = ip.daddr;
		l4_off = (ip.ver_ihl & 0x0f) * 4;
		if (ipv4_is_loopback(ip.saddr))
			return 0;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_NUM)) {
		struct ipv6_hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return 0;
		f->family = AF_INET6;
		f->protocol = ip6.nexthdr;
		__builtin_memcpy(f->saddr.v6, ip6.saddr, 16);
		__builtin_memcpy(f->daddr.v6, ip6.daddr, 16);
		l4_off = sizeof(ip6);
		if (ipv6_is_loopback(ip6.saddr))
			return 0;
	} else {
		return 0;
	}

	if (f->protocol == IPPROTO_TCP_NUM) {
		if (bpf_skb_load_bytes(skb, l4_off, &l4, sizeof(l4)) < 0)
			return 0;
		f->tcp_flags = l4.flags;
	} else if (f->protocol == IPPROTO_UDP_NUM) {
		if (bpf_skb_load_bytes(skb, l4_off, &l4, 4) < 0)
			return 0;
	} else {
		return 0;
	}
	f->sport = l4.sport;
	f->dport = l4.dport;
	return 1;
}

static __always_inline int is_reply_or_established(struct __sk_buff *skb, const struct skb_flow *f)
{
	struct udp_peer_key key = {};
	struct bpf_sock *sk;

	if (f->protocol == IPPROTO_TCP_NUM)
		return !((f->tcp_flags & TCP_FLAG_SYN) && !(f->tcp_flags & TCP_FLAG_ACK));

	sk = skb->sk;
	if (sk) {
		sk = bpf_sk_fullsock(sk);
		if (sk && sk->dst_port != 0)
			return 1;
	}
	key.cookie = bpf_get_socket_cookie(skb);
	__builtin_memcpy(key.addr, f->saddr.v6, 16);
	key.port = f->sport;
	key.family = f->family;
	return bpf_map_lookup_elem(&meshd_udp_peers_v1, &key) != 0;
}

static __always_inline void emit_event(struct __sk_buff *skb, const struct endpoint_info *ep, const struct skb_flow *f,
				       __u32 peer, const struct policy_verdict *pv)
{
	struct verdict_event *e = event_reserve();

	if (!e)
		return;
	e->cookie = bpf_get_socket_cookie(skb);
	__builtin_memcpy(e->saddr, f->saddr.v6, 16);
	__builtin_memcpy(e->daddr, f->daddr.v6, 16);
	e->sport = f->sport;
	e->dport = f->dport;
	e->family = f->family;
	e->protocol = f->protocol;
	event_set_decision(e, ep, peer, pv, DIR_INGRESS, HOOK_SKB_INGRESS);
	event_submit(e);
}

SEC("cgroup_skb/ingress")
int meshd_skb_ingress(struct __sk_buff *skb)
{
	const struct endpoint_info *ep;
	struct policy_verdict pv;
	struct skb_flow f = {};
	__u32 peer;

	ep = endpoint_of_skb(skb);
	if (!ep)
		return SYS_PROCEED;
	if (!parse_flow(skb, &f) || is_reply_or_established(skb, &f))
		return SYS_PROCEED;

	peer = ipcache_identity(f.family, &f.saddr);
	pv = policy_decide(ep, DIR_INGRESS, peer, f.protocol, f.dport);
	/* A packet cannot be redirected to the proxy from here. A local client's connection was
	 * already sent to the proxy by its own connect hook (sock.bpf.c); from anyone else an
	 * ingress L7 entry is enforced at L3/L4 only (allowed, the event keeps the proxy port).
	 * docs/adr/0003. */
	if (pv.verdict == VERDICT_REDIRECTED)
		pv.verdict = VERDICT_ALLOWED;
	policy_apply_audit(ep, &pv);
	if (event_wanted(pv.verdict, config_get()))
		emit_event(skb, ep, &f, peer, &pv);
	return pv.verdict == VERDICT_DENIED ? SYS_REJECT : SYS_PROCEED;
}
