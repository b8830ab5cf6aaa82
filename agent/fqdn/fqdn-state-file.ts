// fqdn-cache.json in the state directory: the learned names with their IPs and expiries, what
// the kernel was given for each IP (identity, selectors), and the expired IPs kept for open
// flows. A restarted agent restores from it before its DNS proxy answers (Cilium issue 30984);
// `meshd fqdn cache list` reads it without an agent. Times are wall-clock ms (Date.now): a
// monotonic clock does not survive a reboot, and the file must be readable by another process.
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { FqdnError } from './errors.js';

export const FQDN_STATE_FILE = 'fqdn-cache.json';
const FORMAT_VERSION = 1;

export interface FqdnStateName {
  name: string;
  /** In least-recently-seen order, as the cache evicts. */
  ips: Array<{ ip: string; expiresAtMs: number; lastSeenMs: number }>;
}

export interface FqdnStateIp {
  ip: string;
  /** The local identity the ipcache maps ip/32 (or /128) to. */
  identity: number;
  /** toFQDNs selectors (`fqdn:` label keys) the IP is selected by. */
  selectors: string[];
}

export interface FqdnState {
  savedAtMs: number;
  names: FqdnStateName[];
  ips: FqdnStateIp[];
  /** Expired IPs still in the ipcache because a flow to them was active (see fqdn-manager.ts). */
  zombies: Array<{ ip: string; expiredAtMs: number; names: string[] }>;
}

export function fqdnStatePath(stateDir: string): string {
  return join(stateDir, FQDN_STATE_FILE);
}

/** The state, or undefined when there is no file. Unreadable or corrupt files throw FqdnError. */
export async function loadFqdnState(stateDir: string): Promise<FqdnState | undefined> {
  const path = fqdnStatePath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new FqdnError('MESHD_ERR_FQDN_STATE_READ', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return decodeFqdnState(JSON.parse(text));
  } catch (err) {
    throw new FqdnError('MESHD_ERR_FQDN_STATE_CORRUPT', `${path} is not a valid FQDN cache: ${(err as Error).message}`, {
      hint: 'the agent moves a corrupt file aside and learns again from DNS answers; remove the file to start afresh',
      cause: err,
    });
  }
}

/** Write-then-rename: a crash leaves the old file or the new one, never half of one. */
export async function saveFqdnState(stateDir: string, state: FqdnState): Promise<void> {
  const path = fqdnStatePath(stateDir);
  const temp = `${path}.tmp-${process.pid}-${++tempCounter}`;
  await mkdir(stateDir, { recursive: true });
  try {
    await writeFile(temp, `${JSON.stringify({ version: FORMAT_VERSION, ...state })}\n`);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

let tempCounter = 0;

/** Checks every field, so a hand-edited or truncated file is refused as a whole with a path. */
export function decodeFqdnState(raw: unknown): FqdnState {
  const file = object(raw, 'the file');
  if (file['version'] !== FORMAT_VERSION) throw new Error(`unknown version ${JSON.stringify(file['version'])}`);
  const names = array(file['names'], 'names').map((n, i) => {
    const entry = object(n, `names[${i}]`);
    return {
      name: string(entry['name'], `names[${i}].name`),
      ips: array(entry['ips'], `names[${i}].ips`).map((r, j) => {
        const where = `names[${i}].ips[${j}]`;
        const rec = object(r, where);
        return { ip: ip(rec['ip'], `${where}.ip`), expiresAtMs: time(rec['expiresAtMs'], `${where}.expiresAtMs`), lastSeenMs: time(rec['lastSeenMs'], `${where}.lastSeenMs`) };
      }),
    };
  });
  const ips = array(file['ips'], 'ips').map((r, i) => {
    const rec = object(r, `ips[${i}]`);
    const identity = rec['identity'];
    if (typeof identity !== 'number' || !Number.isInteger(identity) || identity <= 0) throw new Error(`ips[${i}].identity is not a positive integer`);
    return { ip: ip(rec['ip'], `ips[${i}].ip`), identity, selectors: array(rec['selectors'], `ips[${i}].selectors`).map((s, j) => string(s, `ips[${i}].selectors[${j}]`)) };
  });
  const zombies = array(file['zombies'] ?? [], 'zombies').map((r, i) => {
    const rec = object(r, `zombies[${i}]`);
    return {
      ip: ip(rec['ip'], `zombies[${i}].ip`),
      expiredAtMs: time(rec['expiredAtMs'], `zombies[${i}].expiredAtMs`),
      names: array(rec['names'] ?? [], `zombies[${i}].names`).map((s, j) => string(s, `zombies[${i}].names[${j}]`)),
    };
  });
  return { savedAtMs: time(file['savedAtMs'], 'savedAtMs'), names, ips, zombies };
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where} is not an object`);
  return v as Record<string, unknown>;
}

function array(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${where} is not an array`);
  return v;
}

function string(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${where} is not a non-empty string`);
  return v;
}

function ip(v: unknown, where: string): string {
  const text = string(v, where);
  if (isIP(text) === 0) throw new Error(`${where} is not an IP address: ${JSON.stringify(text)}`);
  return text;
}

function time(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${where} is not a time in ms`);
  return v;
}
