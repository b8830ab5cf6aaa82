// Public entry of agent/daemon: the `meshd agent` process (start, stop, options, logging, the
// state-directory lock) and the reconciler that carries changes to kernel and proxy.
export { Agent, removeRuntimeFiles } from './agent.js';
export type { AgentServices } from './agent.js';
export { AGENT_DEFAULTS, LOG_LEVELS, resolveAgentOptions } from './options.js';
export type { AgentOptions, ResolvedAgentOptions, ProxyMode, LogLevel } from './options.js';
export { AGENT_ERROR_CODES, AgentError } from './errors.js';
export type { AgentErrorCode } from './errors.js';
export { acquireStateDirLock, lockHolder, isProcessAlive, LOCK_FILE } from './lock.js';
export type { StateDirLock } from './lock.js';
export { createAgentLogger, componentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { Reconciler } from './reconciler.js';
export type { ReconcileScope, ReconcilerStats } from './reconciler.js';
export { agentInfo, coreRoutes } from './core-routes.js';
export type { AgentInfo } from './core-routes.js';
export { readJsonState, writeJsonAtomic } from './state-file.js';
export { teardown, assertTornDown, unpinDatapath } from './teardown.js';
export type { TeardownOptions, TeardownReport } from './teardown.js';
export { readConfigDir, mergeConfigDir } from './config-dir.js';
export type { ConfigDirOption, ConfigDirEntry } from './config-dir.js';
export { clusterStatus, isClusterIdentity, CLUSTER_RECORD_FILE } from './cluster-link.js';
export type { ClusterStatus, ClusterRecord } from './cluster-link.js';
