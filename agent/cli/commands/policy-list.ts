// `meshd policy list`: the running agent's applied policies.
import type { PolicySummary } from '../../policy-store/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, type ParsedArgs } from '../parsed-args.js';
import { agentClient, renderTable } from './pod-shared.js';

export function renderPolicyList(policies: PolicySummary[]): string {
  if (policies.length === 0) return 'no policies applied\n';
  return renderTable(
    ['KIND', 'NAMESPACE', 'NAME', 'RULES', 'PODS', 'AUDIT', 'SOURCE', 'FILE'],
    policies.map((p) => [p.kind, p.namespace ?? '-', p.name, String(p.rules), String(p.endpoints), p.auditMode ? 'yes' : 'no', p.source, p.file]),
  );
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = agentClient(args);
  try {
    const { policies } = await client.get<{ policies: PolicySummary[] }>('/v1/policies');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ policies }, null, 2)}\n` : renderPolicyList(policies));
    return 0;
  } finally {
    client.close();
  }
}
