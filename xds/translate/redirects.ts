// Which flows of an endpoint go through the proxy: every allow entry with L7 rules, TLS termination
// or origination, or an SNI allow list. Each becomes a redirect key (endpoint, direction, protocol,
// ports, L7 kind) that the datapath's proxy-port allocation is keyed by.
import type { EndpointPolicy, PolicyEntry } from '../../policy/index.js';
import type { RedirectKey, RedirectL7 } from './input.js';

export function redirectKeysOf(ep: EndpointPolicy): RedirectKey[] {
  const keys = new Map<string, RedirectKey>();
  for (const direction of ['ingress', 'egress'] as const) {
    for (const e of ep[direction].entries) {
      if (e.isDeny || !needsProxy(e)) continue;
      // An egress named port resolves per destination; the proxy config cannot name it (reported).
      if (e.namedPort !== undefined) continue;
      const l7: RedirectL7 = e.l7?.type ?? 'none';
      const [portStart, portEnd] = e.portStart === 0 && e.portEnd === 0 ? [1, 65535] : [e.portStart, e.portEnd];
      for (const protocol of protocolsOf(e, l7)) {
        const key: RedirectKey = { endpoint: ep.endpoint.id, direction, protocol, portStart, portEnd, l7 };
        keys.set(redirectKeyString(key), key);
      }
    }
  }
  return [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, key]) => key);
}

function needsProxy(e: PolicyEntry): boolean {
  return e.l7 !== undefined || e.terminatingTLS !== undefined || e.originatingTLS !== undefined || e.serverNames.length > 0;
}

/** DNS is proxied over UDP and TCP; HTTP, Kafka and TLS only over TCP (Cilium's rule too). */
function protocolsOf(e: PolicyEntry, l7: RedirectL7): Array<'TCP' | 'UDP'> {
  const wanted: Array<'TCP' | 'UDP'> = l7 === 'dns' ? ['TCP', 'UDP'] : ['TCP'];
  if (e.protocol === 'ANY') return wanted;
  return wanted.filter((p) => p === e.protocol);
}

/** `namespace/name/direction/protocol/ports/l7`, e.g. `default/web/ingress/tcp/80/http`. */
export function redirectKeyString(key: RedirectKey): string {
  const ports = key.portStart === key.portEnd ? `${key.portStart}` : `${key.portStart}-${key.portEnd}`;
  return `${key.endpoint}/${key.direction}/${key.protocol.toLowerCase()}/${ports}/${key.l7}`;
}
