// `meshd pod run|list|exec|rm`: pods on this node through the agent.
import type { CommandNode } from '../command-spec.js';

export const POD_SPECS: CommandNode[] = [];
