// TLS transport sockets (DownstreamTlsContext on a filter chain, UpstreamTlsContext on a cluster)
// and the certificate / validation material they carry inline or name by SDS. SDS names stay
// names: the listener and cluster manager look the Secret up at handshake time, so a rotated
// Secret applies to the next handshake without recompiling anything.
import type { Any } from '@bufbuild/protobuf/wkt';
import { envoy } from '../../xds/index.js';
import { compileStringMatcher, type StringPredicate } from '../matchers/index.js';
import { readDataSource } from './data-source.js';
import { checkSupportedFields } from './field-walker.js';
import { checkAdsSource } from './hcm.js';
import { at, NOT_IMPLEMENTED, type Problems } from './problems.js';
import { DownstreamTlsContextSchema, RawBufferSchema, UpstreamTlsContextSchema } from './schemas.js';
import { typeNameOfAny, unpackTypedConfig } from './typed-config.js';
import type { DownstreamTlsConfig, TlsCertificateMaterial, TlsCertificateRef, UpstreamTlsConfig, ValidationMaterial, ValidationRef } from './types.js';

type Side = 'downstream' | 'upstream';

/**
 * A filter chain's or cluster's transport_socket: TLS config, or undefined for plaintext (none or
 * raw_buffer). Problems go to `p` at `path` (the transport_socket's path).
 */
export function compileTransportSocket(p: Problems, path: string, socket: envoy.TransportSocket | undefined, side: 'downstream'): DownstreamTlsConfig | undefined;
export function compileTransportSocket(p: Problems, path: string, socket: envoy.TransportSocket | undefined, side: 'upstream'): UpstreamTlsConfig | undefined;
export function compileTransportSocket(p: Problems, path: string, socket: envoy.TransportSocket | undefined, side: Side): DownstreamTlsConfig | UpstreamTlsConfig | undefined {
  if (!socket) return undefined;
  if (socket.configType.case !== 'typedConfig') {
    p.add(at(path, 'typed_config'), 'is required (the proxy resolves transport sockets by their typed_config type)');
    return undefined;
  }
  const any: Any = socket.configType.value;
  const cfgPath = at(path, 'typed_config');
  const typeName = typeNameOfAny(any);
  const expected = side === 'downstream' ? DownstreamTlsContextSchema : UpstreamTlsContextSchema;
  if (typeName === RawBufferSchema.typeName) return undefined;
  if (typeName !== expected.typeName) {
    p.add(cfgPath, `transport socket ${typeName} ${NOT_IMPLEMENTED} on the ${side} side (use ${expected.typeName} or raw_buffer)`);
    return undefined;
  }
  const unpacked = unpackTypedConfig(p, cfgPath, any);
  if (!unpacked) return undefined;
  if (side === 'downstream') {
    const ctx = unpacked.message as envoy.DownstreamTlsContext;
    checkSupportedFields(DownstreamTlsContextSchema, ctx, cfgPath, p);
    return compileDownstream(p, cfgPath, ctx);
  }
  const ctx = unpacked.message as envoy.UpstreamTlsContext;
  checkSupportedFields(UpstreamTlsContextSchema, ctx, cfgPath, p);
  return compileUpstream(p, cfgPath, ctx);
}

interface CommonParts {
  certificates: TlsCertificateRef[];
  validation: ValidationRef | undefined;
  alpnProtocols: string[];
  minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
  maxVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
}

function compileDownstream(p: Problems, path: string, ctx: envoy.DownstreamTlsContext): DownstreamTlsConfig | undefined {
  const before = p.items.length;
  const common = compileCommon(p, at(path, 'common_tls_context'), ctx.commonTlsContext);
  if (common && common.certificates.length === 0) p.add(at(path, 'common_tls_context'), 'terminating TLS needs a certificate (tls_certificates or tls_certificate_sds_secret_configs)');
  const requireClientCertificate = ctx.requireClientCertificate ?? false;
  if (requireClientCertificate && !common?.validation) p.add(at(path, 'require_client_certificate'), 'needs a validation context to verify client certificates against');
  if (p.items.length > before || !common) return undefined;
  return { certificates: common.certificates, validation: common.validation, requireClientCertificate, alpnProtocols: common.alpnProtocols, minVersion: common.minVersion, maxVersion: common.maxVersion };
}

