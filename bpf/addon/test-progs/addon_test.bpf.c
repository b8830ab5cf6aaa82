// SPDX-License-Identifier: Apache-2.0
// The addon's own test program (bpf/progs belongs to the datapath): one of each thing the addon
// must handle. Compiled by the tests with clang -O2 -g -target bpf into a temporary directory.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Set through BpfObject.open({ rodata }): the TCP/UDP port connect4 refuses (host byte order).
const volatile __u16 denied_port = 0;

struct connect_event {
	__u32 pid;
	__u16 port;
	__u16 verdict;  // 0 denied, 1 allowed
	__u32 sequence; // per object: lets tests check order and loss
};

// Counts records; not atomic, which is enough for the tests (they emit from one CPU at a time).
__u32 sequence = 0;

// 256 KiB: room for more records than the reader hands to JS in one call (4096).
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

// Outlives the loader (LIBBPF_PIN_BY_NAME under the object's pin root): denials per port.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} denied_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1024);
} counters SEC(".maps");

struct prefix_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct prefix_key);
	__type(value, __u32);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} prefixes SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 8);
	__array(values, struct inner_array);
} tables SEC(".maps");

// For attachSockMap: sk_msg programs attach to a sockhash, not to a cgroup.
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} sockets SEC(".maps");

static void report(__u16 port, __u16 verdict)
{
	struct connect_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);

	if (!event)
		return;  // ring full: the verdict stands, only the record is lost
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->port = port;
	event->verdict = verdict;
	event->sequence = sequence++;
	bpf_ringbuf_submit(event, 0);
}

SEC("cgroup/connect4")
int deny_port(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs(ctx->user_port);
	__u32 key = port;
	__u64 one = 1, *count;

	if (port != denied_port)
		return 1;
	count = bpf_map_lookup_elem(&denied_count, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&denied_count, &key, &one, BPF_ANY);
	report(port, 0);
	return 0;  // connect() fails with EPERM
}

SEC("cgroup/connect4")
int allow_all(struct bpf_sock_addr *ctx)
{
	return 1;
}

// testRun target: drops 64-byte frames, passes others, and emits one ring-buffer record per run
// whose port field is the frame length (so tests can trigger records without a cgroup).
SEC("xdp")
int xdp_by_length(struct xdp_md *ctx)
{
	__u32 length = ctx->data_end - ctx->data;
	__u32 key = 0;
	__u32 *inner_value;
	void *inner = bpf_map_lookup_elem(&tables, &key);

	if (inner) {
		inner_value = bpf_map_lookup_elem(inner, &key);
		if (inner_value)
			length += *inner_value;
	}
	report((__u16)length, 1);
	return length == 64 ? XDP_DROP : XDP_PASS;
}

SEC("sk_msg")
int pass_messages(struct sk_msg_md *msg)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
