// `meshd fqdn cache list`: the learned DNS cache (name → IPs → remaining TTL → selectors). Asks
// the running agent first (its cache is current to the last answer); when no agent runs on the
// state directory, reads the fqdn-cache.json it saved, so the command works either way. The
// output says which (`source`).
import { ApiClient, agentSocketPath, defaultStateDir } from '../../api/index.js';
import { FqdnError, fqdnStatePath, listFqdnState, loadFqdnState, renderFqdnListing } from '../../fqdn/index.js';
import type { FqdnListing } from '../../fqdn/index.js';
import type { FqdnCacheReport } from '../../inspect/index.js';
import type { CommandContext } from '../command-spec.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getOutputFormat, getString } from '../parsed-args.js';

/** Reads the state directory's fqdn-cache.json (no agent needed). */
export async function fqdnCacheList(stateDir: string, nowMs = Date.now()): Promise<FqdnListing & { stateFile: string }> {
  const state = await loadFqdnState(stateDir);
  const stateFile = fqdnStatePath(stateDir);
  if (!state) {
    throw new FqdnError('MESHD_ERR_FQDN_STATE_READ', `no FQDN cache at ${stateFile}, and no agent runs on ${agentSocketPath(stateDir)}`, {
      hint: "the agent writes it once its DNS proxy has learned a name; pass the agent's state directory with --state-dir",
    });
  }
  return { stateFile, ...listFqdnState(state, nowMs) };
}

/** The running agent's cache, else the state directory's file. */
export async function fqdnCacheReport(stateDir: string): Promise<FqdnCacheReport> {
  const client = ApiClient.forStateDir(stateDir);
  try {
    return { ...(await client.get<FqdnCacheReport>('/v1/fqdn/cache')), source: 'agent' };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // No agent, or an agent without this route: the saved file is the next best answer.
    if (code !== 'MESHD_ERR_API_AGENT_NOT_RUNNING' && code !== 'MESHD_ERR_API_NOT_FOUND') throw err;
    return { ...(await fqdnCacheList(stateDir)), source: 'state-dir' };
  } finally {
    client.close();
  }
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const stateDir = getString(args, 'state-dir') ?? defaultStateDir();
  const report = await fqdnCacheReport(stateDir);
  if (getOutputFormat(args) === 'json') {
    io.stdout(JSON.stringify(report, null, 2) + '\n');
  } else {
    const from =
      report.source === 'agent'
        ? `source: the running agent (${agentSocketPath(stateDir)})`
        : `source: ${report.stateFile ?? fqdnStatePath(stateDir)} (no agent is running on this state directory)`;
    io.stdout(renderFqdnListing(report) + from + '\n');
  }
  return 0;
}
