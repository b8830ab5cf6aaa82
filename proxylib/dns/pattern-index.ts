// The match_pattern entries of one DNS rule, indexed by their literal suffix so a query is checked
// against the few patterns that could match it instead of every one (1,000 rules cost 0.65 ms per
// query scanned one by one with policy's RE2 matcher; the DNS proxy's aim is ≤ 1 ms added p99).
//
// Why it is sound: policy's matcher (Cilium's matchpattern) matches a name label by label — `*` runs
// within one label, a leading `**.` stands for one or more whole labels — so the labels after a
// pattern's last label with a `*` are literal and must be the name's last labels. The index is only a
// filter: every candidate is still decided by policy's own matcher, so an indexed miss can only
// drop a pattern that could not match. A pattern whose last label has a `*` (`api.*`, a bare `*`)
// has no literal suffix and is checked for every name. Escaped names (`\.` in a label) never match a
// pattern (the matcher's character set has no `\`), so splitting them on every `.` loses nothing.
import type { FqdnMatcher } from './compile-policy.js';

export class PatternIndex {
  /** Literal suffix (lower-case, fully qualified, e.g. `bench.test.`) → patterns ending in it. */
  private readonly bySuffix = new Map<string, FqdnMatcher[]>();
  /** Patterns with a `*` in their last label: candidates for every name. */
  private readonly always: FqdnMatcher[] = [];
  readonly size: number;

  constructor(patterns: ReadonlyArray<{ pattern: string; matcher: FqdnMatcher }>) {
    for (const { pattern, matcher } of patterns) {
      const suffix = literalSuffix(pattern);
      if (suffix === '') this.always.push(matcher);
      else {
        const list = this.bySuffix.get(suffix);
        if (list) list.push(matcher);
        else this.bySuffix.set(suffix, [matcher]);
      }
    }
    this.size = patterns.length;
  }

  /** `normalized`: the query name lower-case with its trailing dot (never ''). */
  matches(normalized: string, name: string): boolean {
    for (const m of this.always) if (m.matches(name)) return true;
    if (this.bySuffix.size === 0) return false;
    // Every label suffix of the name, longest first: `a.b.test.`, `b.test.`, `test.`.
    let at = 0;
    while (at < normalized.length - 1) {
      const candidates = this.bySuffix.get(at === 0 ? normalized : normalized.slice(at));
      if (candidates) for (const m of candidates) if (m.matches(name)) return true;
      const dot = normalized.indexOf('.', at);
      if (dot < 0) break;
      at = dot + 1;
    }
    return false;
  }
}

/** The labels after the last label holding a `*`, lower-case with the trailing dot; '' when none. */
export function literalSuffix(pattern: string): string {
  const labels = pattern.toLowerCase().replace(/\.$/, '').split('.');
  let last = -1;
  labels.forEach((label, i) => {
    if (label.includes('*')) last = i;
  });
  const rest = labels.slice(last + 1);
  return rest.length === 0 ? '' : `${rest.join('.')}.`;
}
