// The agent's options: every one is a `meshd agent` flag (agent/cli/specs/agent.ts) and a field of
// Agent.start, with the same default. Tests isolate an agent with their own state dir, pin root,
// node prefix and port base (test/agent/agent-harness.ts).
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_PREFIX } from '../pods/index.js';
import { DEFAULT_STATE_DIR, defaultStateDir } from '../api/index.js';
import { AgentError } from './errors.js';
import { isDeviceName } from './tproxy-ingress.js';

export type ProxyMode = 'builtin' | 'envoy';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const AGENT_DEFAULTS = {
  stateDir: DEFAULT_STATE_DIR,
  pinRoot: '/sys/fs/bpf/meshd',
  nodePrefix: DEFAULT_PREFIX,
  proxy: 'builtin' as ProxyMode,
  proxyPortBase: 15001,
  metrics: '127.0.0.1:9962',
  dnsResponseMaxDelayMs: 100,
  logLevel: 'info' as LogLevel,
  /** How long the agent waits for the proxy's ACK of the first configuration. */
  proxyReadyTimeoutMs: 30_000,
  /** Changes closer together than this are reconciled once. */
  reconcileDebounceMs: 10,
  /** --k8s: how long start waits for the first list of every kind before it goes on without (the watcher keeps retrying). */
  k8sSyncTimeoutMs: 30_000,
  /** --etcd-prefix: root of every cluster key (clusters sharing one etcd use different prefixes). */
  etcdPrefix: 'meshd',
  /** --etcd-lease-ttl, seconds: how long a crashed node's pod IPs and identity references outlive it. */
  etcdLeaseTtlSeconds: 15,
} as const;

/** The highest offset of the proxy port plan (agent/xds-publish/proxy-ports.ts): base + 7. */
const PROXY_PORT_SPAN = 8;

export interface AgentOptions {
  /** Default $MESHD_STATE_DIR, else /var/lib/meshd. */
  stateDir?: string;
  pinRoot?: string;
  nodePrefix?: string;
  /** The xDS node id of the proxy; default os.hostname(). */
  nodeName?: string;
  proxy?: ProxyMode;
  proxyPortBase?: number;
  /** HOST:PORT of the Prometheus endpoint, or 'off'. */
  metrics?: string;
  /** Watched for policy files when given. */
  policyDir?: string;
  policyAuditMode?: boolean;
  dnsResponseMaxDelayMs?: number;
  logLevel?: LogLevel;
  /** Not a flag: a logger to use instead of making one (in-process tests). */
  logger?: import('pino').Logger;
  /** Not a flag: false starts no proxy process (in-process tests that run their own). Default true. */
  runProxy?: boolean;
  proxyReadyTimeoutMs?: number;
  reconcileDebounceMs?: number;
  /** Kubernetes mode: pods and policies come from the API server (agent/k8s); `pod run` is refused. */
  k8s?: boolean;
  /** The Kubernetes node whose pods are watched; default nodeName. */
  k8sNodeName?: string;
  /** A kubeconfig file; default the pod's service account (in-cluster). */
  kubeconfig?: string;
  /** Not a flag: how long start waits for the watcher's first sync (default 30 s). */
  k8sSyncTimeoutMs?: number;
  /** Cluster mode: etcd client URLs (http://host:2379); none = a single node. */
  etcd?: readonly string[];
  /** Root of the cluster's keys in etcd (default meshd). */
  etcdPrefix?: string;
  /** Node lease TTL in seconds (default 15). */
  etcdLeaseTtlSeconds?: number;
  /** Address other nodes route this node's pods to (cluster mode; default: none, no routes are made). */
  nodeIp?: string;
  /** This node's IPv4 / IPv6 pod ranges (default agent/pods' 10.244.0.0/24, fd44:244::/64). */
  podCidr4?: string;
  podCidr6?: string;
  /** Devices carrying traffic from other nodes (BPF TPROXY: ingress L7 for remote clients); default none. */
  ingressDevices?: readonly string[];
}

