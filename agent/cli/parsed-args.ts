// A command line after parse-command-line.ts checked it against the table: every option is
// known, has a value if it takes one, and is one of its choices. Commands read it through
// these accessors and normalise it into their own typed options.

export interface ParsedArgs {
  /** By long name: a string, every value of a repeatable option, or true for a flag. */
  options: Record<string, string | string[] | true>;
  positionals: string[];
}

export function getString(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  if (v === undefined || v === true) return undefined;
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function getList(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  if (v === undefined || v === true) return [];
  return Array.isArray(v) ? v : [v];
}

export function hasFlag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

export type OutputFormat = 'text' | 'json';

/** `-o/--output`; the table restricts the choices and defaults it to text. */
export function getOutputFormat(args: ParsedArgs): OutputFormat {
  return getString(args, 'output') === 'json' ? 'json' : 'text';
}
