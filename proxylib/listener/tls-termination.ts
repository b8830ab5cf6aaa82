// Downstream TLS termination for a selected filter chain. The chain is chosen before the handshake
// (from the ClientHello that tls_inspector peeked), so its certificates are known up front and no
// SNICallback is needed. SDS secrets are resolved at every handshake and the SecureContext is cached
// per (chain TLS config, secret objects): a rotated secret changes the object, so the next handshake
// uses the new certificate without a restart while existing connections keep theirs.
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { DownstreamTlsConfig, TlsCertificateMaterial } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import type { DownstreamFacts } from '../hcm/types.js';
import {
  describeRef,
  matchesAnySan,
  parseSubjectAltNames,
  resolveCertificate,
  resolveValidation,
  SecureContextCache,
  subjectToRfc2253,
} from '../upstream/index.js';
import type { CoarseClock } from './types.js';

export type TlsTermination =
  | {
      ok: true;
      socket: TLSSocket;
      /** SNI the client sent ('' when none). */
      serverName: string;
      alpn: string | undefined;
      peerCertificate: DownstreamFacts['peerCertificate'];
    }
  | { ok: false; reason: 'tls_secret_missing' | 'tls_handshake_failed' | 'tls_client_certificate_rejected' | 'tls_handshake_timeout'; detail: string };

export class DownstreamTlsTerminator {
  private readonly contexts = new SecureContextCache();

  constructor(private readonly view: ConfigView) {}

  terminate(raw: Socket, config: DownstreamTlsConfig, limits: { timeoutMs: number; clock: CoarseClock }): Promise<TlsTermination> {
    const certificates: TlsCertificateMaterial[] = [];
    for (const ref of config.certificates) {
      const material = resolveCertificate(ref, this.view);
      if (!material) return Promise.resolve({ ok: false, reason: 'tls_secret_missing', detail: `${describeRef(ref)} is not available` });
      certificates.push(material);
    }
    const validation = config.validation ? resolveValidation(config.validation, this.view) : undefined;
    if (config.validation && !validation) {
      return Promise.resolve({ ok: false, reason: 'tls_secret_missing', detail: `${describeRef(config.validation)} is not available` });
    }
    let secureContext;
    try {
      secureContext = this.contexts.contextFor(config, { certificates, validation }, { minVersion: config.minVersion, maxVersion: config.maxVersion });
    } catch (err) {
      return Promise.resolve({ ok: false, reason: 'tls_secret_missing', detail: (err as Error).message });
    }
    return new Promise<TlsTermination>((resolve) => {
      const socket = new TLSSocket(raw, {
        isServer: true,
        secureContext,
        // A validation context asks for a client certificate; Envoy rejects a presented certificate
        // that does not verify even when one is not required, which is checked after the handshake.
        requestCert: validation !== undefined,
        // Verification is checked after the handshake (verifyResultOf): rejectUnauthorized is acted on
        // only by tls.Server's own connection listener, which a TLSSocket made here never passes through.
        rejectUnauthorized: false,
        ...(config.alpnProtocols.length > 0 ? { ALPNProtocols: config.alpnProtocols } : {}),
      });
      let settled = false;
      const settle = (result: TlsTermination): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        // onError stays attached (a no-op once settled): an error between the handshake and the
        // caller attaching its own listener must not become an uncaught exception.
        if (!result.ok) socket.destroy();
        resolve(result);
      };
      const timer = limits.clock.timeout(limits.timeoutMs, () =>
        settle({ ok: false, reason: 'tls_handshake_timeout', detail: `no TLS handshake within ${limits.timeoutMs} ms` }),
      );
      const onError = (err: Error): void => settle({ ok: false, reason: 'tls_handshake_failed', detail: err.message });
      socket.on('error', onError);
      socket.once('secure', () => {
        const verifyError = completeServerHandshake(socket, validation !== undefined);
        const serverName = typeof socket.servername === 'string' ? socket.servername : '';
        const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
        let peerCertificate: DownstreamFacts['peerCertificate'];
        if (validation) {
          const peer = socket.getPeerX509Certificate();
          if (peer) {
            if (verifyError !== null) {
              settle({ ok: false, reason: 'tls_client_certificate_rejected', detail: `client certificate not trusted: ${verifyError}` });
              return;
            }
            const sans = parseSubjectAltNames(peer.subjectAltName);
            if (validation.matchSubjectAltName && !matchesAnySan(sans, validation.matchSubjectAltName)) {
              settle({ ok: false, reason: 'tls_client_certificate_rejected', detail: `no client certificate SAN matches (${peer.subjectAltName ?? 'none'})` });
              return;
            }
            peerCertificate = { subject: subjectToRfc2253(peer.subject), uriSans: sans.uri, dnsSans: sans.dns };
          } else if (config.requireClientCertificate) {
            settle({ ok: false, reason: 'tls_client_certificate_rejected', detail: 'no client certificate presented' });
            return;
          }
        }
        socket.pause();
        settle({ ok: true, socket, serverName, alpn, peerCertificate });
      });
    });
  }
}

/**
 * What tls.Server's own 'secure' listener (onServerSocketSecure in Node's _tls_wrap.js) does for the
 * sockets it creates, done here because this TLSSocket was created outside a tls.Server (the chain,
 * and so the certificate, is chosen before the handshake):
 *   - read OpenSSL's verification result of the client chain (`_handle.verifyError()`), and set
 *     `authorized` / `authorizationError` as tls.Server would;
 *   - `_releaseControl()`: later TLS errors are emitted as 'error' on the socket instead of being
 *     swallowed as '_tlsError';
 *   - `secureConnecting = false`: node:http2 waits for a 'secureConnect' that a server-side socket
 *     never emits while this is true, so an HTTP/2 session on this socket would never start.
 * These members are undocumented but have been stable since Node 0.x / 10; if one disappears the
 * verification fails closed (returns an error) and the rest is skipped.
 * Returns null when the client chain verified (or no client certificate was requested).
 */
function completeServerHandshake(socket: TLSSocket, requestedCert: boolean): string | null {
  const internals = socket as unknown as {
    _handle?: { verifyError?: () => (Error & { code?: string }) | null };
    _releaseControl?: () => boolean;
    secureConnecting?: boolean;
    authorized: boolean;
    authorizationError?: string;
  };
  let verifyError: string | null = null;
  if (requestedCert) {
    if (typeof internals._handle?.verifyError !== 'function') {
      verifyError = 'verification result unavailable';
    } else {
      const err = internals._handle.verifyError();
      verifyError = err ? (err.code ?? err.message) : null;
    }
    if (verifyError === null) internals.authorized = true;
    else internals.authorizationError = verifyError;
  }
  if (typeof internals._releaseControl === 'function') internals._releaseControl();
  internals.secureConnecting = false;
  return verifyError;
}
