// `meshd xds status`: per proxy node, the versions it ACKed and its last NACK.
import { ApiClient } from '../../api/index.js';
import { renderXdsStatus } from '../../inspect/index.js';
import type { XdsStatusReport } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import { getOutputFormat, getString } from '../parsed-args.js';
import type { ParsedArgs } from '../parsed-args.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const status = await client.get<XdsStatusReport>('/v1/xds/status');
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify(status, null, 2)}\n` : renderXdsStatus(status));
    return 0;
  } finally {
    client.close();
  }
}
