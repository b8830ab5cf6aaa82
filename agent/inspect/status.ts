// `meshd status`: what the agent is and how each of its components is doing, in one answer.
import type { FlowStoreStats } from '../flows/index.js';
import type { ProxyInfo } from '../proxy-supervisor/index.js';
import type { XdsPublisherStatus } from '../xds-publish/index.js';
import type { ClusterStatus } from '../daemon/index.js';
import type { MapStat } from './map-stats.js';
import { formatDuration, percent, renderTable } from './table.js';

export type Health = 'ok' | 'degraded' | 'down' | 'off';

export interface StatusSources {
  version: string;
  pid: number;
  startedAt: Date;
  options: { stateDir: string; pinRoot: string; nodeName: string; nodePrefix: string; proxy: string; policyAuditMode: boolean; metrics?: string | undefined };
  mapStats(): MapStat[];
  /** The node proxy, and in envoy mode the built-in helper; empty when the agent runs none. */
  proxies(): ProxyInfo[];
  xds(): XdsPublisherStatus;
  endpoints(): ReadonlyArray<{ state: 'running' | 'exited' }>;
  policies(): ReadonlyArray<{ auditMode: boolean }>;
  identities(): number;
  fqdn(): { names: number; ips: number; zombies: number };
  flows(): FlowStoreStats;
  reconciler?(): { runs: number; failures: number; lastError: string | undefined; lastRunAt: Date | undefined };
  /** Cluster mode (`--etcd`): the agent's view of etcd; undefined on a single node. */
  cluster?(): ClusterStatus | undefined;
}

export interface ComponentStatus {
  name: string;
  health: Health;
  /** One line for the text table. */
  summary: string;
}

export interface AgentStatus {
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  node: string;
  nodePrefix: string;
  stateDir: string;
  pinRoot: string;
  /** ok when every component is ok (or off). */
  health: Health;
  components: ComponentStatus[];
  datapath: { maps: MapStat[] };
  proxies: Array<ProxyInfo & { ackedVersion?: string; snapshotVersion?: string; inSync: boolean; connected: boolean }>;
  xds: { socket: string; version: number; clients: number; lastPushAt?: string; nacks: number };
  endpoints: { total: number; running: number };
  policies: { total: number; audit: number };
  identities: number;
  fqdn: { names: number; ips: number; zombies: number };
  flows: FlowStoreStats;
  reconciler?: { runs: number; failures: number; lastError?: string; lastRunAt?: string };
}

/** A map this full counts as degraded: new entries may soon fail. */
const MAP_FULL_RATIO = 0.9;

