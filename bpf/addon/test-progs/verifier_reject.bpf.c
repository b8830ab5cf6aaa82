// SPDX-License-Identifier: Apache-2.0
// Loads into nothing: dereferences a map value without the NULL check the verifier demands, so
// the tests can check that a rejection carries the verifier's log in the error message. A hash
// map, because recent kernels know that an array lookup with a constant key in range is never NULL.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} values SEC(".maps");

SEC("xdp")
int unchecked_lookup(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&values, &key);

	return *value ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
