// `meshd version`.

import type { CommandContext } from '../command-spec.js';
import type { ParsedArgs } from '../parsed-args.js';
import { readPackageVersion } from '../read-package-version.js';

export async function run(_args: ParsedArgs, { io }: CommandContext): Promise<0> {
  io.stdout(`meshd ${await readPackageVersion()} (node ${process.version})\n`);
  return 0;
}
