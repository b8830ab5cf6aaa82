// SPDX-License-Identifier: Apache-2.0
/* sockops (on each endpoint's cgroup, and on the proxy's when socket acceleration is on):
 *   - an app socket that connect4/6 redirected reaches ESTABLISHED: its original destination
 *     is copied from socket storage to the tuple map the proxy reads (meshd_orig_dst_v1);
 *   - with CONFIG_F_SOCKET_ACCELERATION, both ends of an app↔proxy connection go into the
 *     sockhash, and sk_msg (attached to that sockhash) hands each sendmsg straight to the
 *     peer socket's receive queue instead of through the TCP/IP stack. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/redirect.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int acceleration_enabled(void)
{
	const struct datapath_config *cfg = config_get();

	return cfg && (cfg->flags & CONFIG_F_SOCKET_ACCELERATION);
}

/* The tuple-map key of an app↔proxy TCP connection; each side passes its own tuple's halves. */
static __always_inline void tcp_orig_dst_key(struct orig_dst_key *k, const __u32 client_addr[4], __be16 client_port,
					     const __u32 proxy_addr[4], __be16 proxy_port, __u8 family)
{
	addr_copy(k->client_addr, client_addr);
	addr_copy(k->proxy_addr, proxy_addr);
	k->client_port = client_port;
	k->proxy_port = proxy_port;
	k->family = family;
	k->protocol = IPPROTO_TCP_NUM;
}

/* The app side: this socket was redirected by connect4/6 (socket storage says so). */
static __always_inline void sockops_active_established(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct orig_dst_key okey = {};
	struct sock_key skey = {};
	struct orig_dst val = {};
	struct sock_state *st;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&meshd_sock_v1, sk, 0, 0);
	if (!st || !(st->flags & SOCK_F_REDIRECTED))
		return;
	SOCK_KEY_FROM_CTX(&skey, skops, struct bpf_sock_ops);
	tcp_orig_dst_key(&okey, skey.local_addr, skey.local_port, skey.remote_addr, skey.remote_port, skey.family);
	orig_dst_from_state(&val, st);
	bpf_map_update_elem(&meshd_orig_dst_v1, &okey, &val, BPF_ANY);

	if (acceleration_enabled())
		bpf_sock_hash_update(skops, &meshd_sockhash_v1, &skey, BPF_ANY);
}

/* The proxy side: only connections whose client was redirected (its tuple is known). */
static __always_inline void sockops_passive_established(struct bpf_sock_ops *skops)
{
	struct orig_dst_key okey = {};
	struct sock_key skey = {};

	if (!acceleration_enabled())
		return;
	SOCK_KEY_FROM_CTX(&skey, skops, struct bpf_sock_ops);
	tcp_orig_dst_key(&okey, skey.remote_addr, skey.remote_port, skey.local_addr, skey.local_port, skey.family);
	if (!bpf_map_lookup_elem(&meshd_orig_dst_v1, &okey))
		return;
	bpf_sock_hash_update(skops, &meshd_sockhash_v1, &skey, BPF_ANY);
}

SEC("sockops")
int meshd_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		sockops_active_established(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		sockops_passive_established(skops);
		break;
	}
	return 1;
}

SEC("sk_msg")
int meshd_sk_msg(struct sk_msg_md *msg)
{
	struct sock_key own = {};
	struct sock_key peer = {};

	SOCK_KEY_FROM_CTX(&own, msg, struct sk_msg_md);
	__builtin_memcpy(peer.local_addr, own.remote_addr, 16);
	__builtin_memcpy(peer.remote_addr, own.local_addr, 16);
	peer.local_port = own.remote_port;
	peer.remote_port = own.local_port;
	peer.family = own.family;
	bpf_msg_redirect_hash(msg, &meshd_sockhash_v1, &peer, BPF_F_INGRESS);
	/* SK_PASS whatever the helper returned: its SK_DROP (peer not in the map) would drop the
	 * application's data, and a successful redirect takes effect anyway (gotcha 3). */
	return SK_PASS;
}
