// The HTTP connection manager network filter → HcmConfig, with Envoy's defaults for every unset
// field (the values are from Envoy's http_connection_manager.proto and protocol.proto docs):
// stream_idle_timeout 5 min, request_timeout 0 (off), request_headers_timeout 0 (off),
// common_http_protocol_options.idle_timeout 1 h, max_request_headers_kb 60, max_headers_count 100,
// drain_timeout 5 s, server_name "envoy", generate_request_id true, accept_http_10 false,
// normalize_path false, merge_slashes false, path_with_escaped_slashes_action KEEP_UNCHANGED.
import { envoy } from '../../xds/index.js';
import { compileHttpRbac } from '../rbac/index.js';
import { readDataSource } from './data-source.js';
import { checkSupportedFields } from './field-walker.js';
import { at, checkedDurationMs, type Problems } from './problems.js';
import { compileRouteTableInto } from './route-table.js';
import { HttpConnectionManagerSchema, HttpRbacSchema, RouterSchema } from './schemas.js';
import { typeNameOfAny, unpackTypedConfig } from './typed-config.js';
import type { EscapedSlashesAction, HcmConfig, Http2Settings, HttpFilterConfig, LocalReplyMapper } from './types.js';

export const HCM_DEFAULTS = {
  streamIdleTimeoutMs: 5 * 60_000,
  requestTimeoutMs: 0,
  requestHeadersTimeoutMs: 0,
  idleTimeoutMs: 60 * 60_000,
  maxRequestHeadersKb: 60,
  maxHeadersCount: 100,
  drainTimeoutMs: 5_000,
  serverName: 'envoy',
} as const;

/** Envoy's Http2ProtocolOptions defaults. */
export const HTTP2_DEFAULTS: Http2Settings = {
  maxConcurrentStreams: 2_147_483_647,
  initialStreamWindowSize: 268_435_456,
  initialConnectionWindowSize: 268_435_456,
  hpackTableSize: 4096,
  allowConnect: false,
};

