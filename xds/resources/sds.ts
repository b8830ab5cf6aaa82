// SDS references: every TLS context meshd builds names its certificates and trust bundles by SDS
// secret name, fetched over the same ADS stream, so key material never sits inside a Listener or
// Cluster and a rotated certificate is one Secret update.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { packAny } from '../codec/index.js';
import { ConfigSourceSchema, ApiVersion } from '../generated/envoy/config/core/v3/config_source_pb.js';
import { TransportSocketSchema, type TransportSocket } from '../generated/envoy/config/core/v3/base_pb.js';
import { SdsSecretConfigSchema, type SdsSecretConfig } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { CommonTlsContext, DownstreamTlsContextSchema, UpstreamTlsContextSchema } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import { FILTER_NAME } from './type-urls.js';
import type { ProblemList } from './problems.js';

export function adsConfigSource() {
  return create(ConfigSourceSchema, { resourceApiVersion: ApiVersion.V3, configSourceSpecifier: { case: 'ads', value: {} } });
}

export function sdsSecret(name: string): SdsSecretConfig {
  return create(SdsSecretConfigSchema, { name, sdsConfig: adsConfigSource() });
}

/** The `envoy.transport_sockets.tls` socket of a filter chain (Downstream…) or a cluster (Upstream…). */
export function tlsTransportSocket<Desc extends typeof DownstreamTlsContextSchema | typeof UpstreamTlsContextSchema>(schema: Desc, context: MessageInitShape<Desc>): TransportSocket {
  return create(TransportSocketSchema, { name: FILTER_NAME.tlsTransportSocket, configType: { case: 'typedConfig', value: packAny(schema, create(schema, context)) } });
}

/** The SDS secret names a CommonTlsContext refers to; reports inline material and empty names. */
export function sdsNamesOf(p: ProblemList | undefined, path: string, ctx: CommonTlsContext | undefined): string[] {
  if (!ctx) {
    p?.add(path, 'common_tls_context missing');
    return [];
  }
  const names: string[] = [];
  if (ctx.tlsCertificates.length > 0) p?.add(`${path}.tls_certificates`, 'meshd sends certificates by SDS only, never inline');
  ctx.tlsCertificateSdsSecretConfigs.forEach((s, i) => {
    p?.nonEmpty(`${path}.tls_certificate_sds_secret_configs[${i}].name`, s.name);
    names.push(s.name);
  });
  const validation = ctx.validationContextType;
  if (validation.case === 'validationContextSdsSecretConfig') {
    p?.nonEmpty(`${path}.validation_context_sds_secret_config.name`, validation.value.name);
    names.push(validation.value.name);
  }
  return names;
}
