// SPDX-License-Identifier: Apache-2.0
/* Ingress L7 for connections that enter the node from outside (other nodes, the fabric):
 * Cilium's BPF TPROXY ("mode C", research/bpf.md §1.1, gotcha 14). A tcx ingress program on
 * the node's devices that carry traffic from other nodes (Datapath.attachIngressDevice).
 *
 * For a TCP packet to a LOCAL endpoint address (meshd_endpoint_addrs_v1):
 *   1. a socket of this netns already owns the flow (the proxy's accepted transparent socket,
 *      or its request socket during the handshake) → bpf_sk_assign it, mark, pass. This runs
 *      for every packet, so a redirected flow keeps reaching the proxy after the SYN;
 *   2. otherwise only a SYN without ACK is judged, with the destination endpoint's ingress
 *      policy for (ipcache identity of the source, TCP, port), as cgroup_skb would:
 *      - L7 → the proxy's transparent listener on the node proxy address and the entry's
 *        proxy port is looked up and assigned; the mark makes the node's policy-routing rule
 *        (ip rule fwmark → table with `local 0.0.0.0/0 dev lo`) deliver the packet locally
 *        instead of forwarding it to the pod. No listener → PROXY_UNAVAILABLE (drop);
 *      - deny → drop and event (the pod never sees the SYN);
 *      - allow → pass; the pod's cgroup_skb judges it again (and reports it when sampling).
 * Everything else passes untouched: non-TCP, other destinations, packets of direct flows.
 * Devices are assumed to be Ethernet (an L2 header of ETH_HLEN bytes before the IP header),
 * as veth and physical NICs are; docs/adr/0003. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/endpoints.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/events.h"
#include "lib/tproxy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_HLEN_NUM 14
#define ETH_P_IP_NUM 0x0800
#define ETH_P_IPV6_NUM 0x86DD
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define TC_ACT_OK_NUM 0
#define TC_ACT_SHOT_NUM 2
#define BPF_TCP_LISTEN_NUM 10
#define NETNS_CURRENT ((__u64)-1L) /* BPF_F_CURRENT_NETNS as the helper's u64 argument */

struct tc_ipv4_hdr {
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

struct tc_ipv6_hdr {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
};

struct tc_tcp_head {
	__be16 sport;
	__be16 dport;
	__u32 seq;
	__u32 ack;
	__u8 doff;
	__u8 flags;
};

struct tc_flow {
	union meshd_addr saddr;
	union meshd_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 tcp_flags;
};

/* TCP over IPv4 or IPv6 (no extension headers: those pass, as at cgroup_skb). */
static __always_inline int parse_tcp(struct __sk_buff *skb, struct tc_flow *f)
{
	struct tc_tcp_head tcp = {};
	__u32 l4_off;

	if (skb->protocol == bpf_htons(ETH_P_IP_NUM)) {
		struct tc_ipv4_hdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN_NUM, &ip, sizeof(ip)) < 0)
			return 0;
		if (ip.protocol != IPPROTO_TCP_NUM)
			return 0;
		/* A non-first fragment has no TCP header. */
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0;
		f->family = AF_INET;
		f->saddr.v4 = ip.saddr;
		f->daddr.v4 = ip.daddr;
		l4_off = ETH_HLEN_NUM + (ip.ver_ihl & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_NUM)) {
		struct tc_ipv6_hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN_NUM, &ip6, sizeof(ip6)) < 0)
			return 0;
		if (ip6.nexthdr != IPPROTO_TCP_NUM)
			return 0;
		f->family = AF_INET6;
		__builtin_memcpy(f->saddr.v6, ip6.saddr, 16);
		__builtin_memcpy(f->daddr.v6, ip6.daddr, 16);
		l4_off = ETH_HLEN_NUM + sizeof(ip6);
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, l4_off, &tcp, sizeof(tcp)) < 0)
		return 0;
	f->sport = tcp.sport;
	f->dport = tcp.dport;
	f->tcp_flags = tcp.flags;
	return 1;
}

/* bpf_skc_lookup_tcp in this netns for {saddr:sport → daddr:dport}. */
static __always_inline struct bpf_sock *lookup_tcp(struct __sk_buff *skb, __u8 family, const union meshd_addr *saddr, __be16 sport,
						   const union meshd_addr *daddr, __be16 dport)
{
	struct bpf_sock_tuple tuple = {};

	if (family == AF_INET) {
		tuple.ipv4.saddr = saddr->v4;
		tuple.ipv4.daddr = daddr->v4;
		tuple.ipv4.sport = sport;
		tuple.ipv4.dport = dport;
		return bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), NETNS_CURRENT, 0);
	}
	__builtin_memcpy(tuple.ipv6.saddr, saddr->v6, 16);
	__builtin_memcpy(tuple.ipv6.daddr, daddr->v6, 16);
	tuple.ipv6.sport = sport;
	tuple.ipv6.dport = dport;
	return bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv6), NETNS_CURRENT, 0);
}

