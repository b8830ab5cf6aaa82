// SPDX-License-Identifier: Apache-2.0
/* Socket-level enforcement and L7 redirect for pods (attached to each endpoint's cgroup), plus
 * SO_ORIGINAL_DST for the proxy (attached to the proxy's cgroup).
 *
 *   connect4/6, sendmsg4/6   egress policy once per connection (per datagram for unconnected
 *                            UDP): deny → EPERM at once; L7 → destination rewritten to the
 *                            node proxy, original kept per socket; allow → untouched.
 *                            TCP connect to a pod of this node also applies that pod's ingress
 *                            policy (ingress L7 for local clients); audit mode turns a deny
 *                            into an allowed VERDICT_AUDIT event
 *   recvmsg4/6, getpeername4/6  the application sees the original peer, never the proxy
 *   getsockopt               answers SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST on the proxy side
 *
 * Entry points are thin: the work is in sock_egress() and sock_translate_peer(). */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/endpoints.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/redirect.h"
#include "lib/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One destination as the hook sees it, normalised: a v4-mapped IPv6 address is handled as
 * IPv4 (family AF_INET, is_mapped set) so policy, ipcache and tuples see one form. */
struct sock_flow {
	union meshd_addr daddr;
	union meshd_addr saddr;
	__be16 dport;
	__be16 sport;
	__u8 family;
	__u8 protocol;
	__u8 hook;
	__u8 is_mapped;
	__u8 is_unconnected_udp;
};

/* ctx->sk through one explicit load: otherwise clang may keep &ctx->sk in a register and
 * load through it later, which the verifier rejects ("dereference of modified ctx ptr"). */
static __always_inline struct bpf_sock *sock_addr_sk(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk;

	asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(sk) : "r"(ctx), "i"(__builtin_offsetof(struct bpf_sock_addr, sk)));
	return sk;
}

static __always_inline void read_dst4(struct bpf_sock_addr *ctx, struct sock_flow *f)
{
	f->family = AF_INET;
	f->daddr.v4 = ctx->user_ip4;
	f->dport = (__be16)ctx->user_port;
}

static __always_inline void read_dst6(struct bpf_sock_addr *ctx, struct sock_flow *f)
{
	__u32 a[4];

	a[0] = ctx->user_ip6[0];
	a[1] = ctx->user_ip6[1];
	a[2] = ctx->user_ip6[2];
	a[3] = ctx->user_ip6[3];
	f->dport = (__be16)ctx->user_port;
	if (ipv6_is_v4mapped(a)) {
		f->family = AF_INET;
		f->is_mapped = 1;
		f->daddr.v4 = a[3];
		return;
	}
	f->family = AF_INET6;
	f->daddr.v6[0] = a[0];
	f->daddr.v6[1] = a[1];
	f->daddr.v6[2] = a[2];
	f->daddr.v6[3] = a[3];
}

/* is_v6_hook must be a constant: a connect4 program may not even mention user_ip6 (the
 * verifier checks context offsets per attach type), so each hook inlines its own variant. */
static __always_inline void write_dst(struct bpf_sock_addr *ctx, const int is_v6_hook, const struct sock_flow *f,
				      const __u32 addr[4], __be16 port)
{
	if (!is_v6_hook) {
		ctx->user_ip4 = addr[0];
	} else if (f->is_mapped) {
		ctx->user_ip6[0] = 0;
		barrier();
		ctx->user_ip6[1] = 0;
		barrier();
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		barrier();
		ctx->user_ip6[3] = addr[0];
	} else {
		ctx->user_ip6[0] = addr[0];
		barrier();
		ctx->user_ip6[1] = addr[1];
		barrier();
		ctx->user_ip6[2] = addr[2];
		barrier();
		ctx->user_ip6[3] = addr[3];
	}
	barrier();
	ctx->user_port = port;
}

/* The socket's local address and port when it has them, else the endpoint's address (an
 * unbound socket gets the pod address: it is the only non-loopback one in the pod). */