export function agentStatus(s: StatusSources, now = new Date()): AgentStatus {
  const maps = s.mapStats();
  const xds = s.xds();
  const proxies = s.proxies().map((p) => {
    const x = xds.proxies.find((q) => q.nodeId === p.nodeId);
    const acked = x ? commonAckedVersion(x.types) : undefined;
    return {
      ...p,
      ...(acked !== undefined ? { ackedVersion: acked } : {}),
      ...(x?.snapshotVersion !== undefined ? { snapshotVersion: x.snapshotVersion } : {}),
      inSync: x?.inSync ?? false,
      connected: x?.connected ?? false,
    };
  });
  const endpoints = s.endpoints();
  const policies = s.policies();
  const fqdn = s.fqdn();
  const flows = s.flows();
  const reconciler = s.reconciler?.();
  const xdsNacks = xds.proxies.reduce((n, p) => n + p.nacks, 0);
  const clients = xds.proxies.reduce((n, p) => n + p.streams.length, 0);

  const components: ComponentStatus[] = [];
  const missingMaps = maps.filter((m) => m.error !== undefined);
  const fullMaps = maps.filter((m) => m.entries !== null && m.maxEntries !== undefined && m.entries >= MAP_FULL_RATIO * m.maxEntries);
  const counted = maps.filter((m) => m.entries !== null && m.maxEntries !== undefined);
  components.push({
    name: 'datapath',
    health: missingMaps.length > 0 || fullMaps.length > 0 ? 'degraded' : 'ok',
    summary:
      missingMaps.length > 0
        ? `maps not readable: ${missingMaps.map((m) => `${m.name} (${m.error})`).join(', ')}`
        : `${maps.length} maps pinned; ` + counted.map((m) => `${shortMapName(m.name)} ${m.entries}/${m.maxEntries}`).join(', ') + (fullMaps.length > 0 ? ` — nearly full: ${fullMaps.map((m) => m.name).join(', ')}` : ''),
  });
  if (proxies.length === 0) {
    components.push({ name: 'proxy', health: 'off', summary: 'the agent runs no proxy' });
  }
  for (const p of proxies) {
    const health: Health = !p.alive ? 'down' : p.connected && p.inSync ? 'ok' : 'degraded';
    const state = !p.alive ? 'not running' : !p.connected ? 'running, not connected to xDS' : p.inSync ? 'in sync' : 'syncing';
    components.push({
      name: p.nodeId.endsWith('-builtin') && p.mode === 'builtin' && proxies.length > 1 ? 'proxy (builtin helper)' : `proxy (${p.mode})`,
      health,
      summary: `pid ${p.pid ?? '-'} ${state}; ACKed version ${p.ackedVersion ?? '-'} of ${p.snapshotVersion ?? '-'}${p.adopted ? '; adopted' : ''}${p.restarts > 0 ? `; restarted ${p.restarts}x` : ''}`,
    });
  }
  components.push({
    name: 'xds',
    health: 'ok',
    summary: `version ${xds.version}, ${clients} client${clients === 1 ? '' : 's'}, ${xdsNacks} NACK${xdsNacks === 1 ? '' : 's'}; ${xds.socket}`,
  });
  const running = endpoints.filter((e) => e.state === 'running').length;
  components.push({ name: 'endpoints', health: 'ok', summary: `${endpoints.length} (${running} running)` });
  const audit = policies.filter((p) => p.auditMode).length;
  components.push({ name: 'policies', health: 'ok', summary: `${policies.length}${audit > 0 ? ` (${audit} in audit mode)` : ''}${s.options.policyAuditMode ? '; agent-wide audit mode ON' : ''}` });
  components.push({ name: 'identities', health: 'ok', summary: String(s.identities()) });
  components.push({ name: 'fqdn', health: 'ok', summary: `${fqdn.names} names, ${fqdn.ips} IPs${fqdn.zombies > 0 ? `, ${fqdn.zombies} expired kept for open flows` : ''}` });
  components.push({ name: 'flows', health: 'ok', summary: `${flows.stored}/${flows.capacity} (${percent(flows.stored, flows.capacity)}), ${flows.added} seen, ${flows.followers} following` });
  if (reconciler) {
    components.push({
      name: 'reconciler',
      // lastError is the error of the last run while it failed (the reconciler clears it on success).
      health: reconciler.lastError !== undefined ? 'degraded' : 'ok',
      summary: `${reconciler.runs} runs, ${reconciler.failures} failed${reconciler.lastError ? `; last error: ${reconciler.lastError}` : ''}`,
    });
  }
  const cluster = s.cluster?.();
  if (cluster) {
    components.push({
      name: 'cluster',
      // Disconnected from etcd the node keeps enforcing what it has, but learns nothing new.
      health: cluster.connected ? 'ok' : 'degraded',
      summary: `etcd ${cluster.etcd.join(',')} prefix ${cluster.prefix}${cluster.connected ? '' : ' (disconnected)'}: ${cluster.nodes.length} nodes, revision ${cluster.revision}, ${cluster.identities} identities, ${cluster.remotePods} remote pods`,
    });
  }
  const health: Health = components.some((c) => c.health === 'down' || c.health === 'degraded') ? 'degraded' : 'ok';

  return {
    version: s.version,
    pid: s.pid,
    startedAt: s.startedAt.toISOString(),
    uptimeSeconds: Math.max(0, Math.round((now.getTime() - s.startedAt.getTime()) / 1000)),
    node: s.options.nodeName,
    nodePrefix: s.options.nodePrefix,
    stateDir: s.options.stateDir,
    pinRoot: s.options.pinRoot,
    health,
    components,
    datapath: { maps },
    proxies,
    xds: { socket: xds.socket, version: xds.version, clients, ...(xds.lastPushAt ? { lastPushAt: xds.lastPushAt } : {}), nacks: xdsNacks },
    endpoints: { total: endpoints.length, running },
    policies: { total: policies.length, audit },
    identities: s.identities(),
    fqdn,
    flows,
    ...(reconciler
      ? {
          reconciler: {
            runs: reconciler.runs,
            failures: reconciler.failures,
            ...(reconciler.lastError !== undefined ? { lastError: reconciler.lastError } : {}),
            ...(reconciler.lastRunAt ? { lastRunAt: reconciler.lastRunAt.toISOString() } : {}),
          },
        }
      : {}),
  };
}

/** The version every resource type of the proxy ACKed; undefined when they differ or none did. */
function commonAckedVersion(types: ReadonlyArray<{ ackedVersion?: string }>): string | undefined {
  const versions = new Set(types.map((t) => t.ackedVersion));
  if (versions.size !== 1) return undefined;
  return [...versions][0];
}

function shortMapName(name: string): string {
  return name.replace(/^meshd_/, '').replace(/_v\d+$/, '');
}

export function renderStatus(s: AgentStatus): string {
  const head = [
    `meshd agent ${s.version}  pid ${s.pid}  up ${formatDuration(s.uptimeSeconds)} (since ${s.startedAt})`,
    `node ${s.node} (prefix ${s.nodePrefix})  state ${s.stateDir}  pins ${s.pinRoot}`,
    `health: ${s.health}`,
    '',
  ].join('\n');
  return head + '\n' + renderTable(['COMPONENT', 'HEALTH', 'DETAILS'], s.components.map((c) => [c.name, c.health, c.summary]));
}
