// Runs one fuzzer in a child process, so the test can watch it: a loader call that never returns
// (a hang), exhausts memory or aborts the process (V8 fatal errors cannot be caught, and would
// take a worker thread's whole process with them) kills this child, not the test run; the test
// then regenerates the offending input from (seed, case index) and reports it.
// The child uses the default main-thread stack, like the CLI, so stack-depth findings match it.
// Protocol (to the parent, over IPC): {type: 'start', i} before each loader call, {type:
// 'failure', ...} for the first case of each new kind of failure, then one {type: 'done', ...}.
// The job comes in the MESHD_FUZZ_JOB environment variable.

import { performance } from 'node:perf_hooks';
import { loadPolicyText, type FileLoadResult } from '../../policy/index.js';
import { isTemplate, listCorpusFiles, type CorpusFile } from '../corpus/corpus-files.js';
import { renderCorpusTemplate, renderedKey, templateVariants } from '../corpus/template-data.js';
import { resultDefects } from './check-result.js';
import { documentPool, structuralCase } from './structural-mutations.js';
import { mutationContext, textCase, type FuzzCase } from './text-mutations.js';

export type FuzzMode = 'text' | 'structural';

export interface FuzzJob {
  mode: FuzzMode;
  seed: number;
  /** First case index (cases are numbered, so one can be replayed alone). */
  from: number;
  iterations: number;
  budgetMs: number;
  perInputMs: number;
  /** Stop after this many distinct kinds of failure (one example case is kept per kind). */
  maxFailures: number;
}

export interface FuzzFailure {
  type: 'failure';
  /** The defect with numbers blanked out: failures of one kind share it. */
  kind: string;
  i: number;
  name: string;
  text: string;
  steps: string[];
  defects: string[];
  ms: number;
}

export interface FuzzDone {
  type: 'done';
  cases: number;
  elapsedMs: number;
  loaded: number;
  rejected: number;
  codes: Record<string, number>;
  slowest: { i: number; ms: number; steps: string[]; bytes: number };
  /** Failing cases per kind of failure (the examples were sent as they were found). */
  failureCounts: Record<string, number>;
}

/** Failures of one kind differ only in numbers (case index, line, col, size, ms). */
export function failureKind(defect: string): string {
  return defect
    .split('\n')[0]!
    .replace(/\((MESHD_ERR_POLICY_\w+): .*?\):/, '($1):')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

/** The case generator for a mode; also used by the parent to regenerate a hung or crashing input. */
export function caseMaker(mode: FuzzMode): (seed: number, i: number) => FuzzCase {
  const files = fuzzSources();
  if (mode === 'text') {
    const ctx = mutationContext(files);
    return (seed, i) => textCase(ctx, seed, i);
  }
  const pool = documentPool(files);
  return (seed, i) => structuralCase(pool, seed, i);
}

/**
 * The corpus files to mutate. Templates are used in their rendered form: as written they stop
 * at the template check, and the `{{` inserted by the text mutations already covers that.
 */
function fuzzSources(): CorpusFile[] {
  return listCorpusFiles().map((f) => {
    if (!isTemplate(f.text)) return f;
    const variant = templateVariants(f.rel)[0]!;
    return { ...f, rel: renderedKey(f.rel, variant), text: renderCorpusTemplate(f.rel, f.text, variant.data) };
  });
}

function run(job: FuzzJob): FuzzDone {
  const make = caseMaker(job.mode);
  const started = performance.now();
  const done: FuzzDone = { type: 'done', cases: 0, elapsedMs: 0, loaded: 0, rejected: 0, codes: {}, slowest: { i: -1, ms: 0, steps: [], bytes: 0 }, failureCounts: {} };
  for (let i = job.from; i < job.from + job.iterations; i++) {
    if (performance.now() - started > job.budgetMs) break;
    const c = make(job.seed, i);
    process.send!({ type: 'start', i });
    const t0 = performance.now();
    let result: FileLoadResult | undefined;
    let thrown: unknown;
    try {
      result = loadPolicyText(c.name, c.text);
    } catch (e) {
      thrown = e;
    }
    const ms = performance.now() - t0;
    const defects: string[] = [];
    if (thrown !== undefined || !result) {
      defects.push(`loadPolicyText threw: ${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}`);
    } else {
      defects.push(...resultDefects(c.name, c.text, result));
      if (i % 16 === 0) {
        // Same input, same answer: catches state leaking between calls (e.g. a shared /g regex).
        const again = loadPolicyText(c.name, c.text);
        if (JSON.stringify(again) !== JSON.stringify(result)) defects.push('a second load of the same text gave a different result');
      }
      if (result.problems.length > 0) done.rejected++;
      else done.loaded++;
      for (const code of new Set(result.problems.map((p) => p.code))) done.codes[code] = (done.codes[code] ?? 0) + 1;
    }
    if (ms > job.perInputMs) defects.push(`took ${ms.toFixed(0)} ms, over the per-input limit of ${job.perInputMs} ms`);
    if (ms > done.slowest.ms) done.slowest = { i, ms, steps: c.steps, bytes: c.text.length };
    done.cases++;
    if (defects.length > 0) {
      const kind = failureKind(defects[0]!);
      const seen = kind in done.failureCounts;
      done.failureCounts[kind] = (done.failureCounts[kind] ?? 0) + 1;
      if (!seen) {
        const failure: FuzzFailure = { type: 'failure', kind, i, name: c.name, text: c.text, steps: c.steps, defects: defects.slice(0, 6), ms };
        process.send!(failure);
        if (Object.keys(done.failureCounts).length >= job.maxFailures) break;
      }
    }
  }
  done.elapsedMs = performance.now() - started;
  return done;
}

const jobText = process.env['MESHD_FUZZ_JOB'];
if (jobText !== undefined && process.send) {
  const done = run(JSON.parse(jobText) as FuzzJob);
  process.send(done, () => process.disconnect());
}
