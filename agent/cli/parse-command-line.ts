// Checks a command's arguments against its entry in the table and returns them parsed.
// node:util parseArgs does the tokenising; the checks are done here (not with `strict`) so
// every mistake gets a message that names the command and, where it helps, the likely fix.

import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { CommandGroup, CommandSpec, OptionSpec } from './command-spec.js';
import { HELP_OPTION } from './command-spec.js';
import type { ParsedArgs } from './parsed-args.js';
import { closestName } from './closest-name.js';
import { UsageError } from './errors.js';

export function parseCommandLine(spec: CommandSpec | CommandGroup, args: string[]): ParsedArgs {
  const specs = [...spec.options, HELP_OPTION];
  const byName = new Map(specs.map((o) => [o.name, o]));
  const config: ParseArgsConfig['options'] = {};
  for (const o of specs) {
    config[o.name] = { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) };
  }
  const { tokens } = parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });

  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  let previous: OptionSpec | undefined;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    // parseArgs names a known short option by its long name, and an unknown one by its letter.
    const option = byName.get(token.name);
    if (!option || (token.rawName !== `--${option.name}` && token.rawName !== `-${option.short}`)) {
      throw unknownOption(token.rawName, specs);
    }
    previous = option;
    if (!option.value) {
      if (token.value !== undefined) throw new UsageError(`option --${option.name} takes no value (got '${token.value}')`);
      options[option.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('-') && value !== '-')) {
      throw new UsageError(
        `option ${optionLabel(option)} needs a value`,
        value === undefined ? undefined : `write --${option.name}=${value} if '${value}' is the value`,
      );
    }
    if (option.choices && !option.choices.includes(value)) {
      throw new UsageError(`option --${option.name} must be ${option.choices.join(' or ')}, not '${value}'`);
    }
    const seen = options[option.name];
    if (option.multiple) options[option.name] = [...(Array.isArray(seen) ? seen : []), value];
    else if (seen !== undefined) throw new UsageError(`option --${option.name} given twice`);
    else options[option.name] = value;
  }
  // `--help` anywhere wins over every other check: main prints help before looking further.
  if (options.help === true) return { options, positionals };

  for (const o of specs) {
    if (options[o.name] !== undefined) continue;
    if (o.required) throw new UsageError(`missing option ${optionLabel(o)}`);
    if (o.default !== undefined) options[o.name] = o.default;
  }
  checkPositionals(spec, positionals, previous);
  return { options, positionals };
}

function checkPositionals(spec: CommandSpec | CommandGroup, positionals: string[], previous: OptionSpec | undefined): void {
  const expected = spec.kind === 'command' ? spec.arguments : [];
  const required = expected.filter((a) => a.required);
  const missing = required[positionals.length];
  if (positionals.length < required.length && missing) {
    throw new UsageError(`missing argument ${missing.name}${missing.variadic ? '...' : ''}`);
  }
  const takesAll = expected.some((a) => a.variadic);
  if (!takesAll && positionals.length > expected.length) {
    const extra = positionals[expected.length] ?? '';
    throw new UsageError(
      `unexpected argument '${extra}'`,
      previous?.multiple ? `repeat --${previous.name} before each value: --${previous.name} A --${previous.name} B` : undefined,
    );
  }
}

function unknownOption(rawName: string, specs: OptionSpec[]): UsageError {
  const names = specs.flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]);
  const guess = closestName(rawName, names);
  return new UsageError(`unknown option '${rawName}'`, guess ? `did you mean ${guess}?` : undefined);
}

function optionLabel(o: OptionSpec): string {
  return o.value ? `--${o.name} ${o.value}` : `--${o.name}`;
}
