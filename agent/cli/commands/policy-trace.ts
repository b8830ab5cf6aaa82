// `meshd policy trace`: whether one flow is allowed, offline, and which policy decides.
// This file turns the command line into the engine's options and renders its answer.

import { PolicyValidationError, loadEndpointsFile, loadPolicySources, parseKafkaApiKeyArg, traceFlow } from '../../../policy/index.js';
import type { L7Request, TraceResult, TraceSide } from '../../../policy/index.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import type { OutputFormat, ParsedArgs } from '../parsed-args.js';
import { getList, getOutputFormat, getString } from '../parsed-args.js';

export interface TraceOptions {
  /** Policy files or directories. */
  policies: string[];
  /** YAML list of endpoints; needed when a REF is NAMESPACE/NAME. */
  endpoints: string | undefined;
  /** REFs as given (NAMESPACE/NAME, an IP, fqdn:NAME, entity:NAME); the engine resolves them. */
  from: string;
  to: string;
  port: { port: number; protocol: 'TCP' | 'UDP' };
  /** The L7 request, when one of the protocol options was given. */
  l7: TraceL7Request | undefined;
}

export type TraceL7Request =
  | { type: 'http'; method?: string; path?: string; host?: string; headers: HttpHeader[] }
  | { type: 'kafka'; apiKey?: string | number; apiVersion?: number; clientID?: string; topics: string[]; groups: string[] }
  | { type: 'dns'; query: string };

export interface HttpHeader {
  name: string;
  value: string;
}

export function parseTraceOptions(args: ParsedArgs): TraceOptions {
  return {
    policies: getList(args, 'policies'),
    endpoints: getString(args, 'endpoints'),
    from: requireString(args, 'from'),
    to: requireString(args, 'to'),
    port: parsePort(requireString(args, 'port')),
    l7: parseL7Request(args),
  };
}

/** Loads the policies and endpoints, then traces the flow. Throws coded errors for bad input. */
export async function policyTrace(opts: TraceOptions): Promise<TraceResult> {
  const loaded = await loadPolicySources(opts.policies);
  if (loaded.problems.length > 0) throw new PolicyValidationError(loaded.problems);
  const endpoints = opts.endpoints === undefined ? [] : await loadEndpointsFile(opts.endpoints);
  const request = toEngineRequest(opts.l7);
  return traceFlow({
    policies: loaded.policies,
    cidrGroups: loaded.cidrGroups,
    endpoints,
    from: opts.from,
    to: opts.to,
    port: opts.port.port,
    protocol: opts.port.protocol,
    ...(request ? { request } : {}),
  });
}

/**
 * The CLI leaves request fields optional; the engine needs a whole request. Defaults are the
 * least surprising ones: `GET /`, and for Kafka an unknown API version (-1), which only rules
 * without an apiVersion match.
 */
function toEngineRequest(l7: TraceL7Request | undefined): L7Request | undefined {
  if (!l7) return undefined;
  switch (l7.type) {
    case 'http':
      return { type: 'http', method: l7.method ?? 'GET', path: l7.path ?? '/', ...(l7.host !== undefined ? { host: l7.host } : {}), headers: l7.headers.map((h) => [h.name, h.value]) };
    case 'kafka': {
      if (l7.apiKey === undefined) throw new UsageError('--kafka-api-key is required with the other --kafka-* options', 'for example --kafka-api-key produce');
      const apiKey = parseKafkaApiKeyArg(String(l7.apiKey));
      if (apiKey === undefined) throw new UsageError(`unknown Kafka API key '${l7.apiKey}'`, 'use a Kafka API name such as produce, fetch, metadata, joingroup, offsetcommit (any case), or a number');
      return {
        type: 'kafka',
        apiKey,
        apiVersion: l7.apiVersion ?? -1,
        ...(l7.clientID !== undefined ? { clientID: l7.clientID } : {}),
        topics: l7.topics,
        // Given or not, groups only matter for API keys whose requests carry them (JoinGroup, OffsetCommit, ...).
        groups: l7.groups,
      };
    }
    case 'dns':
      return { type: 'dns', query: l7.query };
  }
}

