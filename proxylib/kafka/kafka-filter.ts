// The Kafka filter as the listener runs it: the compiled policy of one filter chain, which takes the
// connections of that chain (MeshdTerminalFilter). A listener update compiles a new KafkaFilter;
// connections already open read the current one per request, through the listener's hook.
import type { Message } from '@bufbuild/protobuf';
import type { NetworkFilterConfig } from '../config/types.js';
import type { NetworkFilterContext } from '../config/index.js';
import type { MeshdFilterConnection, MeshdTerminalFilter } from '../listener/types.js';
import { compileKafkaPolicyConfig, KAFKA_POLICY_TYPE, type KafkaPolicyConfig } from './compile-policy.js';
import { runKafkaConnection } from './kafka-connection.js';

export class KafkaFilter implements MeshdTerminalFilter {
  constructor(readonly policy: KafkaPolicyConfig) {}

  handleConnection(conn: MeshdFilterConnection): void {
    runKafkaConnection(conn, this.policy, () => {
      const current = conn.currentConfig();
      return current instanceof KafkaFilter ? current.policy : undefined;
    });
  }
}

/** The network filter compiler registered for meshd.filters.kafka.v1.KafkaPolicy. */
export function compileKafkaFilter(config: Message, ctx: NetworkFilterContext): NetworkFilterConfig | undefined {
  const policy = compileKafkaPolicyConfig(config, ctx);
  return policy ? { kind: 'meshd', name: ctx.name, typeName: KAFKA_POLICY_TYPE, config: new KafkaFilter(policy) } : undefined;
}
