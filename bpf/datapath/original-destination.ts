// The original-destination lookup, shared by the agent's Datapath and the proxy's read-only
// PinnedDatapathView: one place knows the orig_dst key, the UDP port-0 fallback and the decoding.
import type { BpfMap } from '../addon/index.js';
import { decodeOrigDst, encodeOrigDstKey } from './codecs.js';
import { formatAddress, parseAddress } from './addresses.js';
import { AF_INET, IPPROTO } from './constants.js';
import type { OriginalDestination, SocketAddress } from './datapath.js';

/** The connection's 5-tuple as the proxy sees it: `remote` is the client (the pod), `local` the
 *  proxy's own address of that connection. */
export interface ProxyConnectionTuple {
  remote: SocketAddress;
  local: SocketAddress;
  protocol?: 'tcp' | 'udp';
}

/** Looks the tuple up in the orig_dst map; undefined when the connection was not redirected. */
export function lookupOriginalDestination(origDst: BpfMap, tuple: ProxyConnectionTuple): OriginalDestination | undefined {
  const client = parseAddress(tuple.remote.address);
  const proxy = parseAddress(tuple.local.address);
  const protocol = tuple.protocol === 'udp' ? IPPROTO.UDP : IPPROTO.TCP;
  const key = { family: client.family, protocol, client, clientPort: tuple.remote.port, proxy, proxyPort: tuple.local.port };
  let raw = origDst.lookup(encodeOrigDstKey(key));
  // Connected UDP sockets are recorded before they are bound: port 0 (bpf/lib/redirect.h).
  if (!raw && protocol === IPPROTO.UDP) raw = origDst.lookup(encodeOrigDstKey({ ...key, clientPort: 0 }));
  if (!raw) return undefined;
  const o = decodeOrigDst(raw);
  return {
    address: formatAddress(o.family, o.address),
    port: o.port,
    family: o.family === AF_INET ? 4 : 6,
    protocol: o.protocol === IPPROTO.UDP ? 'udp' : 'tcp',
    endpointId: o.endpointId,
    localIdentity: o.localIdentity,
    peerIdentity: o.peerIdentity,
  };
}