function compileUpstream(p: Problems, path: string, ctx: envoy.UpstreamTlsContext): UpstreamTlsConfig | undefined {
  const before = p.items.length;
  const common = compileCommon(p, at(path, 'common_tls_context'), ctx.commonTlsContext);
  if (common && common.certificates.length > 1) p.add(at(path, 'common_tls_context'), 'an upstream TLS context has at most one client certificate');
  if (common && (common.minVersion !== undefined || common.maxVersion !== undefined)) {
    // Both sides use node:tls with the same version names, so nothing stops supporting it; keep it
    // honest instead: the cluster model has no field for it yet.
    p.notImplemented(at(path, 'common_tls_context.tls_params'), 'on upstream TLS');
  }
  if (ctx.sni.length > 255) p.add(at(path, 'sni'), 'is longer than 255 characters');
  if (p.items.length > before || !common) return undefined;
  return {
    sni: ctx.sni,
    // Filled from the cluster's HttpProtocolOptions by compileCluster.
    autoSni: false,
    autoSanValidation: false,
    validation: common.validation,
    certificate: common.certificates[0],
    alpnProtocols: common.alpnProtocols,
  };
}

function compileCommon(p: Problems, path: string, ctx: envoy.CommonTlsContext | undefined): CommonParts | undefined {
  if (!ctx) return { certificates: [], validation: undefined, alpnProtocols: [], minVersion: undefined, maxVersion: undefined };
  const certificates: TlsCertificateRef[] = [];
  ctx.tlsCertificates.forEach((c, i) => {
    const material = compileTlsCertificate(p, at(path, `tls_certificates[${i}]`), c);
    if (material) certificates.push({ kind: 'inline', material });
  });
  ctx.tlsCertificateSdsSecretConfigs.forEach((s, i) => {
    const name = sdsName(p, at(path, `tls_certificate_sds_secret_configs[${i}]`), s);
    if (name !== undefined) certificates.push({ kind: 'sds', name });
  });
  let validation: ValidationRef | undefined;
  const v = ctx.validationContextType;
  if (v.case === 'validationContext') {
    const material = compileValidationContext(p, at(path, 'validation_context'), v.value);
    if (material) validation = { kind: 'inline', material };
  } else if (v.case === 'validationContextSdsSecretConfig') {
    const name = sdsName(p, at(path, 'validation_context_sds_secret_config'), v.value);
    if (name !== undefined) validation = { kind: 'sds', name };
  }
  ctx.alpnProtocols.forEach((a, i) => {
    if (a === '' || a.length > 255) p.add(at(path, `alpn_protocols[${i}]`), 'must be 1–255 characters');
  });
  const minVersion = tlsVersion(p, at(path, 'tls_params.tls_minimum_protocol_version'), ctx.tlsParams?.tlsMinimumProtocolVersion);
  const maxVersion = tlsVersion(p, at(path, 'tls_params.tls_maximum_protocol_version'), ctx.tlsParams?.tlsMaximumProtocolVersion);
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') p.add(at(path, 'tls_params'), 'the minimum version is above the maximum');
  return { certificates, validation, alpnProtocols: [...ctx.alpnProtocols], minVersion, maxVersion };
}

function tlsVersion(p: Problems, path: string, v: envoy.TlsParameters_TlsProtocol | undefined): 'TLSv1.2' | 'TLSv1.3' | undefined {
  const T = envoy.TlsParameters_TlsProtocol;
  switch (v) {
    case undefined:
    case T.TLS_AUTO:
      return undefined;
    case T.TLSv1_2:
      return 'TLSv1.2';
    case T.TLSv1_3:
      return 'TLSv1.3';
    default:
      p.notImplemented(path, `${T[v] ?? v}: the built-in proxy speaks TLS 1.2 and 1.3 only`);
      return undefined;
  }
}

