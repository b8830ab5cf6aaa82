// Finds which command of the table a command line names: `policy validate --x` → the
// `validate` node, path [policy, validate], rest [--x]. It never throws: what the rest means
// (help, an unknown command, options) is for main.ts to decide.

import type { CommandGroup, CommandNode } from './command-spec.js';

export interface ResolvedCommand {
  /** Names from the root to `node`; empty for the root itself. */
  path: string[];
  node: CommandNode;
  /** The arguments after the command names. */
  rest: string[];
}

export function resolveCommand(root: CommandGroup, argv: readonly string[]): ResolvedCommand {
  const path: string[] = [];
  let node: CommandNode = root;
  let i = 0;
  while (node.kind === 'group' && i < argv.length) {
    const word = argv[i];
    const child: CommandNode | undefined = node.commands.find((c) => c.name === word);
    if (!child) break;
    path.push(child.name);
    node = child;
    i++;
  }
  return { path, node, rest: argv.slice(i) };
}

/** `meshd policy validate`, for messages and help. */
export function commandLineName(path: readonly string[]): string {
  return ['meshd', ...path].join(' ');
}

/** True when `--help`/`-h` appears among the options (before a `--`). */
export function asksForHelp(rest: readonly string[]): boolean {
  for (const arg of rest) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}
