/* SPDX-License-Identifier: Apache-2.0 */
/* The packet mark of BPF TPROXY (tc.bpf.c, mode C): a packet assigned to a proxy socket whose
 * destination is a pod address carries it, and the node's policy-routing rule
 * (`ip rule fwmark TPROXY_MARK/TPROXY_MARK_MASK lookup <table>`, table: `local default dev lo`)
 * delivers it locally instead of forwarding it to the pod. Cilium's MARK_MAGIC_TO_PROXY shape;
 * mirrored by bpf/datapath/constants.ts (TPROXY_MARK). */
#ifndef MESHD_LIB_TPROXY_H
#define MESHD_LIB_TPROXY_H

#define TPROXY_MARK 0x200
#define TPROXY_MARK_MASK 0xf00

#endif /* MESHD_LIB_TPROXY_H */
