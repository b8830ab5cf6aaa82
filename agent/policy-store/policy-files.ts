// The store's files: <state>/policies/<kind>_<namespace>_<name>-<hash>.yaml, one per policy, a
// header line with where it came from, then the original document text. Each file is written
// tmp + rename; a set of files is staged first and renamed after every write succeeded.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const POLICIES_DIR = 'policies';
const HEADER_PREFIX = '# meshd-policy: ';

export type PolicyOriginSource = 'api' | 'policy-dir';

export interface StoredPolicyHeader {
  key: string;
  /** The file name the document was applied from (also what restored problems would name). */
  file: string;
  source: PolicyOriginSource;
  appliedAt: string;
}

export interface StoredPolicyFile {
  path: string;
  header: StoredPolicyHeader;
  text: string;
}

export function policiesDir(stateDir: string): string {
  return join(stateDir, POLICIES_DIR);
}

/** Readable and unique: the key's parts, made file-safe, plus a hash of the key itself. */
export function policyFileName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 120);
  return `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 10)}.yaml`;
}

export function renderPolicyFile(header: StoredPolicyHeader, text: string): string {
  return `${HEADER_PREFIX}${JSON.stringify(header)}\n${text}${text.endsWith('\n') ? '' : '\n'}`;
}

export function parsePolicyFile(path: string, content: string): StoredPolicyFile {
  const nl = content.indexOf('\n');
  const first = nl < 0 ? content : content.slice(0, nl);
  if (!first.startsWith(HEADER_PREFIX)) throw new Error('no meshd-policy header line');
  const h = JSON.parse(first.slice(HEADER_PREFIX.length)) as Record<string, unknown>;
  if (typeof h['key'] !== 'string' || typeof h['file'] !== 'string' || typeof h['appliedAt'] !== 'string' || (h['source'] !== 'api' && h['source'] !== 'policy-dir')) {
    throw new Error('header line lacks key, file, source or appliedAt');
  }
  return { path, header: { key: h['key'], file: h['file'], source: h['source'], appliedAt: h['appliedAt'] }, text: nl < 0 ? '' : content.slice(nl + 1) };
}

/** Every stored file (unparsed ones are returned as errors for the caller to move aside). */
export async function readPolicyFiles(stateDir: string): Promise<Array<{ path: string; file?: StoredPolicyFile; error?: Error }>> {
  const dir = policiesDir(stateDir);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Array<{ path: string; file?: StoredPolicyFile; error?: Error }> = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      out.push({ path, file: parsePolicyFile(path, await readFile(path, 'utf8')) });
    } catch (err) {
      out.push({ path, error: err as Error });
    }
  }
  return out;
}

let tempCounter = 0;

/**
 * Writes `writes` and removes `removals` (file names) as close to atomically as files allow:
 * every new file is staged under a temporary name first; only when all staged does anything
 * visible change (renames, then unlinks). A failure while staging leaves the store as it was.
 */
export async function commitPolicyFiles(stateDir: string, writes: Array<{ name: string; content: string }>, removals: string[]): Promise<void> {
  const dir = policiesDir(stateDir);
  await mkdir(dir, { recursive: true });
  const staged: Array<{ temp: string; path: string }> = [];
  try {
    for (const w of writes) {
      const temp = join(dir, `.${w.name}.tmp-${process.pid}-${++tempCounter}`);
      staged.push({ temp, path: join(dir, w.name) });
      await writeFile(temp, w.content);
    }
  } catch (err) {
    await Promise.all(staged.map((s) => unlink(s.temp).catch(() => undefined)));
    throw err;
  }
  for (const s of staged) await rename(s.temp, s.path);
  for (const name of removals) await unlink(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export async function moveAside(path: string): Promise<string> {
  const aside = `${path}.corrupt-${Date.now()}`;
  await rename(path, aside);
  return aside;
}
