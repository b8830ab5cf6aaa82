// `--policy-dir`: the directory's policy files (*.yaml, *.yml, *.json, recursively, dot files
// skipped) are one source set. Any change is debounced — editors write a file in several steps,
// and `cp -r` brings many files — and then the whole directory is reloaded as one apply: a broken
// file keeps the previous set in force and is logged with every problem.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicySource } from './load-set.js';

const POLICY_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface PolicyDirWatcherOptions {
  dir: string;
  debounceMs: number;
  logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  reload(sources: PolicySource[]): Promise<void>;
}

export class PolicyDirWatcher {
  readonly #o: PolicyDirWatcherOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(o: PolicyDirWatcherOptions) {
    this.#o = o;
  }

  /** Loads the directory once, then watches it. A missing directory is logged and watched for nothing. */
  async start(): Promise<void> {
    try {
      this.#watcher = watch(this.#o.dir, { recursive: true, persistent: false }, () => this.#schedule());
      this.#watcher.on('error', (err) => this.#o.logger.warn({ dir: this.#o.dir, err: err.message }, 'policy directory watch failed; changes are no longer picked up'));
    } catch (err) {
      this.#o.logger.warn({ dir: this.#o.dir, err: (err as Error).message }, 'cannot watch the policy directory');
      return;
    }
    await this.#reloadNow();
  }

  /** Resolves when no reload is scheduled or running. */
  async settled(): Promise<void> {
    while (this.#timer !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, this.#o.debounceMs));
      await this.#running;
    }
    await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    await this.#running;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#reloadNow();
    }, this.#o.debounceMs);
  }

  /** One reload at a time, in order; a change during a reload schedules another. */
  #reloadNow(): Promise<void> {
    this.#running = this.#running.then(async () => {
      if (this.#closed) return;
      let sources: PolicySource[];
      try {
        sources = await readPolicyDir(this.#o.dir);
      } catch (err) {
        // A directory that is gone (or unreadable) is not "no policies": keep what is in force.
        this.#o.logger.warn({ dir: this.#o.dir, err: (err as Error).message }, 'cannot read the policy directory; policies unchanged');
        return;
      }
      await this.#o.reload(sources);
    });
    return this.#running;
  }
}

export async function readPolicyDir(dir: string): Promise<PolicySource[]> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(d, name);
      const st = await stat(path).catch(() => undefined);
      if (!st) continue; // removed while we looked
      if (st.isDirectory()) await walk(path);
      else if (st.isFile() && POLICY_EXTENSIONS.some((e) => name.endsWith(e))) files.push(path);
    }
  };
  await walk(dir);
  const sources: PolicySource[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) sources.push({ file, text });
  }
  return sources;
}
