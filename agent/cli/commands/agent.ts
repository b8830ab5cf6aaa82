// `meshd agent`: starts the Agent with the command line's options, prints one stdout line once
// everything is up (scripts and tests wait for it), and runs until SIGINT or SIGTERM; then drains
// and stops. Logs go to stderr (pino).
import { Agent, mergeConfigDir, readConfigDir, type AgentOptions, type LogLevel, type ProxyMode } from '../../daemon/index.js';
import { AGENT_SPECS } from '../specs/agent.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getList, getString, hasFlag } from '../parsed-args.js';

/** The command line with the --config-dir files added (the command line wins); throws MESHD_ERR_AGENT_INVALID_OPTION naming a bad file. */
export function withConfigDir(args: ParsedArgs): ParsedArgs {
  const dir = getString(args, 'config-dir');
  if (dir === undefined) return args;
  if (dir === '') throw new UsageError('--config-dir needs a value');
  const spec = AGENT_SPECS.find((c) => c.kind === 'command' && c.name === 'agent');
  const options = spec?.kind === 'command' ? spec.options : [];
  return { ...args, options: mergeConfigDir(args.options, readConfigDir(dir, options)) };
}

export function parseAgentOptions(commandLine: ParsedArgs): AgentOptions {
  const args = withConfigDir(commandLine);
  const o: AgentOptions = {};
  const str = (name: string): string | undefined => {
    const v = getString(args, name);
    if (v === '') throw new UsageError(`--${name} needs a value`);
    return v;
  };
  const int = (name: string): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number (got '${v}')`);
    return Number(v);
  };
  const stateDir = str('state-dir');
  if (stateDir !== undefined) o.stateDir = stateDir;
  const pinRoot = str('pin-root');
  if (pinRoot !== undefined) o.pinRoot = pinRoot;
  const prefix = str('node-prefix');
  if (prefix !== undefined) o.nodePrefix = prefix;
  const nodeName = str('node-name');
  if (nodeName !== undefined) o.nodeName = nodeName;
  const proxy = str('proxy');
  if (proxy !== undefined) o.proxy = proxy as ProxyMode;
  const base = int('proxy-port-base');
  if (base !== undefined) o.proxyPortBase = base;
  const metrics = str('metrics');
  if (metrics !== undefined) o.metrics = metrics;
  const policyDir = str('policy-dir');
  if (policyDir !== undefined) o.policyDir = policyDir;
  if (hasFlag(args, 'policy-audit-mode')) o.policyAuditMode = true;
  const delay = int('dns-response-max-delay');
  if (delay !== undefined) o.dnsResponseMaxDelayMs = delay;
  const level = str('log-level');
  if (level !== undefined) o.logLevel = level as LogLevel;
  if (hasFlag(args, 'k8s')) o.k8s = true;
  const k8sNodeName = str('k8s-node-name');
  if (k8sNodeName !== undefined) o.k8sNodeName = k8sNodeName;
  const kubeconfig = str('kubeconfig');
  if (kubeconfig !== undefined) o.kubeconfig = kubeconfig;
  const etcd = str('etcd');
  if (etcd !== undefined) o.etcd = etcd.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const etcdPrefix = str('etcd-prefix');
  if (etcdPrefix !== undefined) o.etcdPrefix = etcdPrefix;
  const ttl = int('etcd-lease-ttl');
  if (ttl !== undefined) o.etcdLeaseTtlSeconds = ttl;
  const nodeIp = str('node-ip');
  if (nodeIp !== undefined) o.nodeIp = nodeIp;
  const podCidr4 = str('pod-cidr4');
  if (podCidr4 !== undefined) o.podCidr4 = podCidr4;
  const podCidr6 = str('pod-cidr6');
  if (podCidr6 !== undefined) o.podCidr6 = podCidr6;
  // Repeatable, and comma-separated for --config-dir (one file holds one value).
  const ingressDevices = getList(args, 'ingress-device').flatMap((v) => v.split(',')).map((d) => d.trim());
  if (ingressDevices.some((d) => d === '')) throw new UsageError('--ingress-device needs a device name');
  if (ingressDevices.length > 0) o.ingressDevices = ingressDevices;
  return o;
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const options = parseAgentOptions(args);
  // A signal during start: remembered, and acted on once start has finished or failed.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((s: NodeJS.Signals) => void) | undefined;
  const handler = (s: NodeJS.Signals): void => {
    if (signalled !== undefined) {
      // A second signal while draining: the operator wants out now. The next agent recovers
      // everything from the state directory and the pinned maps.
      io.stderr(`meshd agent: ${s} again; exiting without finishing the drain\n`);
      process.exit(1);
    }
    signalled = s;
    onSignal?.(s);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    const agent = await Agent.start(options);
    const o = agent.options;
    const proxy = agent.services.proxy?.info();
    io.stdout(
      `meshd agent: ready; node ${o.nodeName}, api ${o.stateDir}/meshd.sock, xds ${agent.services.xds.socketPath} (version ${agent.services.xds.version})` +
        `${proxy ? `, ${proxy.mode} proxy pid ${proxy.pid}${proxy.adopted ? ' (adopted)' : ''}` : ''}` +
        `, ${agent.services.endpoints.list().length + (agent.services.k8s?.pods.list().length ?? 0)} endpoint(s), ${agent.services.policies.list().length} policy(ies)` +
        `${o.k8s ? `, kubernetes node ${o.k8s.nodeName}` : ''}` +
        `${agent.services.cluster ? `, cluster ${o.cluster!.endpoints.join(',')} prefix ${o.cluster!.prefix} (${agent.services.cluster.nodes.list().length} node(s))` : ''}\n`,
    );
    const got = signalled ?? (await new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve)));
    await agent.stop();
    io.stdout(`meshd agent: stopped (${got})\n`);
    return 0;
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
