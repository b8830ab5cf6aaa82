// What the translation takes and gives. The input is one node's view: its endpoints' resolved
// policies, how selectors map to identities and identities to addresses, where the proxy listens
// and which proxy port each redirect got, and the secrets TLS rules name. The function is pure:
// equal inputs give byte-identical resources (names and orders are stable), so an unchanged policy
// never causes a push.
import type { ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { Direction, EndpointPolicy, LabelSelector } from '../../policy/index.js';
import type { ClusterPlan, ListenerPlan, RouteConfigPlan, SecretPlan } from '../resources/index.js';
import type { IpCacheEntry } from './ip-sets.js';

/**
 * `envoy`: upstream Envoy, which must never see meshd's own filter types (Kafka and DNS redirects
 * are then left out and reported in `skipped`); `builtin`: meshd's built-in proxy, which gets them.
 */
export type TranslationTarget = 'envoy' | 'builtin';

/** What the proxy does with a redirected flow: parse HTTP (and gRPC), Kafka, DNS, or only TLS/TCP. */
export type RedirectL7 = 'http' | 'kafka' | 'dns' | 'none';

/**
 * One redirect of the datapath: traffic of `endpoint` in `direction` to these destination ports is
 * sent to one proxy port. A policy port 0 ("every port") is the range 1–65535.
 */
export interface RedirectKey {
  /** The endpoint's id, `namespace/name`. */
  endpoint: string;
  direction: Direction;
  protocol: 'TCP' | 'UDP';
  portStart: number;
  portEnd: number;
  l7: RedirectL7;
}

export interface SecretRef {
  namespace: string;
  name: string;
}

export interface TranslationOptions {
  /** Upstream connect timeout; default 5000. */
  connectTimeoutMs?: number;
  /** The identity of addresses no ipcache prefix holds, per family; default world-ipv4 (9) / world-ipv6 (10). */
  worldIdentity?: { ipv4: number; ipv6: number };
  /** Namespace of secrets a cluster-wide policy names without one; default `default`. */
  defaultSecretNamespace?: string;
  /**
   * Ingress TCP listeners get `transparent: true` (IP_TRANSPARENT), so connections from other
   * nodes that BPF TPROXY assigns to them (bpf/progs/tc.bpf.c, docs/adr/0003) are accepted with
   * the pod's address as local address. Default off: turn it on when the node runs the tc
   * program and the proxy accepts the field (Envoy does; the built-in proxy's compiler must).
   */
  transparentIngress?: boolean;
}

export interface TranslationInput {
  target: TranslationTarget;
  /** The node's endpoints with their resolved policy (Repository.endpointPolicy). */
  endpoints: readonly EndpointPolicy[];
  /** The selector cache: identities a peer selector selects. */
  identitiesOf(selector: LabelSelector): Iterable<number>;
  /** The ipcache view: every prefix with its identity (pods as /32 and /128, CIDR identities, the host). */
  ipcache: Iterable<IpCacheEntry>;
  /** Addresses the proxy listens on (the node proxy address of each family). */
  proxyAddresses: readonly string[];
  /** The proxy port allocated to a redirect; undefined = none (the redirect is reported as skipped). */
  proxyPortOf(key: RedirectKey): number | undefined;
  /** Items of a Kubernetes Secret (`tls.crt`, `tls.key`, `ca.crt`, …) as PEM text; undefined = unknown. */
  secretData?(ref: SecretRef): Readonly<Record<string, string>> | undefined;
  options?: TranslationOptions;
}

export interface Skipped {
  key: RedirectKey;
  reason: string;
}

export interface RedirectOutcome {
  key: RedirectKey;
  proxyPort: number;
  listener: string;
  filterChains: string[];
}

export interface Translation {
  target: TranslationTarget;
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  /** ORIGINAL_DST clusters take no endpoints, so this is empty today. */
  endpoints: ClusterLoadAssignment[];
  secrets: Secret[];
  /** Every SDS secret name the listeners and clusters refer to (all present in `secrets`). */
  secretNames: string[];
  redirects: RedirectOutcome[];
  skipped: Skipped[];
  /** Things left out that are not redirects (entries with unresolvable egress named ports, …). */
  warnings: string[];
  /** The intermediate form the messages were built from. */
  plan: { listeners: ListenerPlan[]; routes: RouteConfigPlan[]; clusters: ClusterPlan[]; secrets: SecretPlan[] };
}
