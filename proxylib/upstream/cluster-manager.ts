// The clusters of the current config: endpoint choice (STATIC, EDS from the view, ORIGINAL_DST from
// the connection) and opening upstream connections, plain or with TLS origination. Reads the view
// per call, so CDS/EDS/SDS updates apply to the next pick and the next connect.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { ClusterConfig, EndpointAddress } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import { ProxyError } from '../errors.js';
import type { CoarseClock } from '../listener/index.js';
import { LoadBalancer } from './load-balancer.js';
import { describeRef, matchesAnySan, parseSubjectAltNames, resolveCertificate, resolveValidation, SecureContextCache } from './tls-material.js';
import type { ClusterManager, ConnectOptions, PickContext, PickResult, UpstreamTarget } from './types.js';

const MAX_TLS_SESSIONS = 1024;

export interface ClusterManagerOptions {
  /** Connect timeouts run on this clock when given (the listener's shared one), else on setTimeout. */
  clock?: CoarseClock | undefined;
  /**
   * True for an address one of the proxy's own listeners accepts on (ListenerManager.isOwnAddress).
   * An ORIGINAL_DST pick for such a destination — a connection that reached the proxy directly, not
   * through the redirect — answers no_original_destination instead of dialling the proxy itself in
   * a loop.
   */
  isOwnAddress?: ((address: string, port: number) => boolean) | undefined;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → host (what auto_sni sends). */
export function hostOfAuthority(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end > 0 ? authority.slice(1, end) : authority;
  }
  const colon = authority.indexOf(':');
  // More than one colon: a bare IPv6 literal, no port.
  if (colon >= 0 && authority.indexOf(':', colon + 1) < 0) return authority.slice(0, colon);
  return authority;
}

export class ViewClusterManager implements ClusterManager {
  private readonly balancer = new LoadBalancer();
  /**
   * TLS sessions per pool key (cluster, endpoint, SNI, protocol), so a new upstream connection resumes
   * instead of paying a full handshake, as Envoy's client session cache does. Bounded; oldest out first.
   */
  private readonly tlsSessions = new Map<string, Buffer>();
  private readonly contexts = new SecureContextCache();
  private readonly clock: CoarseClock | undefined;
  private readonly isOwnAddress: ((address: string, port: number) => boolean) | undefined;

  constructor(
    private readonly view: ConfigView,
    options: ClusterManagerOptions = {},
  ) {
    this.clock = options.clock;
    this.isOwnAddress = options.isOwnAddress;
  }

  pick(clusterName: string, ctx: PickContext): PickResult {
    const cluster = this.view.cluster(clusterName);
    if (!cluster) return { ok: false, reason: 'cluster_not_found' };
    let endpoint: EndpointAddress | undefined;
    switch (cluster.discovery.kind) {
      case 'static':
        endpoint = this.balancer.choose(cluster.name, cluster.lbPolicy, cluster.discovery.endpoints);
        break;
      case 'eds': {
        const set = this.view.endpoints(cluster.discovery.serviceName);
        if (!set) return { ok: false, reason: 'no_healthy_upstream' };
        endpoint = this.balancer.choose(cluster.name, cluster.lbPolicy, set.endpoints);
        break;
      }
      case 'original_dst': {
        const dst = ctx.originalDestination;
        if (!dst.address || !(dst.port > 0) || this.isOwnAddress?.(dst.address, dst.port) === true) return { ok: false, reason: 'no_original_destination' };
        endpoint = { address: dst.address, port: dst.port, weight: 1 };
        break;
      }
    }
    if (!endpoint) return { ok: false, reason: 'no_healthy_upstream' };
    return { ok: true, target: this.targetOf(cluster, endpoint, ctx) };
  }

  protocolOf(target: UpstreamTarget, downstream: 'http1' | 'http2'): 'http1' | 'http2' {
    const p = target.cluster.httpProtocol;
    return p === 'downstream' ? downstream : p;
  }

  /** Counts an active request on the target for least_request; call the result when it ends. */
  beginRequest(target: UpstreamTarget): () => void {
    return this.balancer.begin(target.address, target.port);
  }

