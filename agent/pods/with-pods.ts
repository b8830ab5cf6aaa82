// The test helper: pods that exist for the duration of one callback and are always removed:
// when the callback returns or throws, and when the process ends early (SIGINT, SIGTERM, SIGHUP,
// process.exit, an uncaught exception). Only SIGKILL escapes; cleanupAll() without a prefix,
// run at the start of the next withPods, removes what such a run left.

import { cleanupAll, removeLivePodsSync, testPrefix } from './cleanup.js';
import { PodError } from './errors.js';
import { currentPrefix, forgetPrefix, nodeCgroupPath, setupNode, type NodeNetwork } from './node-network.js';
import { createPod, deletePod, livePodsOfThisProcess, type Pod, type PodSpec } from './pod.js';
import { endPodProcesses, removeCgroupTree } from './processes.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Running withPods calls per prefix; the prefix's cgroup tree goes when the last one ends. */
const activeCalls = new Map<string, number>();
/** Prefixes whose whole cgroup tree (proxy cgroup included) the hooks remove at exit. */
const ownedPrefixes = new Set<string>();
let hooksInstalled = false;
let staleCleanupDone = false;

function onExit(): void {
  removeLivePodsSync(ownedPrefixes);
}

function onSignal(signal: NodeJS.Signals): void {
  removeLivePodsSync(ownedPrefixes);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  // Die of the same signal, as if no handler had been installed (exit status 128 + n).
  process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/**
 * Creates `specs` (under this process's test prefix `meshdt<pid>-`, unless setupNode chose
 * another), runs `fn`, then removes the pods and, when no other withPods of the prefix is
 * running, the prefix's cgroup tree including whatever ran in the proxy cgroup. A failure to
 * clean up is reported (MESHD_ERR_POD_CLEANUP) unless `fn` failed first.
 */
export async function withPods<T>(specs: readonly PodSpec[], fn: (pods: Pod[], node: NodeNetwork) => Promise<T>): Promise<T> {
  installExitHooks();
  if (!staleCleanupDone) {
    staleCleanupDone = true;
    await cleanupAll().catch(() => {}); // leftovers of SIGKILLed runs; a failure here is not this test's
  }
  const prefix = currentPrefix() ?? testPrefix();
  ownedPrefixes.add(prefix);
  activeCalls.set(prefix, (activeCalls.get(prefix) ?? 0) + 1);
  const pods: Pod[] = [];
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  try {
    const node = await setupNode({ prefix });
    const created = await Promise.allSettled(specs.map((spec) => createPod(spec)));
    for (const r of created) if (r.status === 'fulfilled') pods.push(r.value);
    const failed = created.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    outcome = { ok: true, value: await fn(pods, node) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const cleanupErrors: unknown[] = [];
  for (const r of await Promise.allSettled(pods.map((pod) => deletePod(pod)))) if (r.status === 'rejected') cleanupErrors.push(r.reason);
  const remaining = (activeCalls.get(prefix) ?? 1) - 1;
  activeCalls.set(prefix, remaining);
  if (remaining === 0 && !livePodsOfThisProcess().some((p) => p.nsName.startsWith(prefix))) {
    const nodeCgroup = nodeCgroupPath(prefix);
    await endPodProcesses(nodeCgroup, undefined);
    const left = await removeCgroupTree(nodeCgroup);
    if (left.length > 0) cleanupErrors.push(new PodError('MESHD_ERR_POD_CLEANUP', `cgroups still there: ${left.join(', ')}`));
    forgetPrefix(prefix);
  }
  if (!outcome.ok) throw outcome.error;
  if (cleanupErrors.length > 0) throw cleanupErrors[0];
  return outcome.value;
}
