// Request path normalization exactly as Envoy's HTTP connection manager does it, so that RBAC and
// route matching see the path Envoy would see and the upstream receives what was matched.
//
// Envoy's order (ConnectionManagerImpl::ActiveStream::decodeHeaders + ConnectionManagerUtility::
// maybeNormalizePath), reproduced step by step:
//   0. an empty path, or one that does not start with '/', is answered 404 (Envoy: "absolute_path_rejected"
//      / "missing_path"); CONNECT has no path and never comes here.
//   1. a fragment ('#' anywhere in the target) rejects the request with 400
//      (envoy.reloadable_features.http_reject_path_with_fragment, on by default).
//   2. path_with_escaped_slashes_action (only on the part before '?'): unless KEEP_UNCHANGED, every
//      %2F %2f becomes '/' and every %5C %5c becomes '\'; when that changed anything, REJECT_REQUEST
//      answers 400, UNESCAPE_AND_REDIRECT asks for a redirect to the result, UNESCAPE_AND_FORWARD goes on.
//      NOTE: this runs BEFORE normalize_path, so `/a%2F..%2Fadmin` with UNESCAPE_AND_FORWARD becomes
//      `/admin` — this matters for RBAC, and the bypass corpus tests it.
//   3. normalize_path, on the part before '?' (the query is appended untouched):
//      a. segments "..;params" / ".;params" lose their parameters (stripParametersFromDotSegments,
//         Envoy's fix for `/..;x/admin` bypasses, on by default) — and, deliberately stricter than
//         Envoy, again after b. until nothing changes, because `%2e%2e;x` and `\..;x` only become
//         such segments after decoding (see normalizeRequestPath);
//      b. Envoy's fork of Chromium's url::CanonicalizePath (source/common/chromium_url), per input byte:
//        - '.' and '%2e'/'%2E' are dots; `.` and `..` segments are removed RFC 3986 style (a `..`
//          above the root stays at the root); a dot that is not a whole segment is copied as '.'
//          (so '%2e' always comes out as '.').
//        - '\' is converted to '/' (Chromium treats backslash as a slash); '\' also ends a dot segment.
//        - %XX of an unreserved character (A-Z a-z 0-9 - _ ~) is decoded; any other valid %XX is kept
//          with its original hex case (Envoy does NOT upper-case it); %00 makes the path invalid → 400.
//        - a '%' not followed by two hex digits is kept, and an escape that would appear once an inner
//          escape is decoded (`%%30%30` style) is itself escaped as %25 (Chromium's nested-escape fix).
//        - NUL is invalid (→ 400); other control bytes, space, " # < > ? ` { | } ^ DEL and bytes ≥ 0x80
//          are percent-encoded (upper-case hex).
//        - Envoy does no case normalization: `/ADMIN` and `/admin` stay different.
//      Version note: Envoy builds with remove_forked_chromium_url use upstream googleurl, whose table
//      (since Chromium's Dec 2023 URL-standard change) no longer decodes unreserved escapes and no
//      longer rejects %00. meshd keeps the forked behaviour, which is what Envoy's normalize_path
//      documentation (RFC 3986 §6.2.2 normalization) and issue 5 ("percent-decoding of unreserved
//      characters") describe; it is the stricter of the two for policy matching.
//   4. merge_slashes (part before '?'): if it contains "//", it is rebuilt as
//      (leading '/' ? '/' : '') + the non-empty segments joined by '/' + (trailing '/' ? '/' : '').
//      Envoy quirk kept on purpose: "//" alone becomes "//" (no segments, leading and trailing slash).
//
// Input is a "byte string": one char per byte (latin1), as the HTTP/1.1 codec delivers targets. The
// result is a byte string too. Hand-written (no library does Envoy's exact steps; WHATWG URL parsing
// in node:url differs: it rewrites more characters and treats `%2e` inside segments differently).
import type { EscapedSlashesAction } from '../config/types.js';

