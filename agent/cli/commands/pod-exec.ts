// `meshd pod exec NAME -- CMD...`: the CLI enters the pod itself (the agent only says where the
// pod is), so CMD gets this terminal and the CLI exits with CMD's status.
import { constants } from 'node:os';
import { spawnInPod, type EndpointInfo } from '../../endpoints/index.js';
import type { CommandContext } from '../command-spec.js';
import { ExitError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { agentClient, podQuery } from './pod-shared.js';

/** Sent by a terminal to the whole foreground group, CMD included: the CLI only outlives them. */
const FROM_TERMINAL = ['SIGINT', 'SIGQUIT'] as const;
/** Sent to the CLI alone (kill, a closed session): passed on to CMD. */
const FORWARDED = ['SIGTERM', 'SIGHUP'] as const;
const ignore = (): void => {};

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const [name, ...command] = args.positionals;
  const client = agentClient(args);
  let pod: EndpointInfo;
  try {
    pod = await client.get<EndpointInfo>('/v1/pods/get', podQuery(name!, args));
  } finally {
    client.close();
  }
  const child = spawnInPod(pod, command, { stdio: 'inherit', env: process.env, cwd: '/' });
  // The CLI stays until CMD ends, to exit with its status.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  for (const s of FROM_TERMINAL) process.on(s, ignore);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
    // 126/127 come from the wrapper when the pod is gone or CMD is not found; CMD's own output said why.
    if (status === 126) io.stderr(`meshd: cannot enter pod ${pod.id} (its cgroup is gone?)\n`);
    if (status !== 0) throw new ExitError(status);
    return 0;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    for (const s of FROM_TERMINAL) process.off(s, ignore);
  }
}
