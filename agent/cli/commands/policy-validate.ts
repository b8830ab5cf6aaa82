// `meshd policy validate PATH...`: load policy sources and report what loaded, what was
// skipped and every problem. Typed options in, a result out; rendering is separate so tests
// (and `-o json`) work on the same value.

import { loadPolicySources } from '../../../policy/index.js';
import type { LoadResult } from '../../../policy/index.js';
import type { CommandContext } from '../command-spec.js';
import type { OutputFormat, ParsedArgs } from '../parsed-args.js';
import { getOutputFormat } from '../parsed-args.js';
import type { ProblemReport } from '../render-problem.js';
import { renderProblem, toProblemReport } from '../render-problem.js';

export interface ValidateOptions {
  /** Files or directories, as given on the command line. */
  paths: string[];
}

/** The JSON of `-o json`; field names are part of the CLI's interface (append-only). */
export interface ValidateResult {
  /** True when there is no problem at all. */
  ok: boolean;
  /** Every file read, including rejected ones. */
  files: string[];
  policies: ValidatedPolicy[];
  cidrGroups: Array<{ name: string; file: string; line: number }>;
  skipped: Array<{ kind: string; name: string | null; file: string; line: number; col: number; note: string }>;
  problems: ProblemReport[];
  /** Things that load but probably do not do what the author meant; they do not fail validation. */
  warnings: Array<{ message: string; file: string; line: number; col: number }>;
}

export interface ValidatedPolicy {
  kind: string;
  /** null for cluster-wide policies and bare rule lists. */
  namespace: string | null;
  name: string;
  file: string;
  line: number;
  rules: number;
}

export async function policyValidate(opts: ValidateOptions): Promise<ValidateResult> {
  return toValidateResult(await loadPolicySources(opts.paths));
}

export function toValidateResult(loaded: LoadResult): ValidateResult {
  return {
    ok: loaded.problems.length === 0,
    files: loaded.files,
    policies: loaded.policies.map(({ origin, rules }) => ({
      kind: origin.kind,
      namespace: origin.namespace ?? null,
      name: origin.name,
      file: origin.position.file,
      line: origin.position.line,
      rules: rules.length,
    })),
    cidrGroups: loaded.cidrGroups.map((g) => ({ name: g.name, file: g.position.file, line: g.position.line })),
    skipped: loaded.skipped.map((s) => ({ kind: s.kind, name: s.name ?? null, ...s.position, note: s.note })),
    problems: loaded.problems.map(toProblemReport),
    warnings: loaded.warnings.map((w) => ({ message: w.message, ...w.position })),
  };
}

export function renderValidate(result: ValidateResult, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(result, null, 2) + '\n';
  const lines: string[] = [];
  for (const p of result.problems) lines.push(renderProblem(p));
  for (const w of result.warnings) lines.push(`${w.file}:${w.line}:${w.col}  warning: ${w.message}\n`);
  for (const s of result.skipped) {
    const what = s.name === null ? s.kind : `${s.kind} ${s.name}`;
    lines.push(`${s.file}:${s.line}:${s.col}  note: skipped ${what}: ${s.note}\n`);
  }
  lines.push(summaryLine(result) + '\n');
  return lines.join('');
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const result = await policyValidate({ paths: args.positionals });
  io.stdout(renderValidate(result, getOutputFormat(args)));
  return result.ok ? 0 : 1;
}

function summaryLine(r: ValidateResult): string {
  const rules = r.policies.reduce((n, p) => n + p.rules, 0);
  const parts = [
    count(r.files.length, 'file'),
    `${count(r.policies.length, 'policy', 'policies')} (${count(rules, 'rule')}) loaded`,
  ];
  if (r.cidrGroups.length > 0) parts.push(`${count(r.cidrGroups.length, 'CIDR group')} loaded`);
  parts.push(`${count(r.skipped.length, 'document')} skipped`);
  const rejected = new Set(r.problems.map((p) => p.file)).size;
  parts.push(r.problems.length === 0 ? '0 problems' : `${count(r.problems.length, 'problem')} (${count(rejected, 'file')} rejected)`);
  if (r.warnings.length > 0) parts.push(count(r.warnings.length, 'warning'));
  return parts.join(', ');
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
