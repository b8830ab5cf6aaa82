// Public entry of agent/metrics: the agent's Prometheus registry and its /metrics endpoint.
export { AgentMetrics, MetricsServer, isLoopback, parseMetricsAddress } from './agent-metrics.js';
export type { BpfMapEntriesSource } from './agent-metrics.js';
export { METRICS_ERROR_CODES, MetricsError } from './errors.js';
export type { MetricsErrorCode } from './errors.js';
