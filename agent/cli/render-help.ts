// Help text, generated from the command table so it cannot drift from what the parser accepts.

import type { ArgumentSpec, CommandGroup, CommandNode, CommandSpec, OptionSpec } from './command-spec.js';
import { HELP_OPTION } from './command-spec.js';
import { commandLineName } from './resolve-command.js';

export function renderHelp(node: CommandNode, path: readonly string[]): string {
  const name = commandLineName(path);
  const options = [...node.options, HELP_OPTION];
  const out: string[] = [`${name}: ${node.summary}`, '', 'Usage:', `  ${usageLine(node, name)}`];
  if (node.kind === 'command' && node.details) out.push('', ...node.details.map((l) => `  ${l}`));
  if (node.kind === 'group') {
    out.push('', 'Commands:', ...table(leafCommands(node, []).map(([p, c]) => [p.join(' '), c.summary])));
  }
  if (node.kind === 'command' && node.arguments.length > 0) {
    out.push('', 'Arguments:', ...table(node.arguments.map((a) => [argumentLabel(a), a.description])));
  }
  out.push('', 'Options:', ...table(options.map((o) => [optionLabel(o), optionDescription(o)])));
  if (node.examples.length > 0) out.push('', 'Examples:', ...node.examples.map((e) => `  ${e}`));
  if (node.kind === 'group') out.push('', `Run '${name} <command> --help' for the options of a command.`);
  return out.join('\n') + '\n';
}

/** Every runnable command under `group`, with its path relative to it. */
export function leafCommands(group: CommandGroup, prefix: string[]): Array<[string[], CommandSpec]> {
  return group.commands.flatMap((c): Array<[string[], CommandSpec]> =>
    c.kind === 'group' ? leafCommands(c, [...prefix, c.name]) : [[[...prefix, c.name], c]],
  );
}

function usageLine(node: CommandNode, name: string): string {
  if (node.kind === 'group') return `${name} <command> [options]`;
  const required = node.options.filter((o) => o.required).map((o) => `--${o.name} ${o.value ?? ''}`.trim());
  const args = node.arguments.map((a) => (a.required ? argumentLabel(a) : `[${argumentLabel(a)}]`));
  return [name, ...required, '[options]', ...args].join(' ');
}

function argumentLabel(a: ArgumentSpec): string {
  return a.variadic ? `${a.name}...` : a.name;
}

function optionLabel(o: OptionSpec): string {
  const long = o.value ? `--${o.name} ${o.value}` : `--${o.name}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function optionDescription(o: OptionSpec): string {
  const notes = [
    ...(o.required ? ['required'] : []),
    ...(o.multiple ? ['repeatable'] : []),
    ...(o.default !== undefined ? [`default: ${o.default}`] : []),
  ];
  return notes.length > 0 ? `${o.description} (${notes.join(', ')})` : o.description;
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}
