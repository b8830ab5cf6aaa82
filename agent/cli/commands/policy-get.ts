// `meshd policy get KIND/NAMESPACE/NAME`: an applied policy's original text.
import type { PolicySummary } from '../../policy-store/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, type ParsedArgs } from '../parsed-args.js';
import { agentClient } from './pod-shared.js';
import { policyRefQuery } from './policy-delete.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const query = policyRefQuery(args);
  const client = agentClient(args);
  try {
    const got = await client.get<{ summary: PolicySummary; text: string }>('/v1/policies/get', query);
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify(got, null, 2)}\n` : got.text.endsWith('\n') ? got.text : `${got.text}\n`);
    return 0;
  } finally {
    client.close();
  }
}
