// `meshd pod list`: the agent's pods.
import type { EndpointInfo } from '../../endpoints/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, type ParsedArgs } from '../parsed-args.js';
import { agentClient, renderTable } from './pod-shared.js';

export function renderPodList(pods: EndpointInfo[]): string {
  if (pods.length === 0) return 'no pods\n';
  return renderTable(
    ['NAMESPACE', 'NAME', 'ENDPOINT', 'IDENTITY', 'IPV4', 'IPV6', 'STATE', 'LABELS'],
    pods.map((p) => [p.namespace, p.name, String(p.endpointId), String(p.identity), p.ipv4, p.ipv6, p.state, Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-']),
  );
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = agentClient(args);
  try {
    const { pods } = await client.get<{ pods: EndpointInfo[] }>('/v1/pods');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ pods }, null, 2)}\n` : renderPodList(pods));
    return 0;
  } finally {
    client.close();
  }
}
