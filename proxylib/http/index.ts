// Public entry of proxylib/http: protocol-independent HTTP helpers shared by the HTTP/1.1 codec, the
// HTTP/1.1 and HTTP/2 data paths and the HCM decision. Stable API (owner A; fields only added):
//
//   normalizeRequestPath(target, { normalizePath, mergeSlashes, escapedSlashes })
//     → { ok: true, path, redirect } | { ok: false, reason: 'not_origin_path' | 'bad_path' | 'escaped_slash', status: 404 | 400 }
//     Envoy's exact steps and order (fragment reject → escaped slashes → normalize_path → merge_slashes);
//     `path` keeps the query untouched. See path-normalization.ts for every rule.
//   pathWithoutQuery(path) — what RBAC url_path matches.
//   canonicalizePath / mergeSlashes / unescapeSlashes / stripParametersFromDotSegments — the single steps.
//   isValidHeaderName(name), isValidHeaderValue(value), isValidMethod(method) — RFC 9110 token / field-value.
//   HOP_BY_HOP_HEADERS, isHopByHopHeader(name, value) — Envoy's list (`te: trailers` is kept).
//   listTokens(value) — comma-separated list header → trimmed lower-case tokens.
//   firstHeaderValue(headers, name) — the first value of a lower-case name in a HeaderList.
//   TOKEN_CHAR, FIELD_VALUE_CHAR — byte class tables (Uint8Array(256), 1 = allowed).
export {
  normalizeRequestPath,
  pathWithoutQuery,
  canonicalizePath,
  mergeSlashes,
  unescapeSlashes,
  stripParametersFromDotSegments,
} from './path-normalization.js';
export type { PathNormalizationOptions, PathNormalizationResult, PathRejectReason } from './path-normalization.js';
export {
  isValidHeaderName,
  isValidHeaderValue,
  isValidMethod,
  HOP_BY_HOP_HEADERS,
  isHopByHopHeader,
  listTokens,
  firstHeaderValue,
  TOKEN_CHAR,
  FIELD_VALUE_CHAR,
} from './headers.js';
