// `meshd teardown`: removes everything an agent made on the node, in the order that leaves no
// half-enforced state behind: the agent itself (SIGTERM, so it drains), the proxy process(es),
// every pod of the prefix (processes, netns, veths, cgroups), the pinned BPF links (detached) and
// maps under the pin root, and the runtime files of the state directory. The identity, policy,
// endpoint and FQDN state files stay unless `purge` is set (then the state directory goes).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfLink } from '../../bpf/index.js';
import { cleanupAll } from '../pods/index.js';
import { proxyRecordPath, readProxyRecord, stopProcess } from '../proxy-supervisor/index.js';
import { AgentError } from './errors.js';
import { isProcessAlive, lockHolder } from './lock.js';
import { removeRuntimeFiles } from './agent.js';

export interface TeardownOptions {
  stateDir: string;
  pinRoot: string;
  nodePrefix: string;
  /** Also remove the state directory with its identities, policies, endpoints and FQDN cache. */
  purge?: boolean;
  /** How long a running agent gets to drain after SIGTERM; default 15 s. */
  agentGraceMs?: number;
}

export interface TeardownReport {
  agentStopped: number | undefined;
  proxiesStopped: number[];
  podsOf: string;
  pinRootRemoved: boolean;
  linksDetached: number;
  stateDirRemoved: boolean;
  problems: string[];
}

export async function teardown(o: TeardownOptions): Promise<TeardownReport> {
  const problems: string[] = [];
  const report: TeardownReport = { agentStopped: undefined, proxiesStopped: [], podsOf: o.nodePrefix, pinRootRemoved: false, linksDetached: 0, stateDirRemoved: false, problems };

  const agentPid = lockHolder(o.stateDir);
  if (agentPid !== undefined && agentPid !== process.pid) {
    process.kill(agentPid, 'SIGTERM');
    const deadline = Date.now() + (o.agentGraceMs ?? 15_000);
    while (isProcessAlive(agentPid) && Date.now() < deadline) await sleep(50);
    if (isProcessAlive(agentPid)) {
      process.kill(agentPid, 'SIGKILL');
      await sleep(100);
    }
    report.agentStopped = agentPid;
  }

  for (const role of ['', 'builtin']) {
    const record = readProxyRecord(proxyRecordPath(o.stateDir, role));
    if (!record) continue;
    await stopProcess(record);
    report.proxiesStopped.push(record.pid);
  }

  try {
    // Also ends whatever still runs in the node's cgroup tree (a proxy without a record).
    await cleanupAll(o.nodePrefix);
  } catch (err) {
    problems.push((err as Error).message);
  }

  const unpinned = unpinDatapath(o.pinRoot);
  report.linksDetached = unpinned.linksDetached;
  report.pinRootRemoved = !existsSync(o.pinRoot);
  problems.push(...unpinned.problems);

  if (existsSync(o.stateDir)) {
    if (o.purge) {
      rmSync(o.stateDir, { recursive: true, force: true });
      report.stateDirRemoved = !existsSync(o.stateDir);
    } else {
      removeRuntimeFiles(o.stateDir);
    }
  }
  return report;
}

/** Throws MESHD_ERR_AGENT_TEARDOWN when something stayed. */
export function assertTornDown(report: TeardownReport): void {
  if (report.problems.length > 0) {
    throw new AgentError('MESHD_ERR_AGENT_TEARDOWN', `teardown left things behind: ${report.problems.join('; ')}`, { hint: 'run it again; if a pod process ignores SIGKILL, look at it with ps' });
  }
}

/**
 * Detaches every link pinned under links/<cgroup id>/ (unpinning alone would leave an attached
 * program in the cgroup for as long as the cgroup lives), then removes the maps and the root.
 */
export function unpinDatapath(pinRoot: string): { linksDetached: number; problems: string[] } {
  const problems: string[] = [];
  let linksDetached = 0;
  const links = join(pinRoot, 'links');
  if (existsSync(links)) {
    for (const cg of readdirSync(links)) {
      for (const name of readdirSync(join(links, cg))) {
        try {
          const link = BpfLink.openPinned(join(links, cg, name));
          try {
            link.detach();
            linksDetached++;
          } finally {
            link.close();
          }
        } catch (err) {
          // The cgroup is gone already: the kernel detached the link with it.
          if (!/ENOENT|ENOLINK|no such/i.test((err as Error).message)) problems.push(`link ${cg}/${name}: ${(err as Error).message}`);
        }
      }
    }
  }
  try {
    rmSync(pinRoot, { recursive: true, force: true });
  } catch (err) {
    problems.push(`pin root ${pinRoot}: ${(err as Error).message}`);
  }
  return { linksDetached, problems };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
