// The node proxy's ports: one listener per (L7 kind, direction), at a fixed offset from the base
// (--proxy-port-base, default 15001). One function answers both the kernel (which port a redirect
// goes to: translateEndpointPolicy's proxyPortOf) and xDS (which port the listener of a redirect
// binds: translateNode's proxyPortOf), so the two can never disagree.
import type { Direction, L7Type } from '../../policy/index.js';
import type { RedirectKey, RedirectL7 } from '../../xds/index.js';

export const PROXY_PORT_OFFSETS: Readonly<Record<RedirectL7, Readonly<Record<Direction, number>>>> = {
  http: { egress: 0, ingress: 1 },
  kafka: { egress: 2, ingress: 3 },
  // UDP and TCP share the number: the DNS proxy listens on both.
  dns: { egress: 4, ingress: 5 },
  // TLS/SNI-only rules (serverNames, TLS termination without HTTP rules).
  none: { egress: 6, ingress: 7 },
};

export interface ProxyPortPlan {
  base: number;
  /** The port of (kind, direction). */
  portOf(l7: RedirectL7, direction: Direction): number;
  /** For bpf translateEndpointPolicy. */
  kernel(l7Type: L7Type, direction: Direction, port: number): number | undefined;
  /** For xds translateNode. */
  xds(key: RedirectKey): number | undefined;
  /** Every (kind, direction, port), for `meshd status`. */
  list(): Array<{ l7: RedirectL7; direction: Direction; port: number }>;
}

export function proxyPortPlan(base: number): ProxyPortPlan {
  const portOf = (l7: RedirectL7, direction: Direction): number => base + PROXY_PORT_OFFSETS[l7][direction];
  return {
    base,
    portOf,
    kernel: (l7Type, direction) => portOf(l7Type, direction),
    xds: (key) => portOf(key.l7, key.direction),
    list: () =>
      (Object.keys(PROXY_PORT_OFFSETS) as RedirectL7[]).flatMap((l7) =>
        (['egress', 'ingress'] as const).map((direction) => ({ l7, direction, port: portOf(l7, direction) })),
      ),
  };
}
