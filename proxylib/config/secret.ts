// SDS Secret → SecretMaterial: a TLS certificate with its key, or a validation context (trusted CA
// and SAN matchers). Listeners and clusters name secrets; the data plane looks them up at handshake
// time, so a new Secret version applies to the next handshake.
import type { envoy } from '../../xds/index.js';
import { checkSupportedFields } from './field-walker.js';
import { Problems } from './problems.js';
import { SecretSchema } from './schemas.js';
import { compileTlsCertificate, compileValidationContext } from './tls.js';
import type { Compiled, SecretMaterial } from './types.js';

export function compileSecret(s: envoy.Secret): Compiled<SecretMaterial> {
  const p = new Problems();
  checkSupportedFields(SecretSchema, s, '', p);
  if (s.name === '') p.add('name', 'must not be empty');
  const type = s.type;
  let material: SecretMaterial | undefined;
  if (type.case === 'tlsCertificate') {
    const certificate = compileTlsCertificate(p, 'tls_certificate', type.value);
    if (certificate) material = { name: s.name, kind: 'tls_certificate', certificate };
  } else if (type.case === 'validationContext') {
    const validation = compileValidationContext(p, 'validation_context', type.value);
    if (validation) material = { name: s.name, kind: 'validation_context', validation };
  } else if (type.case === undefined) {
    p.add('tls_certificate', 'a Secret needs tls_certificate or validation_context');
  }
  return p.result(() => material!);
}
