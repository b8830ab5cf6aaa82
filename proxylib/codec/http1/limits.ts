// Size limits of the HTTP/1.1 codec. Every buffer it keeps is bounded by one of these.

export interface Http1Limits {
  /**
   * Bytes of the start line + header lines + their CRLFs (and, separately, of a trailer section).
   * Over the limit → HPE_HEADER_OVERFLOW (431). Envoy's default max_request_headers_kb is 60.
   */
  maxHeaderBytes: number;
  /** Header fields in one head (or trailer section). Over → 431. Envoy's default max_headers_count is 100. */
  maxHeaderCount: number;
  /** Bytes of one chunk-size line including extensions. Over → HPE_CHUNK_EXTENSIONS_OVERFLOW (413). */
  maxChunkLineBytes: number;
}

export const DEFAULT_HTTP1_LIMITS: Readonly<Http1Limits> = Object.freeze({
  maxHeaderBytes: 60 * 1024,
  maxHeaderCount: 100,
  maxChunkLineBytes: 4096,
});

/** Limits from the HCM's max_request_headers_kb / max_headers_count (common_http_protocol_options). */
export function http1LimitsFromHcm(hcm: { maxRequestHeadersKb: number; maxHeadersCount: number }): Http1Limits {
  return {
    maxHeaderBytes: hcm.maxRequestHeadersKb * 1024,
    maxHeaderCount: hcm.maxHeadersCount,
    maxChunkLineBytes: DEFAULT_HTTP1_LIMITS.maxChunkLineBytes,
  };
}
