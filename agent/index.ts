// Public entry of the agent layer. For now the layer is the `meshd` command line; the daemon
// (endpoints, flows, metrics) joins it here.

export { main } from './cli/main.js';
export type { CliIo } from './cli/cli-io.js';
export * from './pods/index.js';
export * from './fqdn/index.js';
