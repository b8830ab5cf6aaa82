// `meshd fqdn cache list`: the learned DNS cache (name → IPs → remaining TTL → selectors), read
// from the state directory's fqdn-cache.json, so it works whether or not an agent runs.
import { FqdnError, fqdnStatePath, listFqdnState, loadFqdnState, renderFqdnListing } from '../../fqdn/index.js';
import type { FqdnListing } from '../../fqdn/index.js';
import type { CommandContext } from '../command-spec.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getOutputFormat, getString } from '../parsed-args.js';

/** The agent's state directory when --state-dir is not given. */
export const DEFAULT_STATE_DIR = '/var/lib/meshd';

export async function fqdnCacheList(stateDir: string, nowMs = Date.now()): Promise<FqdnListing & { stateFile: string }> {
  const state = await loadFqdnState(stateDir);
  const stateFile = fqdnStatePath(stateDir);
  if (!state) {
    throw new FqdnError('MESHD_ERR_FQDN_STATE_READ', `no FQDN cache at ${stateFile}`, {
      hint: 'the agent writes it once its DNS proxy has learned a name; pass the agent\'s state directory with --state-dir',
    });
  }
  return { stateFile, ...listFqdnState(state, nowMs) };
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const listing = await fqdnCacheList(getString(args, 'state-dir') ?? DEFAULT_STATE_DIR);
  io.stdout(getOutputFormat(args) === 'json' ? JSON.stringify(listing, null, 2) + '\n' : renderFqdnListing(listing));
  return 0;
}