/** Compiles an HCM found at `path` (a filter's typed_config). */
export function compileHcm(p: Problems, path: string, hcm: envoy.HttpConnectionManager): HcmConfig | undefined {
  const before = p.items.length;
  checkSupportedFields(HttpConnectionManagerSchema, hcm, path, p);
  if (hcm.statPrefix === '') p.add(at(path, 'stat_prefix'), 'must not be empty');

  const codec = codecOf(p, at(path, 'codec_type'), hcm.codecType);
  let routes: HcmConfig['routes'] | undefined;
  const spec = hcm.routeSpecifier;
  if (spec.case === 'rds') {
    if (spec.value.routeConfigName === '') p.add(at(path, 'rds.route_config_name'), 'must not be empty');
    if (!spec.value.configSource) p.add(at(path, 'rds.config_source'), 'is required (ads)');
    else checkAdsSource(p, at(path, 'rds.config_source'), spec.value.configSource);
    routes = { kind: 'rds', name: spec.value.routeConfigName };
  } else if (spec.case === 'routeConfig') {
    const table = compileRouteTableInto(p, at(path, 'route_config'), spec.value);
    if (table) routes = { kind: 'inline', table };
  } else if (spec.case === undefined) {
    p.add(path, 'needs rds or route_config');
  }

  const httpFilters = compileHttpFilters(p, path, hcm.httpFilters);
  const common = hcm.commonHttpProtocolOptions;
  if (common?.maxRequestsPerConnection !== undefined) p.notImplemented(at(path, 'common_http_protocol_options.max_requests_per_connection'), 'downstream');
  const maxHeadersCount = common?.maxHeadersCount ?? HCM_DEFAULTS.maxHeadersCount;
  if (maxHeadersCount < 1) p.add(at(path, 'common_http_protocol_options.max_headers_count'), 'must be at least 1');
  const maxRequestHeadersKb = hcm.maxRequestHeadersKb ?? HCM_DEFAULTS.maxRequestHeadersKb;
  // Envoy's bounds: (0, 8192].
  if (maxRequestHeadersKb < 1 || maxRequestHeadersKb > 8192) p.add(at(path, 'max_request_headers_kb'), 'must be in [1, 8192]');

  const upgrades = new Set<string>();
  const configuredUpgrades = new Map<string, boolean>();
  hcm.upgradeConfigs.forEach((u, i) => {
    const type = u.upgradeType.toLowerCase();
    if (type === '') p.add(at(path, `upgrade_configs[${i}].upgrade_type`), 'must not be empty');
    else if (configuredUpgrades.has(type)) p.add(at(path, `upgrade_configs[${i}].upgrade_type`), `"${u.upgradeType}" is listed twice`);
    const enabled = u.enabled ?? true;
    configuredUpgrades.set(type, enabled);
    if (enabled) upgrades.add(type);
  });

  const h2 = hcm.http2ProtocolOptions;
  const http2: Http2Settings = {
    maxConcurrentStreams: h2?.maxConcurrentStreams ?? HTTP2_DEFAULTS.maxConcurrentStreams,
    initialStreamWindowSize: h2?.initialStreamWindowSize ?? HTTP2_DEFAULTS.initialStreamWindowSize,
    initialConnectionWindowSize: h2?.initialConnectionWindowSize ?? HTTP2_DEFAULTS.initialConnectionWindowSize,
    hpackTableSize: h2?.hpackTableSize ?? HTTP2_DEFAULTS.hpackTableSize,
    allowConnect: h2?.allowConnect ?? false,
  };
  checkHttp2Settings(p, at(path, 'http2_protocol_options'), http2);

  const localReplyMappers = compileLocalReply(p, at(path, 'local_reply_config'), hcm.localReplyConfig);
  const stripPortMode: HcmConfig['stripPortMode'] = hcm.stripPortMode.case === 'stripAnyHostPort' && hcm.stripPortMode.value ? 'any' : hcm.stripMatchingHostPort ? 'matching' : 'none';
  if (hcm.stripMatchingHostPort && hcm.stripPortMode.case === 'stripAnyHostPort' && hcm.stripPortMode.value) {
    p.add(at(path, 'strip_any_host_port'), 'cannot be combined with strip_matching_host_port');
  }

  const streamIdleTimeoutMs = checkedDurationMs(p, at(path, 'stream_idle_timeout'), hcm.streamIdleTimeout, HCM_DEFAULTS.streamIdleTimeoutMs);
  const requestTimeoutMs = checkedDurationMs(p, at(path, 'request_timeout'), hcm.requestTimeout, HCM_DEFAULTS.requestTimeoutMs);
  const requestHeadersTimeoutMs = checkedDurationMs(p, at(path, 'request_headers_timeout'), hcm.requestHeadersTimeout, HCM_DEFAULTS.requestHeadersTimeoutMs);
  const idleTimeoutMs = checkedDurationMs(p, at(path, 'common_http_protocol_options.idle_timeout'), common?.idleTimeout, HCM_DEFAULTS.idleTimeoutMs);
  const maxConnectionDurationMs = checkedDurationMs(p, at(path, 'common_http_protocol_options.max_connection_duration'), common?.maxConnectionDuration, 0);
  const drainTimeoutMs = checkedDurationMs(p, at(path, 'drain_timeout'), hcm.drainTimeout, HCM_DEFAULTS.drainTimeoutMs);

  const escapedSlashes = escapedSlashesOf(p, at(path, 'path_with_escaped_slashes_action'), hcm.pathWithEscapedSlashesAction);

  if (p.items.length > before || !routes) return undefined;
  return {
    statPrefix: hcm.statPrefix,
    codec,
    routes,
    httpFilters,
    normalizePath: hcm.normalizePath ?? false,
    mergeSlashes: hcm.mergeSlashes,
    escapedSlashes,
    useRemoteAddress: hcm.useRemoteAddress ?? false,
    skipXffAppend: hcm.skipXffAppend,
    localReplyMappers,
    requestHeadersTimeoutMs,
    streamIdleTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs,
    maxRequestHeadersKb,
    maxHeadersCount,
    upgrades,
    configuredUpgrades,
    allowConnect: upgrades.has('connect'),
    serverName: hcm.serverName !== '' ? hcm.serverName : HCM_DEFAULTS.serverName,
    headersWithUnderscores: (['allow', 'reject_request', 'drop_header'] as const)[common?.headersWithUnderscoresAction ?? 0] ?? 'allow',
    acceptHttp10: hcm.httpProtocolOptions?.acceptHttp10 ?? false,
    defaultHostForHttp10: hcm.httpProtocolOptions?.defaultHostForHttp10 ?? '',
    generateRequestId: hcm.generateRequestId ?? true,
    proxy100Continue: hcm.proxy100Continue,
    stripPortMode,
    stripTrailingHostDot: hcm.stripTrailingHostDot,
    drainTimeoutMs,
    maxConnectionDurationMs,
    http2,
    serverHeader: (['overwrite', 'append_if_absent', 'pass_through'] as const)[hcm.serverHeaderTransformation] ?? 'overwrite',
  };
}

function codecOf(p: Problems, path: string, codec: envoy.HttpConnectionManager_CodecType): HcmConfig['codec'] {
  switch (codec) {
    case envoy.HttpConnectionManager_CodecType.AUTO:
      return 'auto';
    case envoy.HttpConnectionManager_CodecType.HTTP1:
      return 'http1';
    case envoy.HttpConnectionManager_CodecType.HTTP2:
      return 'http2';
    default:
      p.notImplemented(path, `codec ${envoy.HttpConnectionManager_CodecType[codec] ?? codec}`);
      return 'auto';
  }
}

