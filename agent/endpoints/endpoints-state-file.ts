// endpoints.json in the state directory: every pod the agent runs, with what a restarted agent
// needs to re-adopt it (netns, cgroup, addresses, endpoint id, identity, the command's pid and
// start time) and the counter of endpoint ids. Written atomically (tmp + rename).
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EndpointError } from './errors.js';

export const ENDPOINTS_STATE_FILE = 'endpoints.json';
const FORMAT_VERSION = 1;

export interface StoredEndpoint {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  endpointId: number;
  identity: number;
  ipv4: string;
  ipv6: string;
  /** The pod's name in agent/pods (without the node prefix). */
  podName: string;
  netns: string;
  cgroupPath: string;
  command: string[];
  env: Record<string, string>;
  pid: number | undefined;
  /** /proc/<pid>/stat start time: tells the command from a later process with the same pid. */
  pidStartTime: string | undefined;
  createdAt: string;
  logFile: string;
}

export interface EndpointsState {
  /** The next endpoint id to try (ids count up and skip those in use). */
  nextEndpointId: number;
  endpoints: StoredEndpoint[];
}

export function endpointsStatePath(stateDir: string): string {
  return join(stateDir, ENDPOINTS_STATE_FILE);
}

/** undefined when there is no file; a corrupt file throws MESHD_ERR_ENDPOINT_STATE_CORRUPT. */
export async function loadEndpointsState(stateDir: string): Promise<EndpointsState | undefined> {
  const path = endpointsStatePath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EndpointError('MESHD_ERR_ENDPOINT_STATE_CORRUPT', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return decodeEndpointsState(JSON.parse(text));
  } catch (err) {
    throw new EndpointError('MESHD_ERR_ENDPOINT_STATE_CORRUPT', `${path} is not a valid endpoints file: ${(err as Error).message}`, {
      hint: 'the agent moves it aside and starts without endpoints; pods it listed are left running — remove them with `meshd teardown` or by hand',
      cause: err,
    });
  }
}

let tempCounter = 0;

export async function saveEndpointsState(stateDir: string, state: EndpointsState): Promise<void> {
  const path = endpointsStatePath(stateDir);
  const temp = `${path}.tmp-${process.pid}-${++tempCounter}`;
  try {
    await mkdir(stateDir, { recursive: true });
    await writeFile(temp, `${JSON.stringify({ version: FORMAT_VERSION, ...state }, null, 1)}\n`);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new EndpointError('MESHD_ERR_ENDPOINT_STATE_WRITE', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Moves a corrupt file aside (kept for a human to look at); returns the new name. */
export async function moveAsideEndpointsState(stateDir: string): Promise<string> {
  const path = endpointsStatePath(stateDir);
  const aside = `${path}.corrupt-${Date.now()}`;
  await rename(path, aside);
  return aside;
}

export function decodeEndpointsState(raw: unknown): EndpointsState {
  const file = object(raw, 'the file');
  if (file['version'] !== FORMAT_VERSION) throw new Error(`unknown version ${JSON.stringify(file['version'])}`);
  const nextEndpointId = integer(file['nextEndpointId'], 'nextEndpointId');
  if (!Array.isArray(file['endpoints'])) throw new Error('endpoints: not a list');
  const endpoints = file['endpoints'].map((e: unknown, i: number): StoredEndpoint => {
    const at = `endpoints[${i}]`;
    const o = object(e, at);
    return {
      name: string(o['name'], `${at}.name`),
      namespace: string(o['namespace'], `${at}.namespace`),
      labels: stringMap(o['labels'], `${at}.labels`),
      endpointId: integer(o['endpointId'], `${at}.endpointId`),
      identity: integer(o['identity'], `${at}.identity`),
      ipv4: string(o['ipv4'], `${at}.ipv4`),
      ipv6: string(o['ipv6'], `${at}.ipv6`),
      podName: string(o['podName'], `${at}.podName`),
      netns: string(o['netns'], `${at}.netns`),
      cgroupPath: string(o['cgroupPath'], `${at}.cgroupPath`),
      command: stringList(o['command'], `${at}.command`),
      env: o['env'] === undefined ? {} : stringMap(o['env'], `${at}.env`),
      pid: o['pid'] === undefined || o['pid'] === null ? undefined : integer(o['pid'], `${at}.pid`),
      pidStartTime: o['pidStartTime'] === undefined || o['pidStartTime'] === null ? undefined : string(o['pidStartTime'], `${at}.pidStartTime`),
      createdAt: string(o['createdAt'], `${at}.createdAt`),
      logFile: string(o['logFile'], `${at}.logFile`),
    };
  });
  return { nextEndpointId, endpoints };
}

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${at}: not an object`);
  return v as Record<string, unknown>;
}
function string(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new Error(`${at}: not a string`);
  return v;
}
function integer(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${at}: not a non-negative integer`);
  return v;
}
function stringList(v: unknown, at: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${at}: not a list of strings`);
  return v as string[];
}
function stringMap(v: unknown, at: string): Record<string, string> {
  const o = object(v, at);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw new Error(`${at}.${k}: not a string`);
  return o as Record<string, string>;
}
