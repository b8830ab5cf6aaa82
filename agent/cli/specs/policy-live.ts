// `meshd policy apply|delete|list|get`: the running agent's policies (joined to the `policy` group).
import type { CommandNode } from '../command-spec.js';

export const POLICY_LIVE_SPECS: CommandNode[] = [];