static __always_inline void read_src(struct bpf_sock *sk, const struct endpoint_info *ep, struct sock_flow *f)
{
	if (!sk)
		return;
	f->sport = bpf_htons((__u16)sk->src_port);
	if (f->family == AF_INET) {
		__be32 a = 0;

		if (sk->family == AF_INET)
			a = SK_LOAD32(sk, src_ip4);
		else if (f->is_mapped)
			a = SK_LOAD32(sk, src_ip6[3]);
		f->saddr.v4 = a ? a : ep->ipv4;
	} else {
		f->saddr.v6[0] = sk->src_ip6[0];
		f->saddr.v6[1] = sk->src_ip6[1];
		f->saddr.v6[2] = sk->src_ip6[2];
		f->saddr.v6[3] = sk->src_ip6[3];
		if (!(f->saddr.v6[0] | f->saddr.v6[1] | f->saddr.v6[2] | f->saddr.v6[3]))
			addr_copy(f->saddr.v6, ep->ipv6);
	}
}

/* `owner` is the endpoint whose policy decided: the client for egress; for an ingress verdict
 * taken at the client's connect (below), the destination pod, with the client as the peer, as
 * cgroup_skb ingress events have it. */
static __always_inline void emit_event(struct bpf_sock_addr *ctx, const struct endpoint_info *owner, const struct sock_flow *f,
				       __u32 peer, const struct policy_verdict *pv, __u8 direction)
{
	struct verdict_event *e = event_reserve();

	if (!e)
		return;
	e->cookie = bpf_get_socket_cookie(ctx);
	addr_copy(e->saddr, f->saddr.v6);
	addr_copy(e->daddr, f->daddr.v6);
	e->sport = f->sport;
	e->dport = f->dport;
	e->family = f->family;
	e->protocol = f->protocol;
	event_set_decision(e, owner, peer, pv, direction, f->hook);
	event_submit(e);
}

/* Remembers that an unconnected UDP socket sent to addr:port, so ingress lets replies in. */
static __always_inline void udp_peer_record(struct bpf_sock_addr *ctx, __u8 family, const __u32 addr[4], __be16 port)
{
	struct udp_peer_key key = {};
	__u64 now = bpf_ktime_get_ns();

	key.cookie = bpf_get_socket_cookie(ctx);
	addr_copy(key.addr, addr);
	key.port = port;
	key.family = family;
	bpf_map_update_elem(&meshd_udp_peers_v1, &key, &now, BPF_ANY);
}

static __always_inline int proxy_address(const struct datapath_config *cfg, __u8 family, __u32 out[4])
{
	if (!cfg)
		return 0;
	if (family == AF_INET) {
		out[0] = cfg->proxy_ipv4;
		out[1] = 0;
		out[2] = 0;
		out[3] = 0;
		return out[0] != 0;
	}
	addr_copy(out, cfg->proxy_ipv6);
	return (out[0] | out[1] | out[2] | out[3]) != 0;
}

/* A redirect needs a proxy port and a proxy address of the family; without them the flow is
 * denied (PROXY_UNAVAILABLE) rather than let through past L7 rules. Fills `proxy`. */
static __always_inline void proxy_check(struct policy_verdict *pv, const struct datapath_config *cfg, __u8 family, __u32 proxy[4])
{
	if (pv->verdict == VERDICT_REDIRECTED && (pv->proxy_port == 0 || !proxy_address(cfg, family, proxy))) {
		pv->verdict = VERDICT_DENIED;
		pv->drop_reason = DROP_PROXY_UNAVAILABLE;
		pv->proxy_port = 0;
	}
}

/* Ingress L7 for local clients ("the source pod's egress" of docs/adr/0003): cgroup_skb cannot
 * send a packet to the proxy, but the client's connect can. When the destination is a pod of
 * this node, its ingress policy for (client identity, protocol, port) is applied here, once
 * the client's own egress let the connection go: redirect → the client connects to the node
 * proxy (same bookkeeping as an egress redirect; not behind an egress redirect, which wins);
 * deny → EPERM now instead of a dropped SYN. TCP only (docs/adr/0003 says why UDP ingress L7
 * is not covered). Returns the ingress verdict; VERDICT_ALLOWED when there is no local
 * destination. */
static __always_inline struct policy_verdict ingress_of_local_destination(const struct endpoint_info *client, const struct sock_flow *f,
									  const struct datapath_config *cfg, __u32 proxy[4],
									  const struct endpoint_info **dst_out, int behind_egress_proxy)
{
	struct policy_verdict ipv = {};
	const struct endpoint_info *dst;

	*dst_out = 0;
	if (f->hook != HOOK_CONNECT || f->protocol != IPPROTO_TCP_NUM)
		return ipv;
	dst = endpoint_of_address(f->family, &f->daddr);
	if (!dst)
		return ipv;
	*dst_out = dst;
	ipv = policy_decide(dst, DIR_INGRESS, client->identity, f->protocol, f->dport);
	/* Behind an egress redirect the ingress L7 verdict is not carried out, so it needs no proxy. */
	if (!behind_egress_proxy)
		proxy_check(&ipv, cfg, f->family, proxy);
	policy_apply_audit(dst, &ipv);
	return ipv;
}