  connect(target: UpstreamTarget, options: ConnectOptions): Promise<Socket | TLSSocket> {
    const { cluster } = target;
    const tlsConfig = cluster.upstreamTls;
    return new Promise<Socket | TLSSocket>((resolve, reject) => {
      let socket: Socket | TLSSocket;
      const where = `${target.address}:${target.port} (cluster ${cluster.name})`;
      if (tlsConfig) {
        let secureContext;
        let validation;
        try {
          const certificate = tlsConfig.certificate ? resolveCertificate(tlsConfig.certificate, this.view) : undefined;
          if (tlsConfig.certificate && !certificate) throw new ProxyError('MESHD_ERR_PROXY_UPSTREAM_TLS', `TLS to ${where}: ${describeRef(tlsConfig.certificate)} is not available`);
          validation = tlsConfig.validation ? resolveValidation(tlsConfig.validation, this.view) : undefined;
          if (tlsConfig.validation && !validation) throw new ProxyError('MESHD_ERR_PROXY_UPSTREAM_TLS', `TLS to ${where}: ${describeRef(tlsConfig.validation)} is not available`);
          secureContext = this.contexts.contextFor(tlsConfig, { certificates: certificate ? [certificate] : [], validation });
        } catch (err) {
          reject(err);
          return;
        }
        const sni = target.serverName;
        const alpn = tlsConfig.alpnProtocols.length > 0 ? tlsConfig.alpnProtocols : options.alpnProtocols;
        const matchSan = validation?.matchSubjectAltName;
        const session = this.tlsSessions.get(target.poolKey);
        socket = tlsConnect({
          host: target.address,
          port: target.port,
          secureContext,
          ...(session ? { session } : {}),
          ...(sni && isIP(sni) === 0 ? { servername: sni } : {}),
          ...(alpn.length > 0 ? { ALPNProtocols: alpn } : {}),
          // Envoy verifies the chain only when a validation context is configured, and the name only
          // through auto_san_validation or match_subject_alt_names — never implicitly against the SNI.
          rejectUnauthorized: validation !== undefined,
          checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
            if (tlsConfig.autoSanValidation && sni) {
              const err = checkServerIdentity(sni, cert);
              if (err) return err;
            }
            if (matchSan && !matchesAnySan(parseSubjectAltNames(cert.subjectaltname), matchSan)) {
              return new Error(`no subject alternative name of the upstream certificate matches the validation context (SANs: ${cert.subjectaltname ?? 'none'})`);
            }
            return undefined;
          },
        });
        socket.on('session', (ticket: Buffer) => this.rememberSession(target.poolKey, ticket));
      } else {
        socket = netConnect({ host: target.address, port: target.port, allowHalfOpen: true });
      }
      const connectedEvent = tlsConfig ? 'secureConnect' : 'connect';
      let settled = false;
      let tcpConnected = false;
      const onTimeout = (): void => {
        fail(new ProxyError('MESHD_ERR_PROXY_UPSTREAM_CONNECT', `connect to ${where} timed out after ${cluster.connectTimeoutMs} ms`));
      };
      const timeoutMs = cluster.connectTimeoutMs;
      const timer = this.clock ? this.clock.timeout(timeoutMs, onTimeout) : timeoutMs > 0 ? setTimeout(onTimeout, timeoutMs) : undefined;
      const cancelTimer = (): void => {
        if (timer === undefined) return;
        if ('cancel' in timer) timer.cancel();
        else clearTimeout(timer);
      };
      const fail = (err: ProxyError): void => {
        if (settled) return;
        settled = true;
        cancelTimer();
        socket.destroy();
        reject(err);
      };
      if (tlsConfig) socket.once('connect', () => (tcpConnected = true));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const isTlsFailure = tcpConnected;
        const code = isTlsFailure ? 'MESHD_ERR_PROXY_UPSTREAM_TLS' : 'MESHD_ERR_PROXY_UPSTREAM_CONNECT';
        fail(new ProxyError(code, `${isTlsFailure ? 'TLS to' : 'connect to'} ${where} failed: ${err.code ?? ''}${err.code ? ' ' : ''}${err.message}`));
      });
      socket.once(connectedEvent, () => {
        if (settled) return;
        settled = true;
        cancelTimer();
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
  }

  private rememberSession(poolKey: string, session: Buffer): void {
    this.tlsSessions.delete(poolKey);
    this.tlsSessions.set(poolKey, session);
    if (this.tlsSessions.size > MAX_TLS_SESSIONS) {
      const oldest = this.tlsSessions.keys().next();
      if (!oldest.done) this.tlsSessions.delete(oldest.value);
    }
  }

  private targetOf(cluster: ClusterConfig, endpoint: EndpointAddress, ctx: PickContext): UpstreamTarget {
    const tlsConfig = cluster.upstreamTls;
    const serverName = tlsConfig ? tlsConfig.sni || (tlsConfig.autoSni ? hostOfAuthority(ctx.host) : '') : '';
    const protocol = cluster.httpProtocol === 'downstream' ? ctx.downstreamProtocol : cluster.httpProtocol;
    return {
      cluster,
      address: endpoint.address,
      port: endpoint.port,
      serverName,
      poolKey: `${cluster.name}|${endpoint.address}|${endpoint.port}|${serverName}|${protocol}`,
    };
  }
}
