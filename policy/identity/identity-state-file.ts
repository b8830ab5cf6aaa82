// identities.json: every allocated identity and the next free id per scope, so a restarted
// agent gives the same labels the same id and never hands out an id it used before.
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabelSet } from '../labels/index.js';
import type { IdentityWarning } from './errors.js';
import { identityScopeForLabels, identityScopeOfId } from './identity-scope.js';
import type { IdentityScope } from './identity-scope.js';

export const IDENTITY_STATE_FILE = 'identities.json';
const FORMAT_VERSION = 1;

export interface IdentityState {
  nextId: Record<IdentityScope, number>;
  identities: Array<{ id: number; labels: LabelSet }>;
}

/** On disk labels are `[source, key, value]` triples: keys may hold `=` or `:`, so no text form is safe. */
interface StateFile {
  version: number;
  nextId: Record<IdentityScope, number>;
  identities: Array<{ id: number; labels: Array<[string, string, string]> }>;
}

export async function loadIdentityState(stateDir: string): Promise<{ state?: IdentityState; warnings: IdentityWarning[] }> {
  const path = join(stateDir, IDENTITY_STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { warnings: [] };
    return { warnings: [{ code: 'MESHD_WARN_IDENTITY_STATE_UNREADABLE', message: `cannot read ${path}: ${describe(err)}; starting with no identities`, path }] };
  }
  let state: IdentityState;
  try {
    state = decodeState(JSON.parse(text));
  } catch (err) {
    const aside = `${path}.corrupt-${Date.now()}`;
    let moved = `moved to ${aside}`;
    try {
      await rename(path, aside);
    } catch (renameErr) {
      moved = `could not be moved aside (${describe(renameErr)})`;
    }
    return {
      warnings: [{ code: 'MESHD_WARN_IDENTITY_STATE_CORRUPT', message: `${path} is corrupt (${describe(err)}); it was ${moved} and identities start afresh`, path: aside }],
    };
  }
  return { state, warnings: [] };
}

/** Write-then-rename, so a crash leaves either the old file or the new one, never half of one. */
export async function saveIdentityState(stateDir: string, state: IdentityState): Promise<void> {
  const file: StateFile = {
    version: FORMAT_VERSION,
    nextId: state.nextId,
    identities: state.identities.map(({ id, labels }) => ({ id, labels: labels.toArray().map((l) => [l.source, l.key, l.value]) })),
  };
  const path = join(stateDir, IDENTITY_STATE_FILE);
  const temp = `${path}.tmp-${process.pid}-${++tempCounter}`;
  await mkdir(stateDir, { recursive: true });
  try {
    await writeFile(temp, `${JSON.stringify(file)}\n`);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

let tempCounter = 0;

function decodeState(raw: unknown): IdentityState {
  const file = raw as Partial<StateFile> | null;
  if (typeof file !== 'object' || file === null) throw new Error('not a JSON object');
  if (file.version !== FORMAT_VERSION) throw new Error(`unknown version ${JSON.stringify(file.version)}`);
  if (!Array.isArray(file.identities)) throw new Error('identities is not an array');
  const nextId = { global: 0, local: 0 };
  const seenIds = new Set<number>();
  const seenLabels = new Set<string>();
  const identities = file.identities.map((entry: unknown, index) => {
    const { id, labels: triples } = (entry ?? {}) as { id?: unknown; labels?: unknown };
    const where = `identities[${index}]`;
    if (typeof id !== 'number') throw new Error(`${where}.id is not a number`);
    if (!Array.isArray(triples) || triples.length === 0 || !triples.every(isStringTriple)) {
      throw new Error(`${where}.labels is not a non-empty list of [source, key, value]`);
    }
    const labels = LabelSet.from(triples.map(([source, key, value]) => ({ source, key, value })));
    const scope = identityScopeOfId(id);
    if (scope !== identityScopeForLabels(labels)) throw new Error(`${where}: id ${id} is outside the range of its labels`);
    if (seenIds.has(id) || seenLabels.has(labels.canonicalKey)) throw new Error(`${where}: duplicate id or labels`);
    seenIds.add(id);
    seenLabels.add(labels.canonicalKey);
    nextId[scope] = Math.max(nextId[scope], id + 1);
    return { id, labels };
  });
  // A file's next ids may be ahead of its identities (released ones were collected); never behind.
  for (const scope of ['global', 'local'] as const) {
    const saved = file.nextId?.[scope];
    if (typeof saved === 'number' && identityScopeOfId(saved - 1) === scope) nextId[scope] = Math.max(nextId[scope], saved);
  }
  return { nextId, identities };
}

function isStringTriple(value: unknown): value is [string, string, string] {
  return Array.isArray(value) && value.length === 3 && value.every((part) => typeof part === 'string');
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
