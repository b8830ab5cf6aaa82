// `meshd endpoint list`: the agent's endpoints with identity, addresses and policy enforcement.
import { ApiClient } from '../../api/index.js';
import { renderEndpoints } from '../../inspect/index.js';
import type { EndpointRow } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, getString } from '../parsed-args.js';
import type { ParsedArgs } from '../parsed-args.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const { endpoints } = await client.get<{ endpoints: EndpointRow[] }>('/v1/endpoints');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify({ endpoints }, null, 2)}\n` : renderEndpoints(endpoints));
    return 0;
  } finally {
    client.close();
  }
}
