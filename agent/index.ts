// Public entry of the agent layer: the `meshd` command line, the daemon (`meshd agent`) and its
// parts — pods and endpoints, the policy store, toFQDNs learning, xDS publication, the proxy
// supervisor, flows, metrics, the local API and what the inspect commands read.

export { main } from './cli/main.js';
export { captureIo } from './cli/cli-io.js';
export type { CliIo, CapturedIo } from './cli/cli-io.js';
export * from './pods/index.js';
export * from './fqdn/index.js';
export * from './api/index.js';
export * from './daemon/index.js';
export * from './xds-publish/index.js';
export * from './proxy-supervisor/index.js';
export * from './endpoints/index.js';
export * from './policy-store/index.js';
export * from './flows/index.js';
export * from './metrics/index.js';
export * from './proxy-link/index.js';
export * from './inspect/index.js';
export * from './k8s/index.js';
// The command table, for checks that the manifests and docs only use flags that exist.
export { COMMANDS } from './cli/commands.js';
export type { CommandGroup, CommandNode, CommandSpec, OptionSpec } from './cli/command-spec.js';
export * from './cluster/index.js';