function escapedSlashesOf(p: Problems, path: string, action: envoy.HttpConnectionManager_PathWithEscapedSlashesAction): EscapedSlashesAction {
  const A = envoy.HttpConnectionManager_PathWithEscapedSlashesAction;
  switch (action) {
    case A.IMPLEMENTATION_SPECIFIC_DEFAULT: // Envoy's default is KEEP_UNCHANGED
    case A.KEEP_UNCHANGED:
      return 'keep';
    case A.REJECT_REQUEST:
      return 'reject';
    case A.UNESCAPE_AND_FORWARD:
      return 'unescape_and_forward';
    default:
      p.notImplemented(path, A[action] ?? String(action));
      return 'keep';
  }
}

/** The RDS / EDS / SDS config sources the proxy can follow: its one ADS stream. */
export function checkAdsSource(p: Problems, path: string, source: envoy.ConfigSource): void {
  const c = source.configSourceSpecifier.case;
  if (c !== 'ads' && c !== 'self') p.add(path, 'must be ads (or self): the built-in proxy fetches everything over its ADS stream');
}

function checkHttp2Settings(p: Problems, path: string, s: Http2Settings): void {
  // Envoy's bounds (protocol.proto).
  if (s.maxConcurrentStreams < 1) p.add(at(path, 'max_concurrent_streams'), 'must be in [1, 2147483647]');
  if (s.initialStreamWindowSize < 65_535 || s.initialStreamWindowSize > 2_147_483_647) p.add(at(path, 'initial_stream_window_size'), 'must be in [65535, 2147483647]');
  if (s.initialConnectionWindowSize < 65_535 || s.initialConnectionWindowSize > 2_147_483_647) p.add(at(path, 'initial_connection_window_size'), 'must be in [65535, 2147483647]');
}

// ---- HTTP filters ----------------------------------------------------------------------------

function compileHttpFilters(p: Problems, hcmPath: string, filters: readonly envoy.HttpFilter[]): HttpFilterConfig[] {
  const out: HttpFilterConfig[] = [];
  if (filters.length === 0) {
    p.add(at(hcmPath, 'http_filters'), 'needs the router as its last filter');
    return out;
  }
  filters.forEach((f, i) => {
    const path = at(hcmPath, `http_filters[${i}]`);
    if (f.name === '') p.add(at(path, 'name'), 'must not be empty');
    if (f.configType.case !== 'typedConfig') {
      if (f.configType.case === undefined) p.add(at(path, 'typed_config'), 'is required');
      return; // config_discovery: reported by the walker
    }
    const cfgPath = at(path, 'typed_config');
    const typeName = typeNameOfAny(f.configType.value);
    const isLast = i === filters.length - 1;
    if (typeName === RouterSchema.typeName) {
      if (!isLast) p.add(path, 'the router must be the last HTTP filter');
      const router = unpackTypedConfig(p, cfgPath, f.configType.value);
      if (router) checkSupportedFields(RouterSchema, router.message as envoy.Router, cfgPath, p);
      out.push({ kind: 'router', name: f.name });
      return;
    }
    if (isLast) p.add(path, `the last HTTP filter must be the router, not ${typeName}`);
    if (typeName === HttpRbacSchema.typeName) {
      const unpacked = unpackTypedConfig(p, cfgPath, f.configType.value);
      if (!unpacked) return;
      const rbac = p.take(compileHttpRbac(unpacked.message as envoy.HttpRbac, cfgPath, f.name));
      if (rbac) out.push({ kind: 'rbac', name: f.name, rbac });
      return;
    }
    if (f.isOptional) {
      // Envoy's contract for optional filters: a proxy that does not know one skips it.
      p.warn(`${path}: optional HTTP filter ${typeName} is not implemented and was skipped`);
      return;
    }
    p.notImplemented(cfgPath, `HTTP filter ${typeName}`);
  });
  return out;
}

// ---- local replies ---------------------------------------------------------------------------

function compileLocalReply(p: Problems, path: string, config: envoy.LocalReplyConfig | undefined): LocalReplyMapper[] {
  if (!config) return [];
  return config.mappers.flatMap((m, i) => {
    const where = at(path, `mappers[${i}]`);
    const filter = m.filter?.filterSpecifier;
    if (!filter || filter.case === undefined) {
      p.add(at(where, 'filter'), 'is required');
      return [];
    }
    if (filter.case !== 'statusCodeFilter') return []; // the walker reported it
    const comparison = filter.value.comparison;
    if (!comparison?.value) {
      p.add(at(where, 'filter.status_code_filter.comparison.value'), 'is required');
      return [];
    }
    if (comparison.op !== envoy.ComparisonFilter_Op.EQ) {
      p.notImplemented(at(where, 'filter.status_code_filter.comparison.op'), 'only EQ');
      return [];
    }
    // No runtime layer in the proxy: the runtime key's default applies, as in an Envoy without that key.
    const whenStatus = comparison.value.defaultValue;
    const statusOverride = m.statusCode;
    if (statusOverride !== undefined && (statusOverride < 200 || statusOverride > 599)) p.add(at(where, 'status_code'), 'must be in [200, 599]');
    const body = m.body ? readDataSource(p, at(where, 'body'), m.body) : undefined;
    return [{ whenStatus, statusOverride, body }];
  });
}
