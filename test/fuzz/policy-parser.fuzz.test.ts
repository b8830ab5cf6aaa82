// Bounded mutation fuzzing of loadPolicyText over the shared corpus: whatever the input, the
// loader returns (never throws, never hangs, stays within a per-input time limit) and every
// problem it reports has a known code, a message, a field path and a position inside the file.
//
//   FUZZ_SEED        seed (decimal or 0x-hex); default fixed, printed either way
//   FUZZ_ITERATIONS  cases per fuzzer (default 3000)
//   FUZZ_SECONDS     wall-clock budget for both fuzzers together (default 20)
//   FUZZ_FROM        first case index (default 0); with FUZZ_ITERATIONS=1 replays one case
//   FUZZ_INPUT_MS    per-input limit in ms of CPU time (default 2000)
// Each run stops at whichever of FUZZ_ITERATIONS and FUZZ_SECONDS comes first. On failure the
// seed and a replay command are printed and each failing input is written under os.tmpdir().
//
// Two fuzzers (text mutations, structural mutations of parsed documents) each run in a child
// process watched from here, so a hang or a process abort is reported with its input instead of
// killing the test run; a fixed list of hand-written hostile files (deep nesting, alias bombs,
// prototype keys, ...) is loaded three times each in fresh processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { corpusDir } from '../corpus/corpus-files.js';
import { caseMaker, failureKind, type FuzzDone, type FuzzFailure, type FuzzJob, type FuzzMode } from './fuzz-child.js';
import { parseSeed } from './prng.js';
import { LOADS_PER_FILE } from './load-repeatedly.js';
import { HOSTILE_FILES } from './text-mutations.js';

const DEFAULT_SEED = 0x6d657368; // "mesh"
const seedText = process.env['FUZZ_SEED'];
const SEED = parseSeed(seedText) ?? DEFAULT_SEED;
const ITERATIONS = nonNegativeInt('FUZZ_ITERATIONS', 3000);
const SECONDS = positiveNumber('FUZZ_SECONDS', 20);
const FROM = nonNegativeInt('FUZZ_FROM', 0);
const PER_INPUT_MS = positiveNumber('FUZZ_INPUT_MS', 2000);
/** A call still running this long after its per-input limit is a hang: the child is killed. */
const HANG_GRACE_MS = 5000;
/** Distinct kinds of failure to collect before stopping early. */
const MAX_FAILURES = 8;
/** Share of the wall-clock budget per fuzzer. */
const BUDGET_SHARE: Record<FuzzMode, number> = { text: 0.6, structural: 0.4 };

function nonNegativeInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

function positiveNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v} is not a positive number`);
  return n;
}

if (seedText !== undefined && seedText !== '' && parseSeed(seedText) === undefined) {
  throw new Error(`FUZZ_SEED=${seedText} is not an integer in 0..0xffffffff`);
}

console.log(
  `fuzz: seed ${SEED} (0x${SEED.toString(16)})${seedText ? '' : ' [default; set FUZZ_SEED to change]'}, ` +
    `cases ${FROM}..${FROM + ITERATIONS - 1}, budget ${SECONDS} s, per-input limit ${PER_INPUT_MS} ms`,
);

interface Outcome {
  done: FuzzDone | undefined;
  /** One example case per kind of failure, as the child found them. */
  failures: FuzzFailure[];
  /** A failure the child could not report itself: a hang, a process abort, running out of memory. */
  fatal: FuzzFailure | undefined;
}

function runFuzzer(mode: FuzzMode): Promise<Outcome> {
  corpusDir(); // fail here, with instructions, when the corpus is missing
  const job: FuzzJob = { mode, seed: SEED, from: FROM, iterations: ITERATIONS, budgetMs: SECONDS * 1000 * BUDGET_SHARE[mode], perInputMs: PER_INPUT_MS, maxFailures: MAX_FAILURES };
  const from = FROM;
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(new URL('./fuzz-child.js', import.meta.url)), [], {
      env: { ...process.env, MESHD_FUZZ_JOB: JSON.stringify(job) },
      execArgv: ['--enable-source-maps', '--max-old-space-size=1024'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    let current: { i: number; since: number } | undefined;
    let settled = false;
    const failures: FuzzFailure[] = [];
    const finish = (o: Omit<Outcome, 'failures'>): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      if (child.exitCode === null) child.kill('SIGKILL');
      resolve({ ...o, failures });
    };
    const regenerate = (why: string): FuzzFailure => {
      const i = current?.i ?? from;
      const c = caseMaker(mode)(SEED, i);
      const alone = i === from ? '' : ` (if this case alone does not reproduce it, earlier cases matter: FUZZ_FROM=${from} FUZZ_ITERATIONS=${i - from + 1})`;
      const defect = why + alone;
      return { type: 'failure', kind: failureKind(defect), i, name: c.name, text: c.text, steps: c.steps, defects: [defect], ms: current ? Date.now() - current.since : 0 };
    };
    const watchdog = setInterval(() => {
      if (current && Date.now() - current.since > PER_INPUT_MS + HANG_GRACE_MS) {
        finish({ done: undefined, fatal: regenerate(`hang: loadPolicyText did not return within ${PER_INPUT_MS + HANG_GRACE_MS} ms`) });
      }
    }, 200);
    child.on('message', (m: { type: 'start'; i: number } | FuzzFailure | FuzzDone) => {
      if (m.type === 'start') current = { i: m.i, since: Date.now() };
      else if (m.type === 'failure') failures.push(m);
      else finish({ done: m, fatal: undefined });
    });
    child.on('error', (e) => finish({ done: undefined, fatal: regenerate(`the fuzz child failed: ${e.stack ?? e.message}`) }));
    child.on('close', (code, signal) => {
      const tail = stderr.split('\n').filter((l) => l.trim() && !/^\s*\d+: 0x/.test(l)).slice(0, 12).join('\n');
      finish({ done: undefined, fatal: regenerate(`the process died while loading this input (exit code ${code}, signal ${signal}):\n${tail}`) });
    });
  });
}

function report(mode: FuzzMode, o: Outcome): string[] {
  const failures = [...o.failures, ...(o.fatal ? [o.fatal] : [])];
  if (o.done) {
    const d = o.done;
    const codes = Object.entries(d.codes)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c.replace('MESHD_ERR_POLICY_', '')} ${n}`)
      .join(', ');
    console.log(
      `fuzz ${mode}: ${d.cases} cases in ${(d.elapsedMs / 1000).toFixed(1)} s (${Math.round(d.cases / (d.elapsedMs / 1000))}/s); ` +
        `${d.loaded} loaded, ${d.rejected} rejected; rejections by code: ${codes || 'none'}\n` +
        `  slowest: case ${d.slowest.i}, ${d.slowest.ms.toFixed(0)} ms, ${d.slowest.bytes} chars (${d.slowest.steps.join(' → ')})`,
    );
  }
  if (failures.length === 0) return [];
  const dir = join(tmpdir(), 'meshd-fuzz');
  mkdirSync(dir, { recursive: true });
  return failures.map((f) => {
    const file = join(dir, `${mode}-seed${SEED}-case${f.i}${f.name.endsWith('.json') ? '.json' : '.yaml'}`);
    writeFileSync(file, f.text);
    const count = o.done?.failureCounts[f.kind];
    return [
      `${mode} case ${f.i}${count ? ` (first of ${count} failing cases of this kind)` : ''}, ${f.ms.toFixed(0)} ms, ${f.text.length} chars: ${f.steps.join(' → ')}`,
      ...f.defects.map((d) => `    ${d.split('\n').slice(0, 14).join('\n    ')}`),
      `    input saved to ${file}`,
      `    replay: FUZZ_SEED=${SEED} FUZZ_FROM=${f.i} FUZZ_ITERATIONS=1 node scripts/run-tests.mjs fuzz`,
    ].join('\n');
  });
}

