// `meshd observe`: flows from the running agent.
import type { CommandNode } from '../command-spec.js';

export const OBSERVE_SPECS: CommandNode[] = [];