static __always_inline int sock_egress(struct bpf_sock_addr *ctx, const int is_v6_hook, struct sock_flow *f)
{
	const struct datapath_config *cfg;
	const struct endpoint_info *ep;
	const struct endpoint_info *dst = 0;
	struct policy_verdict pv, ipv = {};
	struct bpf_sock *sk = sock_addr_sk(ctx);
	struct sock_state *st = 0;
	__u32 proxy[4] = {};
	__u32 peer;
	int redirect, by_ingress = 0;

	ep = endpoint_of_current_task();
	if (!ep)
		return SYS_PROCEED;
	f->protocol = (__u8)ctx->protocol;
	/* ICMP (ping sockets) and raw sockets are not enforced here (docs/adr/0003). */
	if (f->protocol != IPPROTO_TCP_NUM && f->protocol != IPPROTO_UDP_NUM)
		return SYS_PROCEED;
	/* The pod talking to itself over loopback never leaves it. */
	if (f->family == AF_INET ? ipv4_is_loopback(f->daddr.v4) : ipv6_is_loopback(f->daddr.v6))
		return SYS_PROCEED;

	read_src(sk, ep, f);
	peer = ipcache_identity(f->family, &f->daddr);
	cfg = config_get();
	pv = policy_decide(ep, DIR_EGRESS, peer, f->protocol, f->dport);
	proxy_check(&pv, cfg, f->family, proxy);
	policy_apply_audit(ep, &pv);

	/* The destination's ingress is consulted whenever the egress lets the connection go. After
	 * an egress redirect only its deny counts: the egress proxy's own connection to the pod
	 * comes from the host, which allow-localhost admits, so this is the one place to stop it;
	 * the destination's L7 rules are not chained behind the egress proxy (docs/adr/0003). */
	if (pv.verdict != VERDICT_DENIED) {
		ipv = ingress_of_local_destination(ep, f, cfg, proxy, &dst, pv.verdict == VERDICT_REDIRECTED);
		by_ingress = ipv.verdict == VERDICT_REDIRECTED && pv.verdict != VERDICT_REDIRECTED;
	}
	redirect = pv.verdict == VERDICT_REDIRECTED || by_ingress;

	if (sk)
		st = bpf_sk_storage_get(&meshd_sock_v1, sk, 0, redirect ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (st)
		st->flags &= ~SOCK_F_REDIRECTED;

	if (redirect && st) {
		__be16 proxy_port = bpf_htons(by_ingress ? ipv.proxy_port : pv.proxy_port);

		/* The record describes the redirected socket: its endpoint and identity are the
		 * client's, the peer is the original destination, for either direction. */
		addr_copy(st->orig_addr, f->daddr.v6);
		addr_copy(st->proxy_addr, proxy);
		st->orig_port = f->dport;
		st->proxy_port = proxy_port;
		st->family = f->family;
		st->protocol = f->protocol;
		st->endpoint_id = ep->endpoint_id;
		st->local_identity = ep->identity;
		st->peer_identity = peer;
		st->flags |= SOCK_F_REDIRECTED;
		write_dst(ctx, is_v6_hook, f, proxy, proxy_port);

		/* TCP gets its tuple in sockops once the source port exists; UDP has no such moment,
		 * so it is recorded now (port 0 for connect: bound only after this hook). */
		if (f->protocol == IPPROTO_UDP_NUM) {
			struct orig_dst_key key = {};
			struct orig_dst val = {};

			addr_copy(key.client_addr, f->saddr.v6);
			addr_copy(key.proxy_addr, proxy);
			key.client_port = f->is_unconnected_udp ? f->sport : 0;
			key.proxy_port = proxy_port;
			key.family = f->family;
			key.protocol = f->protocol;
			orig_dst_from_state(&val, st);
			bpf_map_update_elem(&meshd_orig_dst_v1, &key, &val, BPF_ANY);
			if (f->is_unconnected_udp)
				udp_peer_record(ctx, f->family, proxy, proxy_port);
		}
	} else if (redirect) {
		/* No socket storage (allocation failure): proceeding unredirected would bypass L7. */
		if (by_ingress) {
			ipv.verdict = VERDICT_DENIED;
			ipv.drop_reason = DROP_PROXY_UNAVAILABLE;
			ipv.proxy_port = 0;
			if (dst)
				policy_apply_audit(dst, &ipv);
		} else {
			pv.verdict = VERDICT_DENIED;
			pv.drop_reason = DROP_PROXY_UNAVAILABLE;
			pv.proxy_port = 0;
			policy_apply_audit(ep, &pv);
		}
	} else if ((pv.verdict == VERDICT_ALLOWED || pv.verdict == VERDICT_AUDIT) && f->is_unconnected_udp) {
		udp_peer_record(ctx, f->family, f->daddr.v6, f->dport);
	}

	/* A sampled egress "allowed" is not reported when the destination's ingress then denies or
	 * redirects the connection: the ingress event below says what happened to it, and an
	 * allowed record beside it would count a refused connect as a forwarded one. */
	if (event_wanted(pv.verdict, cfg) && !(pv.verdict == VERDICT_ALLOWED && dst && (by_ingress || ipv.verdict == VERDICT_DENIED)))
		emit_event(ctx, ep, f, peer, &pv, DIR_EGRESS);
	/* An allowed ingress is reported by cgroup_skb when the SYN arrives, as is a would-be
	 * denial the destination audits; only what that hook will not see is reported here: the
	 * redirect, the deny (no SYN is sent), and an audited PROXY_UNAVAILABLE (cgroup_skb
	 * allows an L7 entry at L3/L4, so it would report nothing). */
	if (dst && (by_ingress || ipv.verdict == VERDICT_DENIED || (ipv.verdict == VERDICT_AUDIT && ipv.drop_reason == DROP_PROXY_UNAVAILABLE)))
		emit_event(ctx, dst, f, ep->identity, &ipv, DIR_INGRESS);
	return pv.verdict == VERDICT_DENIED || ipv.verdict == VERDICT_DENIED ? SYS_REJECT : SYS_PROCEED;
}

SEC("cgroup/connect4")
int meshd_connect4(struct bpf_sock_addr *ctx)
{
	struct sock_flow f = { .hook = HOOK_CONNECT };

	read_dst4(ctx, &f);
	return sock_egress(ctx, 0, &f);
}

SEC("cgroup/connect6")
int meshd_connect6(struct bpf_sock_addr *ctx)
{
	struct sock_flow f = { .hook = HOOK_CONNECT };

	read_dst6(ctx, &f);
	return sock_egress(ctx, 1, &f);
}

SEC("cgroup/sendmsg4")
int meshd_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct sock_flow f = { .hook = HOOK_SENDMSG, .is_unconnected_udp = 1 };

	read_dst4(ctx, &f);
	return sock_egress(ctx, 0, &f);
}

