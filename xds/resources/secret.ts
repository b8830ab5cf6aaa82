// SDS Secrets: a TLS certificate with its key (for terminating TLS, or a client certificate when
// originating), or a trust bundle (validation context). Built from the Kubernetes Secret a policy's
// terminatingTLS / originatingTLS names; key material travels only in these resources.
import { create } from '@bufbuild/protobuf';
import { SecretSchema, type Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { DataSource } from '../generated/envoy/config/core/v3/base_pb.js';
import type { SecretPlan } from './plan.js';
import { ProblemList, type ResourceProblem } from './problems.js';

export function buildSecret(plan: SecretPlan): Secret {
  const inline = (value: string) => ({ specifier: { case: 'inlineString' as const, value } });
  if (plan.kind === 'tls-certificate') {
    return create(SecretSchema, { name: plan.name, type: { case: 'tlsCertificate', value: { certificateChain: inline(plan.certificateChain), privateKey: inline(plan.privateKey) } } });
  }
  return create(SecretSchema, { name: plan.name, type: { case: 'validationContext', value: { trustedCa: inline(plan.trustedCa) } } });
}

export function validateSecret(secret: Secret): ResourceProblem[] {
  const p = new ProblemList();
  p.nonEmpty('name', secret.name);
  const { type } = secret;
  if (type.case === 'tlsCertificate') {
    if (isEmpty(type.value.certificateChain)) p.add('tls_certificate.certificate_chain', 'must not be empty');
    if (isEmpty(type.value.privateKey)) p.add('tls_certificate.private_key', 'must not be empty');
  } else if (type.case === 'validationContext') {
    if (isEmpty(type.value.trustedCa)) p.add('validation_context.trusted_ca', 'must not be empty');
  } else {
    p.add('type', 'needs tls_certificate or validation_context');
  }
  return p.items;
}

function isEmpty(source: DataSource | undefined): boolean {
  const s = source?.specifier;
  return s === undefined || s.case === undefined || (typeof s.value === 'string' ? s.value === '' : s.value.length === 0);
}

export { SecretSchema };
