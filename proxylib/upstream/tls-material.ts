// TLS material for both directions: resolves certificate and validation references (SDS names are
// looked up in the current ConfigView at handshake time, so a rotated secret applies to the next
// handshake without a restart) and caches one SecureContext per (TLS config, resolved material)
// identity. Building a SecureContext parses PEM and costs about a millisecond; the cache makes a
// handshake pay it only after a config or secret change.
import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsCertificateMaterial, TlsCertificateRef, ValidationMaterial, ValidationRef } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import { ProxyError } from '../errors.js';

export function resolveCertificate(ref: TlsCertificateRef, view: ConfigView): TlsCertificateMaterial | undefined {
  if (ref.kind === 'inline') return ref.material;
  const secret = view.secret(ref.name);
  return secret?.kind === 'tls_certificate' ? secret.certificate : undefined;
}

export function resolveValidation(ref: ValidationRef, view: ConfigView): ValidationMaterial | undefined {
  if (ref.kind === 'inline') return ref.material;
  const secret = view.secret(ref.name);
  return secret?.kind === 'validation_context' ? secret.validation : undefined;
}

export function describeRef(ref: TlsCertificateRef | ValidationRef): string {
  return ref.kind === 'sds' ? `SDS secret ${JSON.stringify(ref.name)}` : 'inline material';
}

export interface ResolvedTls {
  certificates: TlsCertificateMaterial[];
  validation: ValidationMaterial | undefined;
}

export interface ContextOptions {
  minVersion?: 'TLSv1.2' | 'TLSv1.3' | undefined;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3' | undefined;
}

interface CacheEntry {
  material: readonly object[];
  context: SecureContext;
}

function sameMaterial(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One SecureContext per TLS config object, rebuilt when any resolved material object changes. */
export class SecureContextCache {
  private readonly entries = new WeakMap<object, CacheEntry>();

  contextFor(owner: object, resolved: ResolvedTls, options: ContextOptions = {}): SecureContext {
    const material: object[] = [...resolved.certificates];
    if (resolved.validation) material.push(resolved.validation);
    const cached = this.entries.get(owner);
    if (cached && sameMaterial(cached.material, material)) return cached.context;
    let context: SecureContext;
    try {
      context = createSecureContext({
        cert: resolved.certificates.map((c) => c.certificateChain),
        key: resolved.certificates.map((c) => c.privateKey),
        ...(resolved.validation ? { ca: resolved.validation.trustedCa } : {}),
        ...(options.minVersion ? { minVersion: options.minVersion } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      });
    } catch (err) {
      throw new ProxyError('MESHD_ERR_PROXY_TLS_MATERIAL', `could not load TLS material: ${(err as Error).message}`, 'check the certificate, key and CA PEM of the secret');
    }
    this.entries.set(owner, { material, context });
    return context;
  }
}

/** Subject alternative names of a certificate, from Node's `subjectaltname` string. */
export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
}

/**
 * Parses `DNS:a, URI:spiffe://x, IP Address:1.2.3.4`. Node quotes a value that contains a comma or
 * quote as a JSON string (`DNS:"a, b"`), so entries are split only before a `Type:` prefix.
 */
export function parseSubjectAltNames(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], uri: [], ip: [], email: [] };
  if (!text) return out;
  const entries = text.split(/, (?=(?:DNS|URI|IP Address|email|othername|DirName|Registered ID):)/);
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const type = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // keep the raw text: an unparsable quoted SAN simply fails to match
      }
    }
    if (type === 'DNS') out.dns.push(value);
    else if (type === 'URI') out.uri.push(value);
    else if (type === 'IP Address') out.ip.push(value);
    else if (type === 'email') out.email.push(value);
  }
  return out;
}

/** True when any SAN satisfies the compiled matcher (Envoy's match_typed_subject_alt_names: any match). */
export function matchesAnySan(sans: SubjectAltNames, match: NonNullable<ValidationMaterial['matchSubjectAltName']>): boolean {
  for (const value of sans.dns) if (match({ type: 'DNS', value })) return true;
  for (const value of sans.uri) if (match({ type: 'URI', value })) return true;
  for (const value of sans.ip) if (match({ type: 'IP', value })) return true;
  for (const value of sans.email) if (match({ type: 'EMAIL', value })) return true;
  return false;
}

/**
 * Node's X509Certificate.subject lists one RDN per line in DN order; Envoy reports subjects in
 * RFC 2253 form (most specific first, comma-separated), which is what RBAC principal_name matches.
 * Escaping of special characters is not reproduced (test and mesh certificates do not use them).
 */
export function subjectToRfc2253(subject: string): string {
  return subject
    .split('\n')
    .filter((line) => line.length > 0)
    .reverse()
    .join(',');
}