export interface ResolvedAgentOptions {
  stateDir: string;
  pinRoot: string;
  nodePrefix: string;
  nodeName: string;
  proxy: ProxyMode;
  proxyPortBase: number;
  /** undefined = off. */
  metrics: string | undefined;
  policyDir: string | undefined;
  policyAuditMode: boolean;
  dnsResponseMaxDelayMs: number;
  logLevel: LogLevel;
  runProxy: boolean;
  proxyReadyTimeoutMs: number;
  reconcileDebounceMs: number;
  /** undefined unless --k8s. */
  k8s: { nodeName: string; kubeconfig: string | undefined; syncTimeoutMs: number } | undefined;
  /** undefined unless --etcd. */
  cluster: { endpoints: string[]; prefix: string; leaseTtlSeconds: number } | undefined;
  /** undefined = not given (no routes to other nodes are installed; the node record carries ''). */
  nodeIp: string | undefined;
  /** undefined = agent/pods' default range. */
  podCidr4: string | undefined;
  podCidr6: string | undefined;
  /** --ingress-device, deduplicated, in order; [] = none (no tc program, no TPROXY routing). */
  ingressDevices: string[];
}

/** Fills in the defaults and checks every value; throws MESHD_ERR_AGENT_INVALID_OPTION. */
export function resolveAgentOptions(o: AgentOptions = {}): ResolvedAgentOptions {
  const bad = (message: string, hint?: string): never => {
    throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', message, hint === undefined ? {} : { hint });
  };
  const proxyPortBase = o.proxyPortBase ?? AGENT_DEFAULTS.proxyPortBase;
  if (!Number.isInteger(proxyPortBase) || proxyPortBase < 1 || proxyPortBase + PROXY_PORT_SPAN - 1 > 65535) {
    bad(`--proxy-port-base must be an integer from 1 to ${65536 - PROXY_PORT_SPAN} (the proxy uses ${PROXY_PORT_SPAN} ports from it), got ${proxyPortBase}`);
  }
  const proxy = o.proxy ?? AGENT_DEFAULTS.proxy;
  if (proxy !== 'builtin' && proxy !== 'envoy') bad(`--proxy must be builtin or envoy, got ${String(proxy)}`);
  const metricsText = o.metrics ?? AGENT_DEFAULTS.metrics;
  const metrics = metricsText === 'off' ? undefined : metricsText;
  if (metrics !== undefined && !isHostPort(metrics)) bad(`--metrics must be HOST:PORT or off, got '${metricsText}'`, 'e.g. --metrics 127.0.0.1:9962');
  const delay = o.dnsResponseMaxDelayMs ?? AGENT_DEFAULTS.dnsResponseMaxDelayMs;
  if (!Number.isFinite(delay) || delay < 0) bad(`--dns-response-max-delay must be a number of ms >= 0, got ${delay}`);
  const logLevel = o.logLevel ?? AGENT_DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) bad(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${String(logLevel)}`);
  const nodePrefix = o.nodePrefix ?? AGENT_DEFAULTS.nodePrefix;
  // Netns names are prefix + pod name (63 characters at most): keep most of that for the names.
  if (!/^[a-z0-9][a-z0-9-]{0,23}$/.test(nodePrefix)) bad(`--node-prefix must be 1 to 24 lower-case letters, digits or '-', not starting with '-'; got '${nodePrefix}'`);
  const nodeName = o.nodeName ?? hostname();
  if (nodeName === '' || /\s/.test(nodeName)) bad(`--node-name must be a non-empty id without spaces, got '${nodeName}'`);
  if (!o.k8s && (o.k8sNodeName !== undefined || o.kubeconfig !== undefined)) {
    bad(`--${o.k8sNodeName !== undefined ? 'k8s-node-name' : 'kubeconfig'} only applies in Kubernetes mode`, 'add --k8s');
  }
  const k8sNodeName = o.k8sNodeName ?? nodeName;
  if (k8sNodeName === '' || /[\s,=]/.test(k8sNodeName)) bad(`--k8s-node-name must be a Kubernetes node name, got '${k8sNodeName}'`);
  const k8sSyncTimeoutMs = o.k8sSyncTimeoutMs ?? AGENT_DEFAULTS.k8sSyncTimeoutMs;
  if (!Number.isFinite(k8sSyncTimeoutMs) || k8sSyncTimeoutMs < 0) bad(`the Kubernetes sync timeout must be a number of ms >= 0, got ${k8sSyncTimeoutMs}`);
  const cluster = resolveClusterOptions(o, bad);
  if (o.nodeIp !== undefined && isIP(o.nodeIp) === 0) bad(`--node-ip must be an IPv4 or IPv6 address, got '${o.nodeIp}'`);
  if (o.podCidr4 !== undefined && !isCidr(o.podCidr4, 4)) bad(`--pod-cidr4 must be an IPv4 CIDR (e.g. 10.244.1.0/24), got '${o.podCidr4}'`);
  if (o.podCidr6 !== undefined && !isCidr(o.podCidr6, 6)) bad(`--pod-cidr6 must be an IPv6 CIDR (e.g. fd44:244:0:1::/64), got '${o.podCidr6}'`);
  for (const d of o.ingressDevices ?? []) if (!isDeviceName(d)) bad(`--ingress-device must be a network device name (1 to 15 characters, no '/', ':' or spaces), got '${d}'`, 'e.g. --ingress-device eth0');
  return {
    stateDir: resolve(o.stateDir ?? defaultStateDir()),
    pinRoot: resolve(o.pinRoot ?? AGENT_DEFAULTS.pinRoot),
    nodePrefix,
    nodeName,
    proxy,
    proxyPortBase,
    metrics,
    policyDir: o.policyDir === undefined ? undefined : resolve(o.policyDir),
    policyAuditMode: o.policyAuditMode ?? false,
    dnsResponseMaxDelayMs: delay,
    logLevel,
    runProxy: o.runProxy ?? true,
    proxyReadyTimeoutMs: o.proxyReadyTimeoutMs ?? AGENT_DEFAULTS.proxyReadyTimeoutMs,
    reconcileDebounceMs: o.reconcileDebounceMs ?? AGENT_DEFAULTS.reconcileDebounceMs,
    k8s: o.k8s ? { nodeName: k8sNodeName, kubeconfig: o.kubeconfig === undefined ? undefined : resolve(o.kubeconfig), syncTimeoutMs: k8sSyncTimeoutMs } : undefined,
    cluster,
    nodeIp: o.nodeIp,
    podCidr4: o.podCidr4,
    podCidr6: o.podCidr6,
    ingressDevices: [...new Set(o.ingressDevices ?? [])],
  };
}

function resolveClusterOptions(o: AgentOptions, bad: (message: string, hint?: string) => never): ResolvedAgentOptions['cluster'] {
  if (o.etcd === undefined || o.etcd.length === 0) {
    if (o.etcdPrefix !== undefined || o.etcdLeaseTtlSeconds !== undefined) bad(`--${o.etcdPrefix !== undefined ? 'etcd-prefix' : 'etcd-lease-ttl'} only applies in cluster mode`, 'add --etcd URL');
    return undefined;
  }
  for (const url of o.etcd) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
      bad(`--etcd takes http(s)://HOST:PORT URLs separated by commas, got '${url}'`, 'e.g. --etcd http://10.0.0.5:2379,http://10.0.0.6:2379');
    }
  }
  const prefix = o.etcdPrefix ?? AGENT_DEFAULTS.etcdPrefix;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(prefix)) bad(`--etcd-prefix must be 1 to 64 letters, digits, '.', '_' or '-', got '${prefix}'`);
  const ttl = o.etcdLeaseTtlSeconds ?? AGENT_DEFAULTS.etcdLeaseTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600) bad(`--etcd-lease-ttl must be a whole number of seconds from 2 to 3600, got ${ttl}`);
  return { endpoints: [...o.etcd], prefix, leaseTtlSeconds: ttl };
}

function isCidr(text: string, family: 4 | 6): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m || isIP(m[1]!) !== family) return false;
  return Number(m[2]) <= (family === 4 ? 32 : 128);
}

function isHostPort(text: string): boolean {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) return false;
  const host = m[1] ?? m[2]!;
  return m[1] === undefined || isIP(host) === 6;
}