test('mutated corpus text only ever yields positioned problems: no crash, no hang, no slow input', async () => {
  const o = await runFuzzer('text');
  const failures = report('text', o);
  if (failures.length > 0) assert.fail(`fuzzing with seed ${SEED} found ${failures.length} kind(s) of failure, one example each:\n${failures.join('\n')}`);
  assert.ok(o.done && o.done.cases > 0, 'the text fuzzer ran no case');
  // Text mutations break most files: a run of any size without a rejection means the mutations
  // no longer reach the loader, or the loader accepts garbage.
  if (o.done.cases >= 100) assert.ok(o.done.rejected > 0, `expected rejections, got ${o.done.loaded} loaded, ${o.done.rejected} rejected`);
});

test('structurally mutated documents either load or every problem carries a path and a position', async () => {
  const o = await runFuzzer('structural');
  const failures = report('structural', o);
  if (failures.length > 0) assert.fail(`fuzzing with seed ${SEED} found ${failures.length} kind(s) of failure, one example each:\n${failures.join('\n')}`);
  assert.ok(o.done && o.done.cases > 0, 'the structural fuzzer ran no case');
  // Structural mutations keep the text parseable, so they must reach the schema checks.
  if (o.done.cases >= 100) assert.ok(o.done.rejected > 0 && o.done.loaded > 0, `expected both loads and rejections, got ${o.done.loaded} loaded, ${o.done.rejected} rejected`);
});

/** Loads one hostile file LOADS_PER_FILE times in a fresh process; describes what went wrong. */
function loadInFreshProcess(index: number, label: string, text: string): Promise<string | undefined> {
  const dir = join(tmpdir(), 'meshd-fuzz');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `hostile-${index}.yaml`);
  writeFileSync(file, text);
  const limitMs = PER_INPUT_MS * LOADS_PER_FILE + HANG_GRACE_MS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', fileURLToPath(new URL('./load-repeatedly.js', import.meta.url)), file, `hostile-${index}.yaml`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const head = `hostile file ${index} "${label}" (${text.length} chars, saved to ${file})`;
      if (hung) return resolve(`${head}: hang, ${LOADS_PER_FILE} loads did not finish within ${limitMs} ms`);
      if (code !== 0 || signal !== null) {
        const why = err.split('\n').filter((l) => l.trim() && !/^\s*\d+: 0x/.test(l) && !/^<---|^\[\d+:0x/.test(l)).slice(0, 6).join('\n      ');
        return resolve(`${head}: the process died (exit code ${code}, signal ${signal}) after ${out ? 'printing' : 'no'} result:\n      ${why}`);
      }
      const r = JSON.parse(out) as { defects: string[]; ms: number[] };
      const slow = r.ms.map((ms, k) => (ms > PER_INPUT_MS ? `load ${k + 1} took ${ms.toFixed(0)} ms of CPU time, over ${PER_INPUT_MS} ms` : '')).filter(Boolean);
      const defects = [...r.defects, ...slow];
      resolve(defects.length === 0 ? undefined : `${head}:\n      ${defects.slice(0, 6).map((d) => d.split('\n').slice(0, 4).join('\n      ')).join('\n      ')}`);
    });
  });
}

test('hand-written hostile files are rejected cleanly, even when loaded again in the same process', async () => {
  assert.ok(HOSTILE_FILES.length > 0, 'test/fuzz/text-mutations.ts lists no hostile file');
  const failures: string[] = [];
  const queue = HOSTILE_FILES.map((h, i) => [i, h] as const);
  const workers = Array.from({ length: 4 }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [i, h] = next;
      const failure = await loadInFreshProcess(i, h.label, h.text);
      if (failure) failures.push(failure);
    }
  });
  await Promise.all(workers);
  failures.sort();
  if (failures.length > 0) assert.fail(`${failures.length} of ${HOSTILE_FILES.length} hostile files (test/fuzz/text-mutations.ts) broke the loader:\n  ${failures.join('\n  ')}`);
});
