// Listener → ListenerConfig: addresses, listener filters (original_dst, tls_inspector), filter
// chains (match, TLS termination, network filters through the filter registry) and Envoy's filter
// chain selection. Every field the proxy does not implement is a problem with its path.
import type { Message } from '@bufbuild/protobuf';
import { envoy } from '../../xds/index.js';
import type { UdpListenerFilterConfig } from '../listener/udp-types.js';
import { isIpAddress } from '../matchers/index.js';
import { checkSupportedFields } from './field-walker.js';
import { chainSelector, checkDuplicateMatches, compileChainMatch, needsTlsFacts, type ChainMatch } from './filter-chain-match.js';
import { networkFilterOf, type NetworkFilterContext } from './filter-registry.js';
import { at, checkedDurationMs, NOT_IMPLEMENTED, Problems } from './problems.js';
import { ListenerSchema, OriginalDstSchema, TlsInspectorSchema } from './schemas.js';
import { compileTransportSocket } from './tls.js';
import { typeNameOfAny, unpackTypedConfig } from './typed-config.js';
import type { Compiled, ConnectionFacts, FilterChainConfig, ListenerConfig, NetworkFilterConfig, SocketAddressConfig } from './types.js';

/** Envoy's per_connection_buffer_limit_bytes default (listeners and clusters). */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
/** Envoy's listener_filters_timeout default. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

// ---- UDP listeners (issue 7) -------------------------------------------------------------------
// A UDP listener (socket_address.protocol UDP, udp_listener_config) has no filter chains: its
// listener_filters are UDP listener filters, each compiled by the compiler registered for its type
// (meshd's DNS filter registers itself, as the network filters do in filter-registry.ts).

/** Compiles one UDP listener filter's typed_config; returns undefined after reporting problems into ctx.problems. */
export type UdpListenerFilterCompiler = (config: Message, ctx: NetworkFilterContext) => UdpListenerFilterConfig | undefined;

const udpListenerFilters = new Map<string, UdpListenerFilterCompiler>();

/** Adds (or replaces) the compiler of a UDP listener filter type, e.g. `meshd.filters.dns.v1.DnsPolicy`. */
export function registerUdpListenerFilter(typeName: string, compile: UdpListenerFilterCompiler): void {
  udpListenerFilters.set(typeName, compile);
}

export function compileListener(l: envoy.Listener): Compiled<ListenerConfig> {
  const p = new Problems();
  const udp = [l.address, ...l.additionalAddresses.map((a) => a.address)].some((a) => a?.address.case === 'socketAddress' && a.address.value.protocol === envoy.SocketAddress_Protocol.UDP);
  checkSupportedFields(ListenerSchema, l, '', p);
  if (l.udpListenerConfig && !udp) p.add('udp_listener_config', 'set on a listener whose address is not UDP');
  if (l.name === '') p.add('name', 'must not be empty');

  const addresses: SocketAddressConfig[] = [];
  const first = compileAddress(p, 'address', l.address);
  if (first) addresses.push(first);
  l.additionalAddresses.forEach((a, i) => {
    const addr = compileAddress(p, `additional_addresses[${i}].address`, a.address);
    if (addr) addresses.push(addr);
  });

  if (addresses.some((a) => a.protocol !== addresses[0]?.protocol)) p.add('additional_addresses', 'all addresses of a listener must have the same protocol');
  let useOriginalDst = false;
  let tlsInspector = false;
  const udpFilters: UdpListenerFilterConfig[] = [];
  l.listenerFilters.forEach((f, i) => {
    const path = `listener_filters[${i}]`;
    if (f.configType.case !== 'typedConfig') {
      if (f.configType.case === undefined) p.add(at(path, 'typed_config'), 'is required');
      return;
    }
    const cfgPath = at(path, 'typed_config');
    const typeName = typeNameOfAny(f.configType.value);
    const udpCompile = udpListenerFilters.get(typeName);
    if (udp) {
      if (!udpCompile) {
        p.add(cfgPath, `UDP listener filter ${typeName} ${NOT_IMPLEMENTED}`);
        return;
      }
      const unpacked = unpackTypedConfig(p, cfgPath, f.configType.value);
      const compiled = unpacked ? udpCompile(unpacked.message, { name: f.name, path: cfgPath, problems: p }) : undefined;
      if (compiled) udpFilters.push(compiled);
      return;
    }
    if (udpCompile) {
      p.add(cfgPath, `${typeName} is a UDP listener filter; this listener is TCP`);
      return;
    }
    if (typeName === OriginalDstSchema.typeName || typeName === TlsInspectorSchema.typeName) {
      const unpacked = unpackTypedConfig(p, cfgPath, f.configType.value);
      if (unpacked) checkSupportedFields(unpacked.schema, unpacked.message, cfgPath, p);
      if (typeName === OriginalDstSchema.typeName) useOriginalDst = true;
      else tlsInspector = true;
      return;
    }
    p.add(cfgPath, `listener filter ${typeName} ${NOT_IMPLEMENTED}`);
  });

  const chainPaths = l.filterChains.map((_, i) => `filter_chains[${i}]`);
  const compiled = l.filterChains.map((c, i) => compileFilterChain(p, chainPaths[i]!, c));
  const matches = compiled.map((c) => c.match);
  checkDuplicateMatches(p, chainPaths, matches);
  const names = new Map<string, number>();
  l.filterChains.forEach((c, i) => {
    if (c.name === '') return;
    const previous = names.get(c.name);
    if (previous !== undefined) p.add(at(chainPaths[i]!, 'name'), `"${c.name}" is also the name of filter_chains[${previous}]`);
    names.set(c.name, i);
  });
  const defaultChain = l.defaultFilterChain ? compileFilterChain(p, 'default_filter_chain', l.defaultFilterChain) : undefined;
  if (l.filterChains.length === 0 && !l.defaultFilterChain && !udp) p.add('filter_chains', 'needs a filter chain or a default_filter_chain');
  if (udp) {
    if (!l.udpListenerConfig) p.add('udp_listener_config', 'is required for a UDP listener');
    if (l.filterChains.length > 0) p.add('filter_chains', 'a UDP listener has listener filters, not filter chains');
    if (l.defaultFilterChain) p.add('default_filter_chain', 'a UDP listener has listener filters, not filter chains');
    if (l.listenerFilters.length === 0) p.add('listener_filters', 'a UDP listener needs a listener filter to hand datagrams to');
  }

  const tlsFacts = matches.some(needsTlsFacts);
  if (tlsFacts && !tlsInspector) {
    // Envoy no longer injects tls_inspector: such chains never see SNI/ALPN and so never match.
    p.warn(`listener ${l.name}: filter chains match on TLS facts but there is no tls_inspector listener filter; those chains will not match`);
  }
  const perConnectionBufferLimitBytes = l.perConnectionBufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES;
  const listenerFiltersTimeoutMs = checkedDurationMs(p, 'listener_filters_timeout', l.listenerFiltersTimeout, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS);

  return p.result(() => {
    const chains = compiled.map((c) => c.chain!);
    const select = chainSelector(matches);
    const fallback = defaultChain?.chain;
    return {
      name: l.name,
      addresses,
      useOriginalDst,
      transparent: l.transparent === true,
      tlsInspector,
      filterChains: chains,
      defaultFilterChain: fallback,
      selectFilterChain(facts: ConnectionFacts): FilterChainConfig | undefined {
        const i = select(facts);
        return i >= 0 ? chains[i] : fallback;
      },
      needsTlsFacts: tlsFacts && tlsInspector,
      perConnectionBufferLimitBytes,
      listenerFiltersTimeoutMs,
      continueOnListenerFiltersTimeout: l.continueOnListenerFiltersTimeout,
      udpListenerFilters: udpFilters,
    };
  });
}

