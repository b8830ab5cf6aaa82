// `meshd pod run --name N [--namespace NS] --labels k=v,... -- CMD...`: a new pod through the agent.
import type { EndpointInfo, PodRunRequest } from '../../endpoints/index.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { getList, getOutputFormat, getString, type ParsedArgs } from '../parsed-args.js';
import { agentClient, renderPod } from './pod-shared.js';

/** `k=v,k2=v2` (repeatable): the value may be empty, the key may not. */
export function parseKeyValues(items: string[], what: string, separator: RegExp = /,/): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    for (const pair of item.split(separator)) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`${what} ${JSON.stringify(pair)} is not KEY=VALUE`);
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return out;
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const request: PodRunRequest = {
    name: getString(args, 'name')!,
    namespace: getString(args, 'namespace') ?? 'default',
    labels: parseKeyValues(getList(args, 'labels'), 'label'),
    command: args.positionals,
    // One variable per --env: a value may contain commas.
    env: parseKeyValues(getList(args, 'env'), 'environment variable', /\n/),
  };
  const client = agentClient(args);
  try {
    const pod = await client.post<EndpointInfo>('/v1/pods', request, { timeoutMs: 120_000 });
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify(pod, null, 2)}\n` : renderPod(pod));
    return 0;
  } finally {
    client.close();
  }
}
