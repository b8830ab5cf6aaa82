// `meshd identity list`: every identity the agent uses, reserved ones included.
import { ApiClient } from '../../api/index.js';
import { renderIdentities } from '../../inspect/index.js';
import type { IdentityRow } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, getString } from '../parsed-args.js';
import type { ParsedArgs } from '../parsed-args.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const { identities } = await client.get<{ identities: IdentityRow[] }>('/v1/identities');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ identities }, null, 2)}\n` : renderIdentities(identities));
    return 0;
  } finally {
    client.close();
  }
}
