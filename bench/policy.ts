// bench/policy: how fast the policy layer loads, resolves and re-resolves a realistic cluster
// (issue 2, "Benchmark": full resolve of 1,000 policies × 1,000 endpoints under 1 s, one-policy
// update under 10 ms). The baseline is the naive way to apply a change, a fresh full resolve;
// the contender is the Repository's incremental update. Knobs: bench/flags.ts.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/policy.js
//   POLICIES=2000 ENDPOINTS=2000 SAMPLES=3 UPDATES=100 node dist/bench/policy.js

import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Repository, loadPolicyText, lookupFlow, traceFlow, type EndpointPolicy, type L7Evaluator, type Policy, type PolicyRule } from '../policy/index.js';
import { describeLoad, describeMachine, formatValue, renderTable, summarize, type BenchRow, type Summary } from './bench-report.js';
import { Rng, generatePolicyFixtures, policyFileName, renderPolicyText, updatePlan, type PolicyFixtures, type SampleFlow, type UpdateKind } from './policy-fixtures.js';

const FULL_RESOLVE_TARGET_MS = 1000;
const UPDATE_TARGET_MS = 10;
const LOOKUP_ITERATIONS = 2000;
/** Unmeasured updates before the measured ones (fewer when POLICIES leaves no spare policies). */
const UPDATE_WARMUPS = 20;
const MB = 1024 * 1024;

interface Flags {
  POLICIES: number;
  ENDPOINTS: number;
  SAMPLES: number;
  UPDATES: number;
  SEED: number;
}

interface FullResolvePhases {
  totalMs: number;
  upsertPoliciesMs: number;
  upsertEndpointsMs: number;
  resolveAllMs: number;
}

interface FullResolveRun extends FullResolvePhases {
  repo: Repository;
  resolved: EndpointPolicy[];
}

