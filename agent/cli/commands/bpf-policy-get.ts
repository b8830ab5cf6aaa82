// `meshd bpf policy get POD`: the pod's kernel policy entries, decoded.
import { ApiClient } from '../../api/index.js';
import { parsePodRef, renderBpfPolicy } from '../../inspect/index.js';
import type { BpfPolicyReport } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { getOutputFormat, getString } from '../parsed-args.js';
import type { ParsedArgs } from '../parsed-args.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const ref = args.positionals[0];
  if (ref === undefined) throw new UsageError('missing POD (NAMESPACE/NAME)');
  let pod: string;
  try {
    pod = parsePodRef(ref).id;
  } catch (err) {
    throw new UsageError((err as Error).message, 'give the pod as NAMESPACE/NAME, e.g. empire/deathstar');
  }
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const report = await client.get<BpfPolicyReport>('/v1/bpf/policy', { pod });
    io.stdout(getOutputFormat(args) === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderBpfPolicy(report));
    return 0;
  } finally {
    client.close();
  }
}
