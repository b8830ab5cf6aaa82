// proxy.json: which process is the node proxy. A pid alone is not enough to adopt a process after
// an agent restart (pids are reused), so the record carries the process start time from
// /proc/<pid>/stat (clock ticks since boot); pid + start time name one process for the life of
// the machine.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonState, writeJsonAtomic } from '../daemon/state-file.js';
import type { AgentError } from '../daemon/errors.js';

export interface ProxyProcessRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat. */
  startTime: number;
  mode: 'builtin' | 'envoy';
  nodeId: string;
  command: string[];
  startedAt: string;
}

/** proxy.json, or proxy-<role>.json for a second proxy process (envoy mode's built-in helper). */
export function proxyRecordPath(stateDir: string, role = ''): string {
  return join(stateDir, role === '' ? 'proxy.json' : `proxy-${role}.json`);
}

export function proxyLogPath(stateDir: string, role = ''): string {
  return join(stateDir, role === '' ? 'proxy.log' : `proxy-${role}.log`);
}

/** Start time of a live process, undefined when there is none with that pid. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19]. A zombie has exited already.
  if (rest[0] === 'Z') return undefined;
  const ticks = Number(rest[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** Whether the record's process still runs (same pid AND same start time). */
export function isRecordedProcessAlive(record: Pick<ProxyProcessRecord, 'pid' | 'startTime'>): boolean {
  return processStartTime(record.pid) === record.startTime;
}

export function readProxyRecord(path: string, onWarning?: (w: AgentError) => void): ProxyProcessRecord | undefined {
  const read = readJsonState(path, decodeRecord);
  if (read.warning) onWarning?.(read.warning);
  return read.value;
}

export function writeProxyRecord(path: string, record: ProxyProcessRecord): void {
  writeJsonAtomic(path, record);
}

export function removeProxyRecord(path: string): void {
  rmSync(path, { force: true });
}

function decodeRecord(raw: unknown): ProxyProcessRecord {
  if (typeof raw !== 'object' || raw === null) throw new Error('not an object');
  const r = raw as Record<string, unknown>;
  const int = (k: string): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${k} is not a non-negative integer`);
    return v;
  };
  const mode = r['mode'] ?? 'builtin';
  if (mode !== 'builtin' && mode !== 'envoy') throw new Error('mode is not builtin or envoy');
  const command = r['command'] ?? [];
  if (!Array.isArray(command) || command.some((c) => typeof c !== 'string')) throw new Error('command is not a list of strings');
  return {
    pid: int('pid'),
    startTime: int('startTime'),
    mode,
    nodeId: typeof r['nodeId'] === 'string' ? r['nodeId'] : '',
    command: command as string[],
    startedAt: typeof r['startedAt'] === 'string' ? r['startedAt'] : '',
  };
}