function sdsName(p: Problems, path: string, s: envoy.SdsSecretConfig): string | undefined {
  if (s.name === '') {
    p.add(at(path, 'name'), 'must not be empty');
    return undefined;
  }
  // Without sds_config Envoy looks the name up among its bootstrap's static secrets; the built-in
  // proxy has none, so only secrets from its ADS stream can be meant.
  if (!s.sdsConfig) p.add(at(path, 'sds_config'), 'is required (ads): the built-in proxy has no static secrets');
  else checkAdsSource(p, at(path, 'sds_config'), s.sdsConfig);
  return s.name;
}

/** A TlsCertificate (inline in a context or in an SDS Secret) → PEM strings. */
export function compileTlsCertificate(p: Problems, path: string, c: envoy.TlsCertificate): TlsCertificateMaterial | undefined {
  const before = p.items.length;
  const certificateChain = readDataSource(p, at(path, 'certificate_chain'), c.certificateChain);
  const privateKey = readDataSource(p, at(path, 'private_key'), c.privateKey);
  if (certificateChain === '') p.add(at(path, 'certificate_chain'), 'must not be empty');
  if (privateKey === '') p.add(at(path, 'private_key'), 'must not be empty');
  if (p.items.length > before || certificateChain === undefined || privateKey === undefined) return undefined;
  return { certificateChain, privateKey };
}

/**
 * A CertificateValidationContext → the trusted CA bundle ('' = none: as in Envoy, the peer's chain is
 * then not verified) and a SAN predicate (undefined = any SAN; otherwise some SAN must match one of
 * match_typed_subject_alt_names).
 */
export function compileValidationContext(p: Problems, path: string, v: envoy.CertificateValidationContext): ValidationMaterial | undefined {
  const before = p.items.length;
  const trustedCa = readDataSource(p, at(path, 'trusted_ca'), v.trustedCa);
  const matchers: Array<{ type: 'DNS' | 'URI' | 'IP' | 'EMAIL'; test: StringPredicate }> = [];
  const S = envoy.SubjectAltNameMatcher_SanType;
  v.matchTypedSubjectAltNames.forEach((m, i) => {
    const where = at(path, `match_typed_subject_alt_names[${i}]`);
    const type = ({ [S.DNS]: 'DNS', [S.URI]: 'URI', [S.IP_ADDRESS]: 'IP', [S.EMAIL]: 'EMAIL' } as Record<number, 'DNS' | 'URI' | 'IP' | 'EMAIL'>)[m.sanType];
    if (!type) {
      if (m.sanType === S.OTHER_NAME) p.notImplemented(at(where, 'san_type'), 'OTHER_NAME');
      else p.add(at(where, 'san_type'), 'must be DNS, URI, IP_ADDRESS or EMAIL');
      return;
    }
    if (!m.matcher) {
      p.add(at(where, 'matcher'), 'is required');
      return;
    }
    const exact = m.matcher.matchPattern.case === 'exact' ? m.matcher.matchPattern.value : undefined;
    if (type === 'DNS' && exact !== undefined) {
      // Envoy's DNS SAN matching: an exact name also matches a wildcard SAN (`*.example.com`).
      const expected = exact.toLowerCase();
      matchers.push({ type, test: (san) => dnsNameMatch(expected, san.toLowerCase()) });
      return;
    }
    const test = p.take(compileStringMatcher(m.matcher, at(where, 'matcher')));
    if (test) matchers.push({ type, test });
  });
  if (p.items.length > before || trustedCa === undefined) return undefined;
  const matchSubjectAltName =
    matchers.length === 0 ? undefined : (san: { type: 'DNS' | 'URI' | 'IP' | 'EMAIL'; value: string }) => matchers.some((m) => m.type === san.type && m.test(san.value));
  return { trustedCa, matchSubjectAltName };
}

/** RFC 6125 wildcard: `*.example.com` in a certificate matches exactly one left-most label. */
export function dnsNameMatch(expected: string, san: string): boolean {
  if (expected === san) return true;
  if (!san.startsWith('*.')) return false;
  const dot = expected.indexOf('.');
  return dot > 0 && expected.slice(dot) === san.slice(1);
}