export interface PathNormalizationOptions {
  /** HCM normalize_path (Envoy's default is false; meshd's translation sets it true). */
  normalizePath: boolean;
  /** HCM merge_slashes. */
  mergeSlashes: boolean;
  /** HCM path_with_escaped_slashes_action ('unescape_and_redirect' accepted for Envoy parity). */
  escapedSlashes: EscapedSlashesAction | 'unescape_and_redirect';
}

export type PathRejectReason =
  /** Empty or not starting with '/': Envoy answers 404. */
  | 'not_origin_path'
  /** A fragment, or normalize_path failed (%00, NUL): Envoy answers 400. */
  | 'bad_path'
  /** An escaped slash with path_with_escaped_slashes_action REJECT_REQUEST: Envoy answers 400. */
  | 'escaped_slash';

export type PathNormalizationResult =
  | {
      ok: true;
      /** The normalized path followed by the untouched query ('?' included), as Envoy forwards it. */
      path: string;
      /** True only for UNESCAPE_AND_REDIRECT when an escaped slash was found: Envoy answers a redirect to `path`. */
      redirect: boolean;
    }
  | {
      ok: false;
      reason: PathRejectReason;
      /** The status Envoy answers with: 404 for not_origin_path, 400 otherwise. */
      status: 400 | 404;
    };

// Chromium's per-byte classes (flags), as in url_canon_path.cc's table.
const SPECIAL = 1;
const ESCAPE_BIT = 2;
const ESCAPE = ESCAPE_BIT | SPECIAL;
const UNESCAPE = 4;
const INVALID_BIT = 8;
const INVALID = INVALID_BIT | SPECIAL;
const PASS = 0;

const PATH_CLASS: Uint8Array = buildPathClasses();

function buildPathClasses(): Uint8Array {
  const t = new Uint8Array(256).fill(ESCAPE); // control bytes and bytes >= 0x80
  t[0] = INVALID;
  for (let c = 0x21; c < 0x7f; c++) t[c] = PASS;
  for (const ch of ' "#%<>?\\^`{|}') t[ch.charCodeAt(0)] = ESCAPE;
  t[0x7f] = ESCAPE;
  for (let c = 0x30; c <= 0x39; c++) t[c] = UNESCAPE;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = UNESCAPE;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = UNESCAPE;
  for (const ch of '-_~') t[ch.charCodeAt(0)] = UNESCAPE;
  t[0x2e] = SPECIAL; // '.'
  return t;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const DOT = 0x2e;
const HEX_UPPER = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Value of the %XX escape at `at` in `codes[0..end)`, or -1 when there is none. */
function decodeEscape(codes: ArrayLike<number>, at: number, end: number): number {
  if (at + 3 > end) return -1;
  const hi = hexValue(codes[at + 1]!);
  const lo = hexValue(codes[at + 2]!);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

function isUrlSlash(c: number): boolean {
  return c === SLASH || c === BACKSLASH;
}

/** Length of a dot at `at` ('.' → 1, '%2e'/'%2E' → 3), or 0. */
function dotLength(s: string, at: number, end: number): number {
  const c = s.charCodeAt(at);
  if (c === DOT) return 1;
  if (c === PERCENT && at + 3 <= end && s.charCodeAt(at + 1) === 0x32 && (s.charCodeAt(at + 2) | 0x20) === 0x65) return 3;
  return 0;
}

/** Fast check: nothing in `path` would be changed by canonicalization. */
function isAlreadyCanonical(path: string): boolean {
  if (path.charCodeAt(0) !== SLASH) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c > 0xff || (PATH_CLASS[c]! & SPECIAL) !== 0) return false;
  }
  return true;
}

/**
 * Envoy's normalize_path on a path without query. Returns undefined when Envoy would reject it.
 * Exported for tests; callers use normalizeRequestPath.
 */
