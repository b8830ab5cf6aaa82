// What the RBAC filters (HTTP and network) see of a request or connection, and what they decide.
// Envoy's RBAC semantics: a filter with `rules` of action ALLOW allows iff some policy matches; of
// action DENY denies iff some policy matches; LOG never denies. A filter without `rules` does nothing.
// `shadow_rules` are evaluated for the record only and never change the outcome.

/** Facts of one connection (network RBAC) or one request (HTTP RBAC). */
export interface RbacContext {
  /** The socket peer (Envoy's direct_remote_ip / deprecated source_ip). */
  directRemoteIp: string;
  directRemotePort: number;
  /** Envoy's remote_ip: equal to directRemoteIp unless XFF is trusted (meshd never trusts it). */
  remoteIp: string;
  /** The local address after original_dst: the original destination of a redirected connection. */
  destinationIp: string;
  destinationPort: number;
  /** SNI of the downstream TLS handshake, '' when none. */
  requestedServerName: string;
  /**
   * The downstream connection is TLS (terminated by the proxy). Envoy's `authenticated` principal
   * without principal_name matches any TLS connection, client certificate or not. Optional: when
   * absent, a connection counts as TLS only if peerCertificate is set.
   */
  downstreamTls?: boolean;
  /** Subject / SANs of a verified downstream client certificate, when one was presented. */
  peerCertificate?: { subject: string; uriSans: readonly string[]; dnsSans: readonly string[] };
  /**
   * HTTP only: header lookup by lower-case name, pseudo-headers included (`:method`, `:path` — the
   * normalized path with query, `:authority`, `:scheme`). Several values of one header are joined
   * with ',' as Envoy does. undefined when absent. Absent for network RBAC.
   */
  header?: (lowerCaseName: string) => string | undefined;
  /** HTTP only: the normalized path without query or fragment (what url_path matches). */
  urlPath?: string;
}

export interface RbacDecision {
  allowed: boolean;
  /** Name of the policy that matched (for ALLOW: the one that allowed; for DENY: the one that denied). */
  policy: string | undefined;
  /** Name of the matching shadow policy, when shadow rules are configured. */
  shadowPolicy?: string | undefined;
}

/**
 * A compiled RBAC filter (HTTP or network). Evaluation is synchronous and allocation-light: without
 * shadow rules the returned decisions are shared frozen objects (read them, do not modify them).
 */
export interface RbacFilter {
  readonly name: string;
  readonly action: 'ALLOW' | 'DENY' | 'LOG' | 'NONE';
  evaluate(ctx: RbacContext): RbacDecision;
}