SEC("cgroup/sendmsg6")
int meshd_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct sock_flow f = { .hook = HOOK_SENDMSG, .is_unconnected_udp = 1 };

	read_dst6(ctx, &f);
	return sock_egress(ctx, 1, &f);
}

/* recvmsg/getpeername: a peer equal to the proxy this socket was redirected to is shown as
 * the original destination. These hooks cannot reject (research/bpf.md gotcha 4). */
static __always_inline int sock_translate_peer(struct bpf_sock_addr *ctx, const int is_v6_hook)
{
	struct bpf_sock *sk = sock_addr_sk(ctx);
	struct sock_state *st;
	struct sock_flow f = {};

	if (!sk)
		return SYS_PROCEED;
	st = bpf_sk_storage_get(&meshd_sock_v1, sk, 0, 0);
	if (!st || !(st->flags & SOCK_F_REDIRECTED))
		return SYS_PROCEED;
	if (is_v6_hook)
		read_dst6(ctx, &f);
	else
		read_dst4(ctx, &f);
	if (f.family != st->family || f.dport != st->proxy_port)
		return SYS_PROCEED;
	if (f.family == AF_INET) {
		if (f.daddr.v4 != st->proxy_addr[0])
			return SYS_PROCEED;
	} else if (f.daddr.v6[0] != st->proxy_addr[0] || f.daddr.v6[1] != st->proxy_addr[1] ||
		   f.daddr.v6[2] != st->proxy_addr[2] || f.daddr.v6[3] != st->proxy_addr[3]) {
		return SYS_PROCEED;
	}
	write_dst(ctx, is_v6_hook, &f, st->orig_addr, st->orig_port);
	return SYS_PROCEED;
}

