// `meshd agent`: starts the Agent with the command line's options, prints one stdout line once
// everything is up (scripts and tests wait for it), and runs until SIGINT or SIGTERM; then drains
// and stops. Logs go to stderr (pino).
import { Agent, type AgentOptions, type LogLevel, type ProxyMode } from '../../daemon/index.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getString, hasFlag } from '../parsed-args.js';

export function parseAgentOptions(args: ParsedArgs): AgentOptions {
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
        `, ${agent.services.endpoints.list().length} endpoint(s), ${agent.services.policies.list().length} policy(ies)\n`,
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
