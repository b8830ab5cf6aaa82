// `meshd policy delete KIND/NAMESPACE/NAME`: remove an applied policy from the running agent.
import type { PolicySummary } from '../../policy-store/index.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { getOutputFormat, getString, type ParsedArgs } from '../parsed-args.js';
import { agentClient } from './pod-shared.js';

const KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy', 'CiliumRuleList'];

/** REF (KIND/NAMESPACE/NAME, NAMESPACE/NAME, KIND/NAME, NAME) and/or --kind/--namespace/--name, as an API query. */
export function policyRefQuery(args: ParsedArgs): Record<string, string> {
  const ref = args.positionals[0];
  let kind = getString(args, 'kind');
  let namespace = getString(args, 'namespace');
  let name = getString(args, 'name');
  if (ref !== undefined) {
    const parts = ref.split('/');
    let fromRef: { kind?: string; namespace?: string; name?: string };
    if (parts.length === 3) fromRef = { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
    else if (parts.length === 2) fromRef = KINDS.includes(parts[0]!) ? { kind: parts[0]!, name: parts[1]! } : { namespace: parts[0]!, name: parts[1]! };
    else if (parts.length === 1) fromRef = { name: parts[0]! };
    else throw new UsageError(`policy reference ${JSON.stringify(ref)} is not KIND/NAMESPACE/NAME`);
    for (const [field, value] of Object.entries(fromRef)) {
      const given = field === 'kind' ? kind : field === 'namespace' ? namespace : name;
      if (value === '' ) throw new UsageError(`policy reference ${JSON.stringify(ref)} has an empty ${field}`);
      if (given !== undefined && given !== value) throw new UsageError(`policy reference ${ref} says ${field} ${value}, but --${field} says ${given}`);
    }
    kind = fromRef.kind ?? kind;
    namespace = fromRef.namespace ?? namespace;
    name = fromRef.name ?? name;
  }
  if (name === undefined) throw new UsageError('which policy? give REF (KIND/NAMESPACE/NAME) or --name');
  if (kind !== undefined && !KINDS.includes(kind)) throw new UsageError(`unknown policy kind ${JSON.stringify(kind)}`, `one of ${KINDS.join(', ')}`);
  return { name, ...(kind === undefined ? {} : { kind }), ...(namespace === undefined ? {} : { namespace }) };
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const query = policyRefQuery(args);
  const client = agentClient(args);
  try {
    const { deleted } = await client.delete<{ deleted: PolicySummary }>('/v1/policies', query, { timeoutMs: 120_000 });
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ deleted }, null, 2)}\n` : `${deleted.kind} ${deleted.namespace ? `${deleted.namespace}/` : ''}${deleted.name} deleted\n`);
    return 0;
  } finally {
    client.close();
  }
}
