// `make demo`: the Star Wars scenario on a real agent, printed as a table, then the last flows and
// the service map; everything is torn down at the end, on failure and on Ctrl-C. Only this file
// prints. Exit status 0 when every request got its intended verdict from its intended layer.
// Run: node dist/test/e2e/demo-main.js (scripts/demo.sh does, after `make build`).
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DEMO_ROWS, STAGES, StarWarsWorld, describeCli, meshd, renderProblems, renderTable, type RowResult, type Stage } from './index.js';

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

let world: StarWarsWorld | undefined;
let closing: Promise<void> | undefined;

async function closeWorld(keepWorkDir: boolean): Promise<void> {
  const w = world;
  if (!w) return;
  out(`== meshd teardown (${elapsed()})`);
  const problems = await w.close();
  for (const p of problems) out(p);
  if (keepWorkDir || problems.length) out(`state and logs kept in ${w.workDir}`);
  else w.removeWorkDir();
  world = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  out(`\n${signal}: tearing down`);
  closing ??= closeWorld(true);
  void closing.finally(() => process.exit(130));
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    out('make demo needs root: it creates network namespaces, cgroups and BPF programs (run it with sudo)');
    return 1;
  }
  out('== meshd demo: the Death Star, a tie fighter and an X-wing, with a Kafka broker and a DNS resolver');
  world = await StarWarsWorld.start({ progress: (l) => out(`   ${l}`), onWorld: (w) => (world = w) });
  const w = world;
  const results: RowResult[] = [];
  for (const stage of Object.keys(STAGES) as Stage[]) {
    out(`== stage ${stage}: meshd policy apply -f ${STAGES[stage].replace(/^.*\/docs\//, 'docs/')} (${elapsed()})`);
    await w.applyStage(stage);
    results.push(...(await w.runRows(DEMO_ROWS.filter((r) => r.stage === stage))));
  }
  out();
  out(renderTable(results, w.pods));
  const bad = results.filter((r) => !r.ok);
  out(`\n${results.length} requests, ${results.length - bad.length} as intended (${elapsed()})`);
  if (bad.length) out(`\nNot as intended:\n${renderProblems(results)}`);

  out('\n== meshd observe --last 20');
  const last = await meshd(w.stateDir, ['observe', '--last', '20']);
  out(last.code === 0 ? last.stdout.trimEnd() : describeCli(last));

  const svg = join(tmpdir(), `meshd-demo-service-map-${process.pid}.svg`);
  out('\n== meshd observe --service-map');
  const map = await meshd(w.stateDir, ['observe', '--service-map', svg]);
  out(map.code === 0 ? `service map written to ${svg}` : describeCli(map));

  const ok = bad.length === 0 && last.code === 0 && map.code === 0;
  if (!ok) out(`\n== agent log (last lines of ${w.agent.options.logFile})\n${w.agent.logTail(40)}`);
  closing ??= closeWorld(!ok);
  await closing;
  out(`== done in ${elapsed()}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    out(`\ndemo failed: ${message}`);
    // Errors of the agent's start already carry the log's tail.
    if (world && !message.includes('its log:')) out(`\n== agent log (last lines of ${world.agent.options.logFile})\n${world.agent.logTail(40)}`);
    closing ??= closeWorld(true);
    await closing;
    process.exit(1);
  },
);