async function main(): Promise<void> {
  const flags = await readFlags();
  const startedMs = performance.now();
  const gc = findGc();
  console.log(`bench/policy — ${describeMachine()}`);
  console.log(`gc: ${gc.how}; ${describeLoad()}`);
  console.log(`parameters: POLICIES=${flags.POLICIES} ENDPOINTS=${flags.ENDPOINTS} SAMPLES=${flags.SAMPLES} UPDATES=${flags.UPDATES} SEED=${flags.SEED}`);

  const fixtures = generatePolicyFixtures({ policies: flags.POLICIES, endpoints: flags.ENDPOINTS, seed: flags.SEED });
  const sources = fixtures.plans.map((plan) => ({ file: policyFileName(plan), text: renderPolicyText(plan) }));
  console.log(
    `fixtures: ${sources.length} policies (${countBy(fixtures.plans.map((p) => p.template))}) in ${fixtures.namespaces.length} namespaces, ` +
      `${(sources.reduce((n, s) => n + s.text.length, 0) / 1024).toFixed(0)} KiB of YAML; ${fixtures.endpoints.length} endpoints`,
  );

  const parse = benchParse(sources, flags.SAMPLES, gc);
  const policies = parse.policies;
  const full = benchFullResolve(policies, fixtures, flags.SAMPLES, gc);
  const updates = benchUpdates(full.repo, fixtures, flags.UPDATES, new Rng(flags.SEED + 7919));
  const naiveMs = benchNaiveUpdate(policies, updates.updated, fixtures, flags.SAMPLES, gc);
  const trace = benchTrace(policies, fixtures, flags.SAMPLES);
  const lookupMs = benchLookup(full.repo, fixtures.sampleFlow);

  const P = flags.POLICIES;
  const E = fixtures.endpoints.length;
  const totals = full.phases.map((r) => r.totalMs);
  const rows: BenchRow[] = [
    { scenario: `parse + validate ${P} files, first pass (cold)`, summary: summarize([parse.coldMs]), unit: 'ms' },
    { scenario: `parse + validate ${P} files (loadPolicyText)`, summary: summarize(parse.warmMs), unit: 'ms' },
    { scenario: `full resolve: ${P} policies × ${E} endpoints`, summary: summarize(totals), unit: 'ms', target: FULL_RESOLVE_TARGET_MS },
    { scenario: 'naive update: 1 policy changed, full re-resolve', summary: summarize(naiveMs), unit: 'ms', target: UPDATE_TARGET_MS, isBaseline: true },
    { scenario: 'one-policy update: upsert + re-resolve affected', summary: summarize(updates.engineMs), unit: 'ms', target: UPDATE_TARGET_MS, isContender: true },
    { scenario: 'one-policy update incl. parse + validate', summary: summarize(updates.withParseMs), unit: 'ms', target: UPDATE_TARGET_MS, isContender: true },
    { scenario: 'trace 1 flow (traceFlow, full set)', summary: summarize(trace.ms), unit: 'ms' },
    { scenario: 'lookup 1 flow in a resolved policy', summary: summarize(lookupMs), unit: 'ms' },
    { scenario: `heap: ${P} parsed policies (retained)`, summary: summarize([parse.retainedMb]), unit: 'MB' },
    { scenario: 'heap: Repository after full resolve', summary: summarize([full.retainedMb]), unit: 'MB' },
  ];
  console.log(`\n${renderTable(rows)}\n`);

  const median = (xs: number[]) => formatValue(summarize(xs).median, 'ms');
  console.log(
    `full resolve phases (median): upsertPolicy ×${P} ${median(full.phases.map((r) => r.upsertPoliciesMs))}, ` +
      `upsertEndpoint ×${E} ${median(full.phases.map((r) => r.upsertEndpointsMs))}, resolveAll ${median(full.phases.map((r) => r.resolveAllMs))}; ` +
      `first (cold) run ${formatValue(full.coldMs, 'ms')}`,
  );
  console.log(`rules: ${policies.reduce((n, p) => n + p.rules.length, 0)}; endpoints selected per policy: ${full.selection}`);
  const affected = summarize(updates.affected);
  console.log(
    `updates: ${updates.engineMs.length} different policies (after ${updates.warmUps} warm-up updates; the first update took ${formatValue(updates.firstMs, 'ms')}), ` +
      `half add an HTTP rule, half change the selector; endpoints affected per update median ${affected.median}, max ${affected.max}`,
  );
  const flow = fixtures.sampleFlow;
  const t = trace.result;
  console.log(
    `trace ${flow.from} → ${flow.to} ${flow.port}/tcp ${flow.method} ${flow.path}: ${t.verdict} ` +
      `(egress ${t.egress.verdict} by ${t.egress.policy ?? 'none'}, ingress ${t.ingress.verdict} by ${t.ingress.policy ?? 'none'})`,
  );
  const fullMedian = summarize(totals).median;
  const updateMedian = summarize(updates.engineMs).median;
  console.log(
    `aims: full resolve ${fullMedian <= FULL_RESOLVE_TARGET_MS ? 'met' : 'MISSED'} (${formatValue(fullMedian, 'ms')} vs < ${FULL_RESOLVE_TARGET_MS} ms), ` +
      `one-policy update ${updateMedian <= UPDATE_TARGET_MS ? 'met' : 'MISSED'} (${formatValue(updateMedian, 'ms')} vs < ${UPDATE_TARGET_MS} ms)`,
  );
  console.log(`total run time ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
}

async function readFlags(): Promise<Flags> {
  try {
    return await import('./flags.js');
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_BENCH_USAGE') throw e;
    console.error(`bench/policy: ${(e as Error).message}`);
    process.exit(2);
  }
}

// ---- scenarios --------------------------------------------------------------------------------

/** (0) loadPolicyText on every file: once cold (JIT, regex cache empty), then `samples` times. */
function benchParse(sources: ReadonlyArray<{ file: string; text: string }>, samples: number, gc: Gc) {
  const loadAll = (): Policy[] => {
    const out: Policy[] = [];
    for (const s of sources) {
      const r = loadPolicyText(s.file, s.text);
      if (r.problems.length > 0) failOnProblems(s.file, s.text, r.problems);
      out.push(...r.policies);
    }
    return out;
  };
  const coldMs = time(loadAll);
  const warmMs = Array.from({ length: samples }, () => time(loadAll));
  const { value: policies, retainedMb } = measureRetained(gc, loadAll);
  return { coldMs, warmMs, policies, retainedMb };
}

function fullResolve(policies: readonly Policy[], fixtures: PolicyFixtures): FullResolveRun {
  const t0 = performance.now();
  const repo = new Repository();
  for (const p of policies) repo.upsertPolicy(p);
  const t1 = performance.now();
  for (const e of fixtures.endpoints) repo.upsertEndpoint(e);
  const t2 = performance.now();
  const resolved = repo.resolveAll();
  const t3 = performance.now();
  return { totalMs: t3 - t0, upsertPoliciesMs: t1 - t0, upsertEndpointsMs: t2 - t1, resolveAllMs: t3 - t2, repo, resolved };
}

/** Returns only the phase times, so no Repository outlives its own run. */
function timeFullResolve(policies: readonly Policy[], fixtures: PolicyFixtures, gc: Gc): FullResolvePhases {
  gc.collect();
  const { repo: _repo, resolved: _resolved, ...phases } = fullResolve(policies, fixtures);
  return phases;
}

/** (1) fresh Repository, every policy and endpoint upserted, resolveAll; (3) its retained heap. */
function benchFullResolve(policies: readonly Policy[], fixtures: PolicyFixtures, samples: number, gc: Gc) {
  const coldMs = timeFullResolve(policies, fixtures, gc).totalMs;
  const phases = Array.from({ length: samples }, () => timeFullResolve(policies, fixtures, gc));
  // One more, untimed, to read its retained heap; its Repository then takes the updates.
  const { value: run, retainedMb } = measureRetained(gc, () => fullResolve(policies, fixtures));
  return { coldMs, phases, retainedMb, repo: run.repo, selection: describeSelection(run.resolved, policies) };
}

/**
 * (2) one edited policy at a time (alternately a new HTTP rule and a new selector), each on a
 * different policy: upsertPolicy, then endpointPolicy on exactly the ids it returned.
 */
function benchUpdates(repo: Repository, fixtures: PolicyFixtures, count: number, rng: Rng) {
  const order = rng.shuffle(fixtures.plans.map((_, i) => i));
  const measured = order.slice(0, Math.min(count, order.length));
  const applyUpdate = (index: number, n: number) => {
    const kind: UpdateKind = n % 2 === 0 ? 'add-http-rule' : 'change-selector';
    const plan = updatePlan(fixtures.plans[index]!, kind, rng, fixtures);
    const file = policyFileName(plan);
    const text = renderPolicyText(plan);
    const t0 = performance.now();
    const r = loadPolicyText(file, text);
    const t1 = performance.now();
    if (r.problems.length > 0 || r.policies.length !== 1) failOnProblems(file, text, r.problems);
    const policy = r.policies[0]!;
    const t2 = performance.now();
    const affected = repo.upsertPolicy(policy);
    for (const id of affected) repo.endpointPolicy(id);
    const t3 = performance.now();
    return { policy, engineMs: t3 - t2, parseMs: t1 - t0, affected: affected.length };
  };
  // The full resolves upserted policies into an empty Repository, so the per-endpoint part of an
  // update has never run: warm it on policies outside the measured set, as the full resolve's
  // first run warms that path. The very first update is reported on its own.
  const warmUpMs = order.slice(measured.length, measured.length + UPDATE_WARMUPS).map((index, n) => applyUpdate(index, n).engineMs);
  const engineMs: number[] = [];
  const withParseMs: number[] = [];
  const affected: number[] = [];
  const updated = new Map<number, Policy>();
  measured.forEach((index, n) => {
    const u = applyUpdate(index, n);
    engineMs.push(u.engineMs);
    withParseMs.push(u.parseMs + u.engineMs);
    affected.push(u.affected);
    updated.set(index, u.policy);
  });
  return { engineMs, withParseMs, affected, updated, warmUps: warmUpMs.length, firstMs: warmUpMs[0] ?? engineMs[0]! };
}

/** (2') the baseline: the same kind of one-policy change, applied by resolving everything afresh. */
function benchNaiveUpdate(policies: readonly Policy[], updated: ReadonlyMap<number, Policy>, fixtures: PolicyFixtures, samples: number, gc: Gc): number[] {
  const changes = [...updated.entries()];
  return Array.from({ length: samples }, (_, i) => {
    const [index, policy] = changes[i % changes.length]!;
    return timeFullResolve(policies.map((p, j) => (j === index ? policy : p)), fixtures, gc).totalMs;
  });
}

/** (4) traceFlow for one HTTP flow, given every policy and endpoint, as `meshd policy trace` runs it. */
function benchTrace(policies: Policy[], fixtures: PolicyFixtures, samples: number) {
  const flow = fixtures.sampleFlow;
  const traceOnce = () =>
    traceFlow({
      policies,
      endpoints: fixtures.endpoints,
      from: flow.from,
      to: flow.to,
      port: flow.port,
      protocol: flow.protocol,
      request: { type: 'http', method: flow.method, path: flow.path, headers: [] },
    });
  const result = traceOnce();
  return { result, ms: Array.from({ length: samples }, () => time(traceOnce)) };
}

/**
 * The same flow looked up in an already-resolved policy: what a trace costs once a Repository
 * exists (the L7 request is left to the proxy, so no regex runs here).
 */
function benchLookup(repo: Repository, flow: SampleFlow): number[] {
  const source = repo.getEndpoint(flow.from)!;
  const destination = repo.getEndpoint(flow.to)!;
  const ingress = repo.endpointPolicy(destination.id)!.ingress;
  const key = { remote: source.identityLabels, protocol: flow.protocol, port: flow.port, destinationNamedPorts: destination.namedPorts };
  return Array.from({ length: LOOKUP_ITERATIONS }, () => {
    const t0 = process.hrtime.bigint();
    lookupFlow(ingress, key, undefined, NO_L7);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  });
}

// ---- helpers ----------------------------------------------------------------------------------

const NO_L7: L7Evaluator = {
  http: () => false,
  kafka: () => false,
  dns: () => false,
};

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

interface Gc {
  how: string;
  collect(): void;
}

/** A full GC before each heap reading, so the delta is retained memory and not garbage. */
function findGc(): Gc {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return { how: 'available (node --expose-gc)', collect: () => exposed() };
  try {
    // Without the flag, V8 can still expose gc() to a new context when the flag is set late.
    setFlagsFromString('--expose-gc');
    const late = runInNewContext('gc') as unknown;
    if (typeof late === 'function') {
      const fn = late as () => void;
      return { how: 'available (enabled at run time with v8.setFlagsFromString; node --expose-gc was not given)', collect: () => fn() };
    }
  } catch {
    // fall through
  }
  return { how: 'NOT available: heap deltas include garbage (run node --expose-gc)', collect: () => {} };
}

/**
 * Heap retained by what `build` returns. The GC runs inside this frame, after the caller's
 * earlier values are gone, so a stale interpreter register cannot keep a previous result alive.
 */
function measureRetained<T>(gc: Gc, build: () => T): { value: T; retainedMb: number } {
  gc.collect();
  const before = process.memoryUsage().heapUsed;
  const value = build();
  gc.collect();
  return { value, retainedMb: (process.memoryUsage().heapUsed - before) / MB };
}

function describeSelection(resolved: EndpointPolicy[], policies: readonly Policy[]): string {
  const counts = new Map<PolicyRule, number>();
  for (const ep of resolved) {
    for (const rule of new Set([...ep.ingress.rules, ...ep.egress.rules])) counts.set(rule, (counts.get(rule) ?? 0) + 1);
  }
  const perPolicy = policies.map((p) => p.rules.reduce((n, r) => n + (counts.get(r) ?? 0), 0));
  const s: Summary = summarize(perPolicy);
  const none = perPolicy.filter((n) => n === 0).length;
  return `median ${s.median}, p99 ${s.p99}, max ${s.max}, ${none} select none`;
}

function countBy(values: string[]): string {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
}

function failOnProblems(file: string, text: string, problems: ReadonlyArray<{ code: string; message: string; position: { line: number; col: number } }>): never {
  console.error(`bench/policy: a generated policy does not load (a fixture or loader bug):`);
  for (const p of problems.slice(0, 10)) console.error(`  ${file}:${p.position.line}:${p.position.col}  ${p.code}  ${p.message}`);
  console.error(text);
  process.exit(1);
}

await main();
