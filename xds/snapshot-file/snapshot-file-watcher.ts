// Keeps a SnapshotCache entry equal to a snapshot file: loads it once (an invalid file at start is
// an error for the caller), then reloads it after every change. A change that does not load (bad
// syntax, a bad field, a dangling reference, the file gone) is logged with every problem and the
// previous snapshot stays in the cache, so a typo never takes configuration away from the proxies.
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { DEFAULT_NODE_ID, XdsSnapshotError, type SnapshotCache } from '../cache/index.js';
import { describeSnapshotFileProblems, XdsSnapshotFileError } from './errors.js';
import { buildSnapshotFromText, fileLevelError, loadSnapshotFile, readSnapshotText, type LoadedSnapshotFile } from './load-snapshot-file.js';

/** Structural subset of the server's pino-shaped XdsLogger, so this module needs no server import. */
export interface SnapshotFileLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface SnapshotFileWatcherOptions {
  file: string;
  cache: SnapshotCache;
  /** The node the snapshot is for; '*' (the default) serves every node without its own snapshot. */
  nodeId?: string;
  logger: SnapshotFileLogger;
  /**
   * Quiet time after the last change event before reloading: editors write a file in several
   * steps (truncate, write, rename), and reading in between would see half a file.
   */
  debounceMs?: number;
  /**
   * Interval of the stat poll that backs up fs.watch, which misses changes on some filesystems
   * (network and overlay mounts, bind-mounted ConfigMaps whose symlink is swapped).
   */
  pollIntervalMs?: number;
  onApplied?(loaded: LoadedSnapshotFile): void;
  onRejected?(err: Error): void;
}

const DEFAULT_DEBOUNCE_MS = 100;
const DEFAULT_POLL_INTERVAL_MS = 2000;

export class SnapshotFileWatcher {
  private currentLoaded: LoadedSnapshotFile;
  /**
   * The text of the last reload attempt, applied or not: the same bytes again change nothing.
   * Null after a failed read, so a file that stays unreadable is reported once, not once per poll.
   */
  private lastText: string | null;
  private dirWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private isReloadPending = false;
  private isClosed = false;
  private readonly nodeId: string;

  private constructor(
    private readonly opts: SnapshotFileWatcherOptions,
    loaded: LoadedSnapshotFile,
  ) {
    this.currentLoaded = loaded;
    this.lastText = loaded.text;
    this.nodeId = opts.nodeId ?? DEFAULT_NODE_ID;
  }

  /** Loads the file into the cache and starts watching; throws XdsSnapshotFileError if it does not load. */
  static async start(opts: SnapshotFileWatcherOptions): Promise<SnapshotFileWatcher> {
    const loaded = await loadSnapshotFile(opts.file);
    try {
      opts.cache.setSnapshot(opts.nodeId ?? DEFAULT_NODE_ID, loaded.snapshot);
    } catch (err) {
      // The loader checks what the cache checks; should they ever differ, still name the file.
      if (err instanceof XdsSnapshotError) throw fileLevelError(opts.file, err.code, err.problems);
      throw err;
    }
    const watcher = new SnapshotFileWatcher(opts, loaded);
    watcher.startWatching();
    return watcher;
  }

  get current(): LoadedSnapshotFile {
    return this.currentLoaded;
  }

  /** Reloads now (after the debounce of pending events); resolves once the attempt is over. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.isReloadPending = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = undefined;
      if (this.isReloadPending && !this.isClosed) {
        this.isReloadPending = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  close(): void {
    this.isClosed = true;
    if (this.timer) clearTimeout(this.timer);
    this.dirWatcher?.close();
    unwatchFile(this.opts.file, this.onPoll);
  }

  private startWatching(): void {
    const name = basename(this.opts.file);
    // The directory, not the file: editors and `kubectl`-style updates replace the file by rename,
    // which ends a watch on the old inode.
    this.dirWatcher = watch(dirname(this.opts.file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name || changed === '..data') this.schedule();
    });
    this.dirWatcher.on('error', (err) => this.opts.logger.warn({ err: String(err), file: this.opts.file }, 'snapshot file: watching the directory failed; polling only'));
    watchFile(this.opts.file, { persistent: false, interval: this.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS }, this.onPoll);
  }

  private readonly onPoll = (): void => this.schedule();

  private schedule(): void {
    if (this.isClosed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  private async reloadOnce(): Promise<void> {
    const { file, cache, logger } = this.opts;
    let text: string;
    try {
      text = await readSnapshotText(file);
    } catch (err) {
      if (this.lastText === null) return; // already reported
      this.lastText = null;
      this.reject(err as Error);
      return;
    }
    if (this.isClosed || text === this.lastText) return;
    this.lastText = text;
    try {
      const loaded = buildSnapshotFromText(file, text);
      cache.setSnapshot(this.nodeId, loaded.snapshot);
      this.currentLoaded = loaded;
      logger.info({ file, node: this.nodeId, version: loaded.contents.version ?? null, ...countResources(loaded) }, 'snapshot file reloaded');
      this.opts.onApplied?.(loaded);
    } catch (err) {
      this.reject(err as Error);
    }
  }

  private reject(err: Error): void {
    const { file, logger } = this.opts;
    const problems = err instanceof XdsSnapshotFileError ? describeSnapshotFileProblems(err.problems) : `${(err as { code?: string }).code ?? err.name}  ${err.message}`;
    logger.error({ file, node: this.nodeId, code: (err as { code?: string }).code ?? null, problems }, 'snapshot file rejected; the previous snapshot stays');
    this.opts.onRejected?.(err);
  }
}

export function countResources(loaded: LoadedSnapshotFile): Record<string, number> {
  const c = loaded.contents;
  const counts: Record<string, number> = { listeners: c.listeners.length, routes: c.routes.length, clusters: c.clusters.length, endpoints: c.endpoints.length, secrets: c.secrets.length };
  for (const [typeUrl, list] of c.extra) counts[typeUrl] = list.length;
  return counts;
}