export function canonicalizePath(path: string): string | undefined {
  if (path.length === 0) return '/';
  if (isAlreadyCanonical(path)) return path;
  const end = path.length;
  const out: number[] = [];
  let ok = true;
  if (!isUrlSlash(path.charCodeAt(0))) out.push(SLASH);
  // Index in `out` of a '%' copied because no valid escape followed it (Chromium's nested-escape guard).
  let lastInvalidPercent = -10;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c > 0xff) {
      // Not a byte string (a caller bug or an HTTP/2 :path decoded as UTF-16): never guess, reject.
      ok = false;
      continue;
    }
    const cls = PATH_CLASS[c]!;
    if ((cls & SPECIAL) === 0) {
      out.push(c);
      continue;
    }
    const dots = dotLength(path, i, end);
    if (dots > 0) {
      if (out.length > 0 && out[out.length - 1] === SLASH) {
        const after = i + dots;
        let consumed = 0;
        let kind: 'name' | 'current' | 'up' = 'name';
        if (after === end) kind = 'current';
        else if (isUrlSlash(path.charCodeAt(after))) {
          kind = 'current';
          consumed = 1;
        } else {
          const second = dotLength(path, after, end);
          if (second > 0) {
            const afterSecond = after + second;
            if (afterSecond === end) {
              kind = 'up';
              consumed = second;
            } else if (isUrlSlash(path.charCodeAt(afterSecond))) {
              kind = 'up';
              consumed = second + 1;
            }
          }
        }
        if (kind === 'name') {
          out.push(DOT);
          i += dots - 1;
        } else {
          if (kind === 'up') backUpToPreviousSlash(out);
          i += dots + consumed - 1;
        }
      } else {
        out.push(DOT);
        i += dots - 1;
      }
    } else if (c === BACKSLASH) {
      out.push(SLASH);
    } else if (c === PERCENT) {
      const value = decodeEscape(codesOf(path, i), 0, Math.min(3, end - i));
      if (value >= 0) {
        const valueClass = PATH_CLASS[value]!;
        if ((valueClass & UNESCAPE) !== 0) {
          out.push(value);
          if (lastInvalidPercent >= out.length - 3) fixNestedEscape(path, i + 3, end, lastInvalidPercent, out);
        } else {
          // Kept escaped, with the client's hex case (Envoy does not change it).
          out.push(PERCENT, path.charCodeAt(i + 1), path.charCodeAt(i + 2));
          if ((valueClass & INVALID_BIT) !== 0) ok = false;
        }
        i += 2;
      } else {
        lastInvalidPercent = out.length;
        out.push(PERCENT);
      }
    } else if ((cls & INVALID_BIT) !== 0) {
      pushEscaped(out, c);
      ok = false;
    } else if ((cls & ESCAPE_BIT) !== 0) {
      pushEscaped(out, c);
    } else {
      out.push(c);
    }
  }
  return ok ? Buffer.from(out).toString('latin1') : undefined;
}

/** The (up to) three char codes of `s` from `at`, for decodeEscape. */
function codesOf(s: string, at: number): number[] {
  return [s.charCodeAt(at), s.charCodeAt(at + 1), s.charCodeAt(at + 2)];
}

function pushEscaped(out: number[], c: number): void {
  out.push(PERCENT, HEX_UPPER.charCodeAt(c >> 4), HEX_UPPER.charCodeAt(c & 15));
}

/** `out` ends with '/': drop the last segment (stopping at the leading slash), keeping a trailing '/'. */
function backUpToPreviousSlash(out: number[]): void {
  let i = out.length - 1;
  if (i <= 0) return;
  i--;
  while (i > 0 && out[i] !== SLASH) i--;
  out.length = i + 1;
}

/**
 * A '%' that began no valid escape sits at `percentAt`, and the byte just decoded is within two
 * places of it: if together they now read as a valid escape (e.g. "%%30%30" → "%00"), escape the
 * '%' as "%25" so that re-canonicalizing the output cannot decode something the input did not say.
 */
function fixNestedEscape(path: string, nextInput: number, end: number, percentAt: number, out: number[]): void {
  const length = out.length;
  const lastDecoded = out[length - 1]!;
  const appendNext = percentAt === length - 2;
  if (appendNext) {
    if (nextInput >= end || path.charCodeAt(nextInput) >= 0x80) return;
    out.push(path.charCodeAt(nextInput));
  }
  if (decodeEscape(out, percentAt, out.length) >= 0) {
    if (!appendNext) out.push(out[percentAt + 1]!);
    out[percentAt + 1] = 0x32;
    out[percentAt + 2] = 0x35;
    out.push(lastDecoded);
  } else if (appendNext) {
    out.length = length;
  }
}

