// The shapes of the command table (commands.ts). Help text, option parsing and the usage
// line are all generated from these, so the table is the single description of the CLI.

import type { CliIo } from './cli-io.js';
import type { ParsedArgs } from './parsed-args.js';

export interface OptionSpec {
  /** Long name, without dashes: `output` for `--output`. */
  name: string;
  /** One letter, without the dash: `o` for `-o`. */
  short?: string;
  /** Placeholder for the value (`FILE`, `text|json`); an option without one is a flag. */
  value?: string;
  /** The option may be given several times; every value is kept, in order. */
  multiple?: boolean;
  /** The only values accepted. */
  choices?: readonly string[];
  default?: string;
  required?: boolean;
  description: string;
}

export interface ArgumentSpec {
  /** As shown in help: `PATH`. */
  name: string;
  description: string;
  required: boolean;
  /** Takes every remaining positional argument (shown as `PATH...`). */
  variadic: boolean;
}

export interface CommandContext {
  io: CliIo;
  /** The whole table, for commands that describe the CLI itself (`meshd help`). */
  root: CommandGroup;
}

/** What a command module exports. Resolves to the exit status of an outcome (0 ok, 1 failed). */
export interface CommandModule {
  run(args: ParsedArgs, ctx: CommandContext): Promise<0 | 1>;
}

export interface CommandSpec {
  kind: 'command';
  name: string;
  summary: string;
  /** Extra help paragraphs, one string per line. */
  details?: string[];
  arguments: ArgumentSpec[];
  options: OptionSpec[];
  /** Full command lines, starting with `meshd`. */
  examples: string[];
  /** Imported only when the command runs, so `meshd --help` loads no engine code. */
  load(): Promise<CommandModule>;
}

export interface CommandGroup {
  kind: 'group';
  name: string;
  summary: string;
  commands: CommandNode[];
  /** Options accepted by the group itself (the root's `--version`); `--help` is implicit. */
  options: OptionSpec[];
  examples: string[];
}

export type CommandNode = CommandSpec | CommandGroup;

/** Every command and group accepts this; it is not repeated in the table. */
export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', description: 'show this help' };
