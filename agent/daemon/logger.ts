// The agent's pino logger: JSON lines on stderr (one object per event, for journald and log
// shippers), or pino-pretty's human form when stderr is a terminal. Components log through child
// loggers (`component: 'xds'`), so one grep or jq filter follows one part of the agent.
import pino from 'pino';
import type { Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './options.js';

export type { Logger } from 'pino';

export interface AgentLoggerOptions {
  level: LogLevel;
  /** Default: pretty exactly when stderr is a TTY. */
  pretty?: boolean;
}

export function createAgentLogger(o: AgentLoggerOptions): Logger {
  const isPretty = o.pretty ?? process.stderr.isTTY === true;
  // Synchronous writes: a SIGTERM drain or a start failure must not lose its last lines.
  const destination = isPretty
    ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : pino.destination({ fd: 2, sync: true });
  return pino({ level: o.level, base: { pid: process.pid } }, destination);
}

/** The small logger shape the lower layers take (xds, proxylib, bpf): a child of the agent's. */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}
