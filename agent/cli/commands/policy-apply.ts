// `meshd policy apply -f FILE|DIR`: read the files here, send their texts to the agent, which
// applies all of them or none.
import { readFile, stat } from 'node:fs/promises';
import type { ApplyResult, PolicySource } from '../../policy-store/index.js';
import { readPolicyDir } from '../../policy-store/index.js';
import { formatPosition, PolicyValidationError } from '../../../policy/index.js';
import type { PolicyProblem } from '../../../policy/index.js';
import type { CommandContext } from '../command-spec.js';
import { ExitError, UsageError } from '../errors.js';
import { getList, getOutputFormat, type ParsedArgs } from '../parsed-args.js';
import { renderProblem, toProblemReport } from '../render-problem.js';
import { agentClient } from './pod-shared.js';

/** Files as given (any extension), directories recursively (*.yaml, *.yml, *.json), in order. */
export async function readPolicySources(paths: string[]): Promise<PolicySource[]> {
  const sources: PolicySource[] = [];
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (err) {
      // The same report as `meshd policy validate` gives for a file it cannot read (exit 1).
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
      throw new PolicyValidationError([{ code: 'MESHD_ERR_POLICY_FILE_READ', message: `cannot read ${path}: ${why}`, path: '', position: { file: path, line: 1, col: 1 } }]);
    }
    if (isDir) {
      const found = await readPolicyDir(path);
      if (found.length === 0) throw new UsageError(`${path} holds no *.yaml, *.yml or *.json file`);
      sources.push(...found);
    } else {
      sources.push({ file: path, text: await readFile(path, 'utf8') });
    }
  }
  return sources;
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const sources = await readPolicySources(getList(args, 'filename'));
  const client = agentClient(args);
  let result: ApplyResult;
  try {
    result = await client.post<ApplyResult>('/v1/policies', { sources }, { timeoutMs: 120_000 });
  } catch (err) {
    const e = err as { code?: unknown; problems?: unknown };
    if (e.code === 'MESHD_ERR_POLICY_STORE_INVALID' && Array.isArray(e.problems)) {
      const problems = e.problems as PolicyProblem[];
      if (getOutputFormat(args) === 'json') {
        io.stdout(`${JSON.stringify({ applied: [], problems: problems.map(toProblemReport) }, null, 2)}\n`);
      } else {
        for (const p of problems) io.stderr(renderProblem(toProblemReport(p)));
        io.stderr(`${problems.length} problem${problems.length === 1 ? '' : 's'}: nothing was applied\n`);
      }
      throw new ExitError(1);
    }
    throw err;
  } finally {
    client.close();
  }
  if (getOutputFormat(args) === 'json') {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  for (const w of result.warnings) io.stderr(`${formatPosition(w.position)}  warning  ${w.message}\n`);
  for (const s of result.skipped) io.stderr(`${formatPosition(s.position)}  skipped  ${s.kind}${s.name ? ` ${s.name}` : ''}: ${s.note}\n`);
  const unchanged = new Set(result.unchanged);
  for (const p of result.applied) {
    const name = p.namespace ? `${p.namespace}/${p.name}` : p.name;
    const audit = p.auditMode ? ', audit mode' : '';
    io.stdout(`${p.kind} ${name} ${unchanged.has(p.key) ? 'unchanged' : 'applied'} (${p.rules} rule${p.rules === 1 ? '' : 's'}, selects ${p.endpoints} pod${p.endpoints === 1 ? '' : 's'}${audit})\n`);
  }
  if (result.applied.length === 0) io.stdout('no policy in the files (see the skipped documents above)\n');
  return 0;
}