/**
 * Envoy's stripParametersFromDotSegments (envoy.reloadable_features.strip_dotdot_segments_with_parameters,
 * on by default since the fix for `/..;x/` bypasses): a '/'-separated segment starting with "..;" becomes
 * "..", one starting with ".;" becomes ".", so canonicalization then removes it. Path without query.
 */
export function stripParametersFromDotSegments(path: string): string {
  if (!path.includes('.;')) return path;
  return path
    .split('/')
    .map((segment) => (segment.startsWith('..;') ? '..' : segment.startsWith('.;') ? '.' : segment))
    .join('/');
}

/** Envoy's merge_slashes on a path without query. Exported for tests. */
export function mergeSlashes(path: string): string {
  if (!path.includes('//')) return path;
  const prefix = path.startsWith('/') ? '/' : '';
  const suffix = path.endsWith('/') ? '/' : '';
  return prefix + path.split('/').filter((s) => s.length > 0).join('/') + suffix;
}

/** Envoy's PathUtil::unescapeSlashes on a path without query: %2F %2f → '/', %5C %5c → '\'. */
export function unescapeSlashes(path: string): string {
  if (!path.includes('%')) return path;
  return path.split('%2F').join('/').split('%2f').join('/').split('%5C').join('\\').split('%5c').join('\\');
}

/**
 * Normalizes a request target's path as Envoy's HCM does before filters and routing (see the header
 * comment for the exact steps and their order). The query ('?' onwards) is kept untouched.
 */
export function normalizeRequestPath(target: string, options: PathNormalizationOptions): PathNormalizationResult {
  if (target.length === 0 || target.charCodeAt(0) !== SLASH) return { ok: false, reason: 'not_origin_path', status: 404 };
  if (target.includes('#')) return { ok: false, reason: 'bad_path', status: 400 };
  const queryAt = target.indexOf('?');
  let path = queryAt < 0 ? target : target.slice(0, queryAt);
  const query = queryAt < 0 ? '' : target.slice(queryAt);
  let redirect = false;
  if (options.escapedSlashes !== 'keep') {
    const unescaped = unescapeSlashes(path);
    if (unescaped.length !== path.length) {
      if (options.escapedSlashes === 'reject') return { ok: false, reason: 'escaped_slash', status: 400 };
      if (options.escapedSlashes === 'unescape_and_redirect') redirect = true;
      path = unescaped;
    }
  }
  if (options.normalizePath) {
    let canonical = canonicalizePath(stripParametersFromDotSegments(path));
    // Deliberately stricter than Envoy: Envoy strips ";params" from dot segments only BEFORE
    // canonicalization, so `%2e%2e;x` or `\..;x` become a "..;x" segment only afterwards and are
    // forwarded as such — and servers that drop path parameters (Tomcat, Spring) then resolve them
    // as "..": `/public/%2e%2e;x/admin` would pass a `/public/` rule and reach /admin. meshd repeats
    // strip + canonicalize until nothing changes (bounded: every round shortens the path), so the
    // result is a fixed point: normalizing it again changes nothing.
    for (let round = 0; canonical !== undefined && round < 16 && canonical.includes('.;'); round++) {
      const stripped = stripParametersFromDotSegments(canonical);
      if (stripped === canonical) break;
      canonical = canonicalizePath(stripped);
    }
    if (canonical === undefined) return { ok: false, reason: 'bad_path', status: 400 };
    path = canonical;
  }
  if (options.mergeSlashes) path = mergeSlashes(path);
  return { ok: true, path: query.length === 0 ? path : path + query, redirect };
}

/** The path without its query: what RBAC `url_path` matches (Envoy strips the query for it). */
export function pathWithoutQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
