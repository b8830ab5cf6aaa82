// rules.dns evaluation as Cilium's DNS proxy does it: the query name (Question[0], query type
// ignored) against each rule's matchName / matchPattern, case-insensitively (cilium.md §1.10, §3.3).

import type { DnsRule } from '../model.js';
import type { FqdnMatcher } from '../fqdn/index.js';
import { compileFqdnMatcher } from '../fqdn/index.js';

/** `index` is the first rule that matched, or -1 (also when an empty rule list allowed everything). */
export interface DnsRulesMatch {
  allowed: boolean;
  index: number;
}

// Rules live as long as the loaded policy; keying on the object avoids re-translating per query.
const matchers = new WeakMap<DnsRule, FqdnMatcher>();

export function matchDnsRules(rules: readonly DnsRule[], queryName: string): DnsRulesMatch {
  // An empty list is no L7 rule at all in Cilium (L7Rules.IsEmpty), so nothing is filtered.
  if (rules.length === 0) return { allowed: true, index: -1 };
  const index = rules.findIndex((rule) => matcherFor(rule).matches(queryName));
  return { allowed: index >= 0, index };
}

function matcherFor(rule: DnsRule): FqdnMatcher {
  let matcher = matchers.get(rule);
  if (matcher === undefined) {
    matcher = compileFqdnMatcher(rule);
    matchers.set(rule, matcher);
  }
  return matcher;
}
