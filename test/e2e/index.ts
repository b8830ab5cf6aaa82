// The Star Wars scenario shared by `make demo` (demo-main.ts) and the e2e test (starwars.test.ts).
export { StarWarsWorld, demoPods, proxiesInSync, type PodSpec, type RunningPod, type WorldOptions } from './starwars.js';
export { DEMO_ROWS, LIVE_POLICIES, STAGES, type DemoRow, type RowResult, type Stage } from './rows.js';
export type { Attempt, ScenarioPods } from './clients.js';
export { DemoAgent, freeProxyPortBase, type DemoAgentOptions } from './demo-agent.js';
export { decidingFlow, flowsOf, shortPolicy, type Decision, type ObservedFlow } from './flows.js';
export { meshd, meshdOk, describeCli, parseJsonOutput, type CliResult } from './meshd-cli.js';
export { renderTable, renderProblems } from './table.js';
