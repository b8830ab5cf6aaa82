// Public entry of agent/proxy-supervisor: the node proxy as a separate, adopted process.
export { ProxySupervisor, stopProcess, findEnvoy, writeEnvoyBootstrap } from './proxy-supervisor.js';
export type { ProxySupervisorOptions, ProxyInfo } from './proxy-supervisor.js';
export { proxyRecordPath, proxyLogPath, readProxyRecord, isRecordedProcessAlive } from './process-record.js';
export type { ProxyProcessRecord } from './process-record.js';
