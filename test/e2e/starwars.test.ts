// The Star Wars scenario of `make demo` as a test, on a real agent through the real CLI (root,
// BPF): every row of every stage gets its intended verdict from its intended layer and policy;
// an agent restart (SIGTERM, start again) in the middle of a request loop loses no request; and a
// policy change mid-traffic denies a new kind of request while an open allowed connection keeps
// working. Everything is torn down with `meshd teardown` even when a test fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoAppScript } from '../fixtures/demo-apps/index.js';
import { DEMO_ROWS, StarWarsWorld, renderProblems, renderTable, type RowResult } from './index.js';

const START_TIMEOUT_MS = 120_000;
const STAGE_TIMEOUT_MS = 120_000;
const LOOP_COUNT = 200;
const LOOP_INTERVAL_MS = 40;

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite needs root: it creates network namespaces, cgroups and BPF programs');
}

async function waitFor<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

function progressOf(file: string): number {
  try {
    return Number(readFileSync(`${file}.progress`, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

function jsonFile<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

interface LoopResult {
  total: number;
  ok: number;
  failed: number;
  failures: Array<{ i: number; error: string; kind?: string }>;
}

describe('the Star Wars demo scenario on a real agent', () => {
  let w: StarWarsWorld;

  const assertRows = (results: RowResult[]): void => {
    const bad = results.filter((r) => !r.ok);
    assert.equal(
      bad.length,
      0,
      `${bad.length} of ${results.length} requests not as intended:\n${renderProblems(results)}\n\n${renderTable(results, w.pods)}\n\nagent log:\n${w.agent.logTail(40)}`,
    );
  };

  before(async () => {
    requireRoot();
    w = await StarWarsWorld.start({ onWorld: (world) => (w = world) });
  }, { timeout: START_TIMEOUT_MS });

  after(async () => {
    if (!w) return;
    const problems = await w.close();
    assert.deepEqual(problems, [], 'meshd teardown and the scenario cleanup succeed');
    w.removeWorkDir();
  }, { timeout: 90_000 });

  test('stage 1, L3/L4: the tiefighter reaches the deathstar (even its exhaust port), the xwing is dropped by the kernel', { timeout: STAGE_TIMEOUT_MS }, async () => {
    await w.applyStage('l3l4');
    assertRows(await w.runRows(DEMO_ROWS.filter((r) => r.stage === 'l3l4')));
  });

  test('stage 2, L7: HTTP, gRPC, Kafka and DNS requests get their verdicts from the proxy, toFQDNs and the xwing from the kernel', { timeout: STAGE_TIMEOUT_MS }, async () => {
    await w.applyStage('l7');
    assertRows(await w.runRows(DEMO_ROWS.filter((r) => r.stage === 'l7')));
  });

  test('an agent restart in the middle of a request loop loses no request, on a keep-alive connection or on new ones', { timeout: 180_000 }, async () => {
    const out = join(w.workDir, 'request-loop.json');
    const url = `http://${w.pod('deathstar').ipv4}/v1/request-landing`;
    // Its own pod with the tiefighter's labels (the same identity), started by the agent and
    // detached from it: the loop outlives the agent it was started by, as a real workload does.
    await w.runPod({
      namespace: 'empire',
      name: 'tiefighter-loop',
      labels: { org: 'empire', class: 'tiefighter' },
      command: [process.execPath, demoAppScript('request-loop'), '--url', url, '--out', out, '--count', String(LOOP_COUNT), '--interval-ms', String(LOOP_INTERVAL_MS)],
    });
    await waitFor('the loop sends its first 40 requests', 30_000, () => (progressOf(out) >= 40 ? true : undefined));
    const doneAtStop = progressOf(out);
    await w.agent.restart();
    const doneAtRestart = progressOf(out);
    const result = await waitFor('the request loop ends', 60_000, () => jsonFile<LoopResult>(out));
    // Requests ran while the agent was away (between SIGTERM and the restarted agent's answer).
    assert.ok(doneAtStop < LOOP_COUNT && doneAtRestart > doneAtStop, `the restart happened while the loop ran (requests done at SIGTERM ${doneAtStop}, when the agent answered again ${doneAtRestart})`);
    assert.deepEqual(
      { total: result.total, ok: result.ok, failed: result.failed },
      { total: LOOP_COUNT, ok: LOOP_COUNT, failed: 0 },
      `no request lost across the restart (requests ${doneAtStop}–${doneAtRestart} ran while the agent restarted); failures: ${JSON.stringify(result.failures)}\nagent log:\n${w.agent.logTail(40)}`,
    );
    await w.removePod('tiefighter-loop');
    // The restarted agent still enforces: the stage 2 verdicts are unchanged.
    assertRows(await w.runRows(DEMO_ROWS.filter((r) => r.stage === 'l7' && r.destinationPort === 80)));
  });

  test('a policy change mid-traffic denies a new kind of request while an open allowed connection keeps working', { timeout: STAGE_TIMEOUT_MS }, async () => {
    const out = join(w.workDir, 'hold.json');
    const stop = join(w.workDir, 'hold.stop');
    await w.runPod({
      namespace: 'empire',
      name: 'tiefighter-hold',
      labels: { org: 'empire', class: 'tiefighter' },
      command: [process.execPath, demoAppScript('hold-connection'), '--url', `http://${w.pod('deathstar').ipv4}/v1/request-landing`, '--out', out, '--stop', stop, '--interval-ms', '100', '--max-seconds', '90'],
    });
    await waitFor('the held connection carries its first requests', 30_000, () => (progressOf(out) >= 5 ? true : undefined));
    await w.applyStage('lockdown');
    const atApply = progressOf(out);
    const results = await w.runRows(DEMO_ROWS.filter((r) => r.stage === 'lockdown'));
    await waitFor('the held connection carries 10 more requests after the change', 30_000, () => (progressOf(out) >= atApply + 10 ? true : undefined));
    writeFileSync(stop, '');
    const held = await waitFor('the holder ends', 15_000, () => jsonFile<LoopResult & { localPorts: number[] }>(out));
    assertRows(results);
    assert.equal(held.failed, 0, `every request on the held connection succeeded: ${JSON.stringify(held.failures)}`);
    assert.equal(held.localPorts.length, 1, `all requests used one connection (local ports ${held.localPorts.join(', ')})`);
    await w.removePod('tiefighter-hold');
  });
});