SEC("cgroup/recvmsg4")
int meshd_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_translate_peer(ctx, 0);
}

SEC("cgroup/recvmsg6")
int meshd_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_translate_peer(ctx, 1);
}

SEC("cgroup/getpeername4")
int meshd_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_translate_peer(ctx, 0);
}

SEC("cgroup/getpeername6")
int meshd_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_translate_peer(ctx, 1);
}

struct sockaddr_in_wire {
	__u16 family;
	__be16 port;
	__be32 addr;
	__u8 zero[8];
};

struct sockaddr_in6_wire {
	__u16 family;
	__be16 port;
	__be32 flowinfo;
	__u32 addr[4];
	__u32 scope_id;
};

/* The proxy's accepted socket: its peer is the app (client), its local end the proxy. */
static __always_inline const struct orig_dst *orig_dst_of_accepted(struct bpf_sock *sk)
{
	struct orig_dst_key key = {};
	const struct orig_dst *o;

	key.protocol = (__u8)sk->protocol;
	key.client_port = (__be16)sk->dst_port;
	key.proxy_port = bpf_htons((__u16)sk->src_port);
	if (sk->family == AF_INET) {
		key.family = AF_INET;
		key.client_addr[0] = sk->dst_ip4;
		key.proxy_addr[0] = sk->src_ip4;
	} else {
		__u32 c[4], p[4];

		c[0] = sk->dst_ip6[0];
		c[1] = sk->dst_ip6[1];
		c[2] = sk->dst_ip6[2];
		c[3] = sk->dst_ip6[3];
		p[0] = sk->src_ip6[0];
		p[1] = sk->src_ip6[1];
		p[2] = sk->src_ip6[2];
		p[3] = sk->src_ip6[3];
		if (ipv6_is_v4mapped(c)) {
			key.family = AF_INET;
			key.client_addr[0] = c[3];
			key.proxy_addr[0] = p[3];
		} else {
			key.family = AF_INET6;
			addr_copy(key.client_addr, c);
			addr_copy(key.proxy_addr, p);
		}
	}
	o = bpf_map_lookup_elem(&meshd_orig_dst_v1, &key);
	if (o || key.protocol != IPPROTO_UDP_NUM)
		return o;
	key.client_port = 0;
	return bpf_map_lookup_elem(&meshd_orig_dst_v1, &key);
}

SEC("cgroup/getsockopt")
int meshd_getsockopt(struct bpf_sockopt *ctx)
{
	const struct orig_dst *o;
	struct bpf_sock *sk;
	void *optval, *optval_end;
	int level = ctx->level, optname = ctx->optname;

	/* Runs on every getsockopt of the proxy: leave everything else alone at once
	 * (research/bpf.md gotcha 10). */
	if (!((level == SOL_IP_NUM && optname == SO_ORIGINAL_DST_NUM) ||
	      (level == SOL_IPV6_NUM && optname == IP6T_SO_ORIGINAL_DST_NUM)))
		return 1;
	sk = ctx->sk;
	if (!sk)
		return 1;
	o = orig_dst_of_accepted(sk);
	if (!o)
		return 1;
	optval = ctx->optval;
	optval_end = ctx->optval_end;

	if (level == SOL_IP_NUM) {
		struct sockaddr_in_wire *sin = optval;

		if (o->family != AF_INET || (void *)(sin + 1) > optval_end)
			return 1;
		sin->family = AF_INET;
		sin->port = o->port;
		sin->addr = o->addr[0];
		__builtin_memset(sin->zero, 0, sizeof(sin->zero));
		ctx->optlen = sizeof(*sin);
	} else {
		struct sockaddr_in6_wire *sin6 = optval;

		if ((void *)(sin6 + 1) > optval_end)
			return 1;
		sin6->family = AF_INET6;
		sin6->port = o->port;
		sin6->flowinfo = 0;
		if (o->family == AF_INET) {
			sin6->addr[0] = 0;
			sin6->addr[1] = 0;
			sin6->addr[2] = bpf_htonl(0x0000ffff);
			sin6->addr[3] = o->addr[0];
		} else {
			addr_copy(sin6->addr, o->addr);
		}
		sin6->scope_id = 0;
		ctx->optlen = sizeof(*sin6);
	}
	/* optlen and retval are adjacent: without the barrier clang 14 merges the two stores
	 * into one 8-byte context write, which the verifier rejects (research/bpf.md gotcha 1). */
	barrier();
	ctx->retval = 0;
	return 1;
}
