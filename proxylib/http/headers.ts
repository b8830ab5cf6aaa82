// Header name/value validation (RFC 9110 §5.1 and §5.5) and the hop-by-hop header list, shared by the
// HTTP/1.1 codec, the HTTP/1.1 and HTTP/2 data paths and local replies. Strings are byte strings
// (one char per byte, latin1), as the codecs deliver them.

/** RFC 9110 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
export const TOKEN_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  return t;
})();

/**
 * Bytes allowed inside a field value (RFC 9110 field-content plus inner SP/HTAB): HTAB, SP, VCHAR
 * (0x21-0x7E) and obs-text (0x80-0xFF). NUL, CR, LF, other controls and DEL are not: accepting them
 * is how header injection and request smuggling between proxy and upstream start.
 */
export const FIELD_VALUE_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) t[c] = 1;
  return t;
})();

/** A non-empty token (a valid header field name; any case). */
export function isValidHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

/** Only field-value bytes, and no leading or trailing SP/HTAB (a value as the codec delivers it). */
export function isValidHeaderValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE_CHAR[c] === 0) return false;
  }
  return true;
}

/** A method is a token (RFC 9110 §9.1); any token is accepted, case-sensitive. */
export function isValidMethod(method: string): boolean {
  return isValidHeaderName(method);
}

/**
 * Hop-by-hop request/response headers a proxy removes before forwarding (lower-case), as Envoy
 * does (ConnectionManagerUtility::mutateRequestHeaders / mutateResponseHeaders): connection,
 * keep-alive, proxy-connection, transfer-encoding, upgrade (kept only on an accepted upgrade), and
 * te — except that `te: trailers` is forwarded (gRPC needs it); use `isHopByHopHeader` for that rule.
 * Envoy does not strip proxy-authenticate, proxy-authorization or trailer, so neither does meshd.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
]);

/** Whether a (lower-case) header is hop-by-hop; `te: trailers` is end-to-end (Envoy keeps it). */
export function isHopByHopHeader(name: string, value: string): boolean {
  if (!HOP_BY_HOP_HEADERS.has(name)) return false;
  if (name === 'te') return value.trim().toLowerCase() !== 'trailers';
  return true;
}

/** The value of the first field named `name` (lower-case) in a parsed header list, or undefined. */
export function firstHeaderValue(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

/** The comma-separated tokens of a list header (Connection, Transfer-Encoding), trimmed and lower-cased; empty elements dropped. */
export function listTokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t.length > 0) out.push(t.toLowerCase());
  }
  return out;
}
