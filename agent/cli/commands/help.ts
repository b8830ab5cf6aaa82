// `meshd help [COMMAND...]`: the same text as `meshd COMMAND... --help`.

import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { renderHelp } from '../render-help.js';
import { commandLineName, resolveCommand } from '../resolve-command.js';

export async function run(args: ParsedArgs, { io, root }: CommandContext): Promise<0> {
  const { path, node, rest } = resolveCommand(root, args.positionals);
  if (rest.length > 0) throw new UsageError(`unknown command '${commandLineName([...path, ...rest])}'`);
  io.stdout(renderHelp(node, path));
  return 0;
}