export function renderTrace(result: TraceResult, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(result, null, 2) + '\n';
  const side = (title: string, s: TraceSide) =>
    [
      title,
      `  verdict  ${s.verdict}`,
      `  stage    ${s.stage}`,
      `  policy   ${s.policy ?? 'none'}${s.source ? ` (${s.source})` : ''}`,
      `  reason   ${s.reason}`,
    ].join('\n');
  const lines = [
    `${result.verdict}  ${result.from.ref} -> ${result.to.ref} ${result.port}${result.request ? `  ${result.request}` : ''}`,
    '',
    side(`egress of ${result.from.ref}`, result.egress),
    '',
    side(`ingress of ${result.to.ref}`, result.ingress),
  ];
  for (const n of result.notes) lines.push('', `note: ${n}`);
  return lines.join('\n') + '\n';
}

export async function run(args: ParsedArgs, ctx: CommandContext): Promise<0 | 1> {
  const result = await policyTrace(parseTraceOptions(args));
  ctx.io.stdout(renderTrace(result, getOutputFormat(args)));
  return result.verdict === 'allowed' ? 0 : 1;
}

/** `80/tcp`, `53/udp`. The protocol is required: a DNS trace on 53/tcp and 53/udp can differ. */
export function parsePort(text: string): TraceOptions['port'] {
  const m = /^(\d{1,5})\/(tcp|udp)$/i.exec(text);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(`--port must be N/tcp or N/udp with N from 1 to 65535, not '${text}'`, 'for example --port 80/tcp');
  }
  return { port, protocol: m[2]?.toLowerCase() === 'udp' ? 'UDP' : 'TCP' };
}

/** `'Name: value'`, split at the first colon, as on the wire. */
export function parseHttpHeader(text: string): HttpHeader {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  if (name === '' || /\s/.test(name)) {
    throw new UsageError(`--http-header must be 'Name: value', not '${text}'`, "for example --http-header 'X-Has-Force: True'");
  }
  return { name, value: text.slice(colon + 1).trim() };
}

function parseL7Request(args: ParsedArgs): TraceL7Request | undefined {
  const given = (prefix: string): string[] =>
    Object.keys(args.options).filter((k) => k.startsWith(prefix) && args.options[k] !== undefined);
  const families = [
    ...(given('http-').length > 0 ? ['--http-*'] : []),
    ...(given('kafka-').length > 0 ? ['--kafka-*'] : []),
    ...(given('dns-').length > 0 ? ['--dns-query'] : []),
  ];
  if (families.length > 1) {
    throw new UsageError(`a flow carries one L7 protocol; got ${families.join(' and ')} options`);
  }
  if (given('http-').length > 0) {
    return {
      type: 'http',
      ...optional('method', getString(args, 'http-method')),
      ...optional('path', getString(args, 'http-path')),
      ...optional('host', getString(args, 'http-host')),
      headers: getList(args, 'http-header').map(parseHttpHeader),
    };
  }
  if (given('kafka-').length > 0) {
    const apiKey = getString(args, 'kafka-api-key');
    const apiVersion = getString(args, 'kafka-api-version');
    return {
      type: 'kafka',
      ...optional('apiKey', apiKey === undefined ? undefined : /^\d+$/.test(apiKey) ? Number(apiKey) : apiKey),
      ...optional('apiVersion', apiVersion === undefined ? undefined : parseApiVersion(apiVersion)),
      ...optional('clientID', getString(args, 'kafka-client-id')),
      topics: getList(args, 'kafka-topic'),
      groups: getList(args, 'kafka-group'),
    };
  }
  const query = getString(args, 'dns-query');
  return query === undefined ? undefined : { type: 'dns', query };
}

function parseApiVersion(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 32767) {
    throw new UsageError(`--kafka-api-version must be a number from 0 to 32767, not '${text}'`);
  }
  return Number(text);
}

function requireString(args: ParsedArgs, name: string): string {
  const value = getString(args, name);
  // The table marks these required, so the parser already refused a command line without them.
  if (value === undefined) throw new UsageError(`missing option --${name}`);
  return value;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
