// SPDX-License-Identifier: Apache-2.0
/* Never loaded: an object whose BTF describes every struct the agent encodes or decodes
 * (Cilium's bpf_alignchecker.c idea). BTF only keeps types that a global refers to, and map
 * values such as the ring buffer's events or the inner policy trie's key have none, so each
 * struct is named here once. bpf/datapath/codecs.test.ts compares these layouts with the
 * TypeScript codecs. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/endpoints.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/redirect.h"
#include "lib/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct layout_all {
	struct datapath_config datapath_config;
	struct endpoint_info endpoint_info;
	struct endpoint_addr_key endpoint_addr_key;
	struct endpoint_addr_value endpoint_addr_value;
	struct ipcache_key ipcache_key;
	struct ipcache_value ipcache_value;
	struct policy_key policy_key;
	struct policy_value policy_value;
	struct sock_state sock_state;
	struct orig_dst_key orig_dst_key;
	struct orig_dst orig_dst;
	struct udp_peer_key udp_peer_key;
	struct sock_key sock_key;
	struct verdict_event verdict_event;
};

struct layout_all meshd_layout SEC(".layout");
