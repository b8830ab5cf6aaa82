// TLS SNI allow lists (`toPorts[].serverNames`) in Envoy terms. Cilium's patterns use matchPattern
// syntax: `*` is any run of label characters inside one label (never crossing a dot), a leading
// `**.` is one or more whole labels, a pattern of stars only is every name. Envoy's filter chain
// `server_names` only knows exact names and `*.suffix`, which matches any number (≥1) of leading
// labels; so a chain gets the narrowest Envoy superset, and the RBAC filter checks the exact pattern
// as an RE2 regex on the requested server name.
// Not policy/fqdn's compileFqdnMatcher, although the pattern semantics are the same (server-names.test.ts
// checks both accept the same names): its regex matches lower-cased fully-qualified names (`…[.]$`, and
// the root `.` for stars only), because the DNS proxy normalises a name before matching. Envoy's
// requested_server_name is matched as the client sent it, without a trailing dot and in any case, and
// rewriting the policy's regex text to drop the dot would tie this file to its exact spelling.

const LABEL_CHAR = '[-a-zA-Z0-9_]';
const STARS_ONLY = /^\*+\.?$/;
const LEADING_MULTI_LABEL = /^\*{2,}\./;

/** RE2 (full match, case-insensitive) accepting exactly the SNIs the Cilium pattern allows. */
export function serverNameRegex(pattern: string): string {
  const name = stripDot(pattern.toLowerCase());
  if (STARS_ONLY.test(pattern)) return `(?i)${LABEL_CHAR}+(\\.${LABEL_CHAR}+)*`;
  const multi = LEADING_MULTI_LABEL.exec(name);
  if (multi) return `(?i)${LABEL_CHAR}+(\\.${LABEL_CHAR}+)*\\.${labelsRegex(name.slice(multi[0].length))}`;
  return `(?i)${labelsRegex(name)}`;
}

/**
 * The Envoy server_names entry covering the pattern: the name itself when it has no wildcard,
 * `*.suffix` otherwise, or undefined when no Envoy name can cover it (a wildcard in the last label,
 * or stars only): the chain must then accept every SNI and leave the check to RBAC.
 */
export function envoyServerName(pattern: string): string | undefined {
  const name = stripDot(pattern.toLowerCase());
  if (!name.includes('*')) return name;
  const labels = name.split('.');
  let last = -1;
  labels.forEach((label, i) => {
    if (label.includes('*')) last = i;
  });
  const suffix = labels.slice(last + 1);
  return suffix.length === 0 ? undefined : `*.${suffix.join('.')}`;
}

/** The chain's server_names for a set of patterns: sorted, de-duplicated; [] = any SNI. */
export function envoyServerNames(patterns: readonly string[]): string[] {
  const names = new Set<string>();
  for (const p of patterns) {
    const name = envoyServerName(p);
    if (name === undefined) return [];
    names.add(name);
  }
  return [...names].sort();
}

/** Patterns arrive validated (policy's validateServerName: label characters, `.` and `*` only), so only `.` and `*` need translating. */
function labelsRegex(name: string): string {
  return name
    .split('.')
    .map((label) => label.replace(/\*+/g, '\u0000').replace(/\u0000/g, `${LABEL_CHAR}*`))
    .join('\\.');
}

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
