// `meshd agent`: the daemon. Owned by the agent-core work.
import type { CommandNode } from '../command-spec.js';

export const AGENT_SPECS: CommandNode[] = [];
