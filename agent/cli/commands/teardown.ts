// `meshd teardown`: removes what an agent made on this node (agent/daemon/teardown.ts).
import { AGENT_DEFAULTS, assertTornDown, teardown } from '../../daemon/index.js';
import { defaultStateDir } from '../../api/index.js';
import type { CommandContext } from '../command-spec.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getOutputFormat, getString, hasFlag } from '../parsed-args.js';
import { ExitError } from '../errors.js';

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const stateDir = getString(args, 'state-dir') ?? defaultStateDir();
  const pinRoot = getString(args, 'pin-root') ?? AGENT_DEFAULTS.pinRoot;
  const nodePrefix = getString(args, 'node-prefix') ?? AGENT_DEFAULTS.nodePrefix;
  const report = await teardown({ stateDir, pinRoot, nodePrefix, purge: hasFlag(args, 'purge') });
  if (getOutputFormat(args) === 'json') {
    io.stdout(`${JSON.stringify(report)}\n`);
    if (report.problems.length > 0) throw new ExitError(1);
    return 0;
  }
  const lines = [
    report.agentStopped !== undefined ? `stopped the agent (pid ${report.agentStopped})` : 'no agent was running',
    report.proxiesStopped.length > 0 ? `stopped the proxy (pid ${report.proxiesStopped.join(', ')})` : 'no proxy was recorded',
    `removed the pods of prefix ${report.podsOf}`,
    `${report.pinRootRemoved ? 'removed' : 'could not remove'} the pin root ${pinRoot} (${report.linksDetached} link(s) detached)`,
    report.stateDirRemoved ? `removed the state directory ${stateDir}` : `removed the runtime files of ${stateDir}`,
    ...(report.clusterLeaseRevoked === undefined ? [] : [report.clusterLeaseRevoked ? 'left the cluster (etcd lease revoked)' : 'could not reach etcd to leave the cluster (its records expire with the lease TTL)']),
  ];
  io.stdout(`meshd teardown: ${lines.join('; ')}\n`);
  assertTornDown(report);
  return 0;
}