function compileAddress(p: Problems, path: string, address: envoy.Address | undefined): SocketAddressConfig | undefined {
  if (!address) {
    p.add(path, 'is required');
    return undefined;
  }
  if (address.address.case !== 'socketAddress') {
    if (address.address.case === undefined) p.add(path, 'needs socket_address');
    return undefined; // pipe / internal addresses: reported by the walker
  }
  const s = address.address.value;
  const where = at(path, 'socket_address');
  const before = p.items.length;
  if (!isIpAddress(s.address)) p.add(at(where, 'address'), `"${s.address}" is not an IP address (a listener binds to an address, not a name)`);
  if (s.portSpecifier.case !== 'portValue') p.add(at(where, 'port_value'), 'is required');
  else if (s.portSpecifier.value > 65535) p.add(at(where, 'port_value'), 'must be in [0, 65535]');
  if (p.items.length > before || s.portSpecifier.case !== 'portValue') return undefined;
  return {
    address: s.address,
    port: s.portSpecifier.value,
    protocol: s.protocol === envoy.SocketAddress_Protocol.UDP ? 'udp' : 'tcp',
    ...(s.ipv4Compat ? { ipv4Compat: true } : {}),
  };
}

function compileFilterChain(p: Problems, path: string, chain: envoy.FilterChain): { chain: FilterChainConfig | undefined; match: ChainMatch } {
  const before = p.items.length;
  const match = compileChainMatch(p, at(path, 'filter_chain_match'), chain.filterChainMatch);
  const downstreamTls = compileTransportSocket(p, at(path, 'transport_socket'), chain.transportSocket, 'downstream');
  const networkFilters: NetworkFilterConfig[] = [];
  if (chain.filters.length === 0) p.add(at(path, 'filters'), 'must not be empty');
  chain.filters.forEach((f, j) => {
    const fPath = at(path, `filters[${j}]`);
    if (f.configType.case !== 'typedConfig') {
      if (f.configType.case === undefined) p.add(at(fPath, 'typed_config'), 'is required');
      return;
    }
    const cfgPath = at(fPath, 'typed_config');
    const typeName = typeNameOfAny(f.configType.value);
    const entry = networkFilterOf(typeName);
    if (!entry) {
      p.add(cfgPath, `network filter ${typeName} ${NOT_IMPLEMENTED}`);
      return;
    }
    const isLast = j === chain.filters.length - 1;
    if (entry.terminal !== isLast) p.add(fPath, isLast ? `the last filter must be terminal, not ${typeName}` : `${typeName} is terminal and must be the last filter`);
    const unpacked = unpackTypedConfig(p, cfgPath, f.configType.value);
    if (!unpacked) return;
    const compiled = entry.compile(unpacked.message, { name: f.name, path: cfgPath, problems: p });
    if (compiled) networkFilters.push(compiled);
  });
  if (p.items.length > before) return { chain: undefined, match };
  return { chain: { name: chain.name, downstreamTls, networkFilters }, match };
}
