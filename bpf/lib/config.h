/* SPDX-License-Identifier: Apache-2.0 */
/* Run-time settings written by the agent (one ARRAY element), so a change needs no reload. */
#ifndef MESHD_LIB_CONFIG_H
#define MESHD_LIB_CONFIG_H

#include "common.h"

#define CONFIG_F_SOCKET_ACCELERATION (1U << 0)

struct datapath_config {
	__u32 sample_allowed;  /* allowed new connections reported: 0 none, 1 all, N one in N */
	__u32 flags;           /* CONFIG_F_* */
	__be32 proxy_ipv4;     /* node proxy address (redirect target); 0 = none */
	__u32 proxy_ipv6[4];   /* all zero = none */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct datapath_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meshd_config_v1 SEC(".maps");

static __always_inline const struct datapath_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&meshd_config_v1, &zero);
}

static __always_inline int config_should_report_allowed(const struct datapath_config *cfg)
{
	__u32 n;

	if (!cfg)
		return 0;
	n = cfg->sample_allowed;
	if (n == 0)
		return 0;
	return n == 1 || bpf_get_prandom_u32() % n == 0;
}

#endif /* MESHD_LIB_CONFIG_H */