/* Steers the packet to `sk` (released here) and marks it for the local-delivery route. */
static __always_inline int assign_to(struct __sk_buff *skb, struct bpf_sock *sk)
{
	long err = bpf_sk_assign(skb, sk, 0);

	bpf_sk_release(sk);
	if (err)
		return 0;
	skb->mark = (skb->mark & ~TPROXY_MARK_MASK) | TPROXY_MARK;
	return 1;
}

/* 1 when a non-listening socket of this netns owns the flow (and the packet now goes to it). */
static __always_inline int assign_established(struct __sk_buff *skb, const struct tc_flow *f)
{
	struct bpf_sock *sk = lookup_tcp(skb, f->family, &f->saddr, f->sport, &f->daddr, f->dport);

	if (!sk)
		return 0;
	/* A listener of the node itself on the same port (a wildcard bind) is not ours to use. */
	if (sk->state == BPF_TCP_LISTEN_NUM) {
		bpf_sk_release(sk);
		return 0;
	}
	return assign_to(skb, sk);
}

/* The proxy's transparent listener on the node proxy address and `proxy_port`. */
static __always_inline int assign_listener(struct __sk_buff *skb, const struct tc_flow *f, __u16 proxy_port)
{
	const struct datapath_config *cfg = config_get();
	union meshd_addr proxy = {};
	struct bpf_sock *sk;

	if (!cfg || proxy_port == 0)
		return 0;
	if (f->family == AF_INET) {
		proxy.v4 = cfg->proxy_ipv4;
		if (proxy.v4 == 0)
			return 0;
	} else {
		addr_copy(proxy.v6, cfg->proxy_ipv6);
		if ((proxy.v6[0] | proxy.v6[1] | proxy.v6[2] | proxy.v6[3]) == 0)
			return 0;
	}
	sk = lookup_tcp(skb, f->family, &f->saddr, f->sport, &proxy, bpf_htons(proxy_port));
	if (!sk)
		return 0;
	if (sk->state != BPF_TCP_LISTEN_NUM) {
		bpf_sk_release(sk);
		return 0;
	}
	return assign_to(skb, sk);
}

static __always_inline void emit_event(struct __sk_buff *skb, const struct endpoint_info *ep, const struct tc_flow *f, __u32 peer,
				       const struct policy_verdict *pv)
{
	struct verdict_event *e = event_reserve();

	if (!e)
		return;
	__builtin_memcpy(e->saddr, f->saddr.v6, 16);
	__builtin_memcpy(e->daddr, f->daddr.v6, 16);
	e->sport = f->sport;
	e->dport = f->dport;
	e->family = f->family;
	e->protocol = IPPROTO_TCP_NUM;
	event_set_decision(e, ep, peer, pv, DIR_INGRESS, HOOK_TC_INGRESS);
	event_submit(e);
}

SEC("tc")
int meshd_tc_ingress(struct __sk_buff *skb)
{
	const struct endpoint_info *ep;
	struct policy_verdict pv;
	struct tc_flow f = {};
	__u32 peer;

	if (!parse_tcp(skb, &f))
		return TC_ACT_OK_NUM;
	ep = endpoint_of_address(f.family, &f.daddr);
	if (!ep)
		return TC_ACT_OK_NUM;
	if (assign_established(skb, &f))
		return TC_ACT_OK_NUM;
	if (!((f.tcp_flags & TCP_FLAG_SYN) && !(f.tcp_flags & TCP_FLAG_ACK)))
		return TC_ACT_OK_NUM;

	peer = ipcache_identity(f.family, &f.saddr);
	pv = policy_decide(ep, DIR_INGRESS, peer, IPPROTO_TCP_NUM, f.dport);
	if (pv.verdict == VERDICT_REDIRECTED && !assign_listener(skb, &f, pv.proxy_port)) {
		pv.verdict = VERDICT_DENIED;
		pv.drop_reason = DROP_PROXY_UNAVAILABLE;
	}
	policy_apply_audit(ep, &pv);
	if (event_wanted(pv.verdict, config_get()))
		emit_event(skb, ep, &f, peer, &pv);
	return pv.verdict == VERDICT_DENIED ? TC_ACT_SHOT_NUM : TC_ACT_OK_NUM;
}
