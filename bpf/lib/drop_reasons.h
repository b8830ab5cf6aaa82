/* SPDX-License-Identifier: Apache-2.0 */
/* Why the datapath denied something. The numbers leave the kernel in verdict events, so the
 * list is append-only: a retired reason stays here as DROP_UNUSED_<n> and its number is never
 * given another meaning. Mirrored by bpf/datapath/drop-reasons.ts; drop-reasons.test.ts parses
 * this file and fails when the two lists differ. One entry per line: `DROP_<NAME> = <n>,`. */
#ifndef MESHD_LIB_DROP_REASONS_H
#define MESHD_LIB_DROP_REASONS_H

enum drop_reason {
	DROP_NONE = 0,                 /* not dropped */
	DROP_POLICY_DENY_RULE = 1,     /* an explicit deny entry matched (deny beats allow) */
	DROP_POLICY_DEFAULT_DENY = 2,  /* no allow entry matched in an enforced direction */
	DROP_PROXY_UNAVAILABLE = 3,    /* an L7 redirect without a proxy address for the family or a proxy port */
};

#endif /* MESHD_LIB_DROP_REASONS_H */
