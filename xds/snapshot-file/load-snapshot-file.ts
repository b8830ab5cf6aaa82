// Reads a snapshot file and builds the cache Snapshot it describes, or throws XdsSnapshotFileError
// with every problem (syntax, layout, each resource's bad fields, references that do not resolve).
import { readFile, stat } from 'node:fs/promises';
import { Snapshot, XdsSnapshotError } from '../cache/index.js';
import { XdsSnapshotFileError, type XdsSnapshotFileProblem } from './errors.js';
import { parseSnapshotText, type SnapshotFileContents } from './parse-snapshot-text.js';

/**
 * Far above any real snapshot (10,000 endpoints are ~2 MB of YAML), but a bound: the whole file is
 * held as text, then as a YAML tree, then as messages.
 */
const MAX_SNAPSHOT_FILE_BYTES = 256 * 1024 * 1024;

export interface LoadedSnapshotFile {
  snapshot: Snapshot;
  contents: SnapshotFileContents;
  /** The text read, so a watcher can skip re-reads that change nothing. */
  text: string;
}

export async function loadSnapshotFile(file: string): Promise<LoadedSnapshotFile> {
  return buildSnapshotFromText(file, await readSnapshotText(file));
}

export async function readSnapshotText(file: string): Promise<string> {
  const at = { file, line: 1, col: 1 };
  try {
    const info = await stat(file);
    if (!info.isFile()) throw readError(at, `${file} is not a regular file`);
    if (info.size > MAX_SNAPSHOT_FILE_BYTES) throw readError(at, `${file} is ${info.size} bytes, over the ${MAX_SNAPSHOT_FILE_BYTES}-byte limit`);
    return await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof XdsSnapshotFileError) throw err;
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw readError(at, `cannot read ${file}: ${why}`);
  }
}

/** Parses `text` (the contents of `file`) into a consistent Snapshot; throws XdsSnapshotFileError. */
export function buildSnapshotFromText(file: string, text: string): LoadedSnapshotFile {
  const { contents, problems } = parseSnapshotText(file, text);
  if (problems.length > 0) throw new XdsSnapshotFileError(problems);
  let snapshot: Snapshot;
  try {
    snapshot = Snapshot.fromMessages({
      ...(contents.version !== undefined ? { version: contents.version } : {}),
      listeners: contents.listeners,
      routes: contents.routes,
      clusters: contents.clusters,
      endpoints: contents.endpoints,
      secrets: contents.secrets,
      ...(contents.extra.size > 0 ? { extra: Object.fromEntries(contents.extra) } : {}),
    });
  } catch (err) {
    // The parser already refuses unnamed and duplicate resources; this is the cache's own check.
    if (err instanceof XdsSnapshotError) throw fileLevelError(file, err.code, err.problems);
    throw err;
  }
  // Checked here as well as in SnapshotCache.setSnapshot so the refusal names the file.
  const inconsistent = snapshot.consistencyProblems();
  if (inconsistent.length > 0) throw fileLevelError(file, 'MESHD_ERR_XDS_SNAPSHOT_FILE_INCONSISTENT', inconsistent);
  return { snapshot, contents, text };
}

const INCONSISTENT_HINT =
  'every RDS, EDS, SDS and cluster name a resource refers to must be in the file, and every route configuration and endpoint set must be referred to';

/** Problems the cache words as sentences without a place: reported at the top of the file. */
export function fileLevelError(file: string, code: string, messages: string[]): XdsSnapshotFileError {
  return new XdsSnapshotFileError(
    messages.map(
      (message): XdsSnapshotFileProblem => ({
        code,
        message,
        path: '',
        position: { file, line: 1, col: 1 },
        ...(code === 'MESHD_ERR_XDS_SNAPSHOT_FILE_INCONSISTENT' ? { hint: INCONSISTENT_HINT } : {}),
      }),
    ),
  );
}

function readError(position: { file: string; line: number; col: number }, message: string): XdsSnapshotFileError {
  return new XdsSnapshotFileError([{ code: 'MESHD_ERR_XDS_SNAPSHOT_FILE_READ', message, path: '', position }]);
}
