// The DNS filter of a TCP filter chain (a meshd terminal network filter): the compiled policy of
// one chain, which takes the chain's connections through the listener's meshd-filter hook
// (MeshdTerminalFilter). A listener update compiles a new filter; open connections read the current
// one per query.
import type { Message } from '@bufbuild/protobuf';
import type { NetworkFilterContext } from '../config/filter-registry.js';
import type { NetworkFilterConfig } from '../config/types.js';
import type { MeshdFilterConnection, MeshdTerminalFilter } from '../listener/types.js';
import { compileDnsPolicyConfig, DNS_POLICY_TYPE, type DnsPolicyConfig } from './compile-policy.js';
import { runDnsTcpConnection } from './tcp-connection.js';

export class DnsTcpFilter implements MeshdTerminalFilter {
  constructor(readonly policy: DnsPolicyConfig) {}

  handleConnection(conn: MeshdFilterConnection): void {
    runDnsTcpConnection(
      conn,
      this.policy,
      () => {
        const current = conn.currentConfig();
        return current instanceof DnsTcpFilter ? current.policy : undefined;
      },
      conn.dataPlane.dns,
    );
  }
}

/** The network filter compiler registered for meshd.filters.dns.v1.DnsPolicy. */
export function compileDnsTcpFilter(config: Message, ctx: NetworkFilterContext): NetworkFilterConfig | undefined {
  const policy = compileDnsPolicyConfig(config, { path: ctx.path, problems: ctx.problems, forUdp: false });
  return policy ? { kind: 'meshd', name: ctx.name, typeName: DNS_POLICY_TYPE, config: new DnsTcpFilter(policy) } : undefined;
}
