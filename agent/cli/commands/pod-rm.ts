// `meshd pod rm NAME`: remove a pod and its endpoint.
import type { EndpointInfo } from '../../endpoints/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, type ParsedArgs } from '../parsed-args.js';
import { agentClient, podQuery } from './pod-shared.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = agentClient(args);
  try {
    const { removed } = await client.delete<{ removed: EndpointInfo }>('/v1/pods', podQuery(args.positionals[0]!, args), { timeoutMs: 120_000 });
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ removed }, null, 2)}\n` : `pod ${removed.namespace}/${removed.name} removed (endpoint ${removed.endpointId})\n`);
    return 0;
  } finally {
    client.close();
  }
}
