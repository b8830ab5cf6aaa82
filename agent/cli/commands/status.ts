// `meshd status`: the running agent and the health of each of its components.
import { ApiClient } from '../../api/index.js';
import { renderStatus } from '../../inspect/index.js';
import type { AgentStatus } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, getString } from '../parsed-args.js';
import type { ParsedArgs } from '../parsed-args.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const status = await client.get<AgentStatus>('/v1/status');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
    // Scripts can test health with the exit status alone.
    return status.health === 'ok' ? 0 : 1;
  } finally {
    client.close();
  }
}
