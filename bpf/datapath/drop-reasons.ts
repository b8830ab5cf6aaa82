// Mirror of bpf/lib/drop_reasons.h (drop-reasons.test.ts parses the header and compares).
// Append-only: a retired reason stays as UNUSED_<n>, its number never gets a new meaning.

export const DROP_REASONS = {
  0: 'NONE',
  1: 'POLICY_DENY_RULE',
  2: 'POLICY_DEFAULT_DENY',
  3: 'PROXY_UNAVAILABLE',
} as const;

export type DropReasonCode = keyof typeof DROP_REASONS;
export type DropReasonName = (typeof DROP_REASONS)[DropReasonCode];

/** Sentences for logs and `meshd observe`. */
export const DROP_REASON_DESCRIPTIONS: Record<DropReasonName, string> = {
  NONE: 'not dropped',
  POLICY_DENY_RULE: 'an explicit deny rule matched (deny beats allow)',
  POLICY_DEFAULT_DENY: 'no allow rule matched and the direction is default-deny',
  PROXY_UNAVAILABLE: 'an L7 rule needs the proxy, but there is no proxy address for the family or no proxy port',
};

/** The name of a reason number, `UNKNOWN_<n>` for numbers a newer kernel object might send. */
export function dropReasonName(code: number): string {
  return (DROP_REASONS as Record<number, string>)[code] ?? `UNKNOWN_${code}`;
}
