// Where the shared policy corpus lives and which files it holds.
// The corpus sits beside the repository (`../shared/corpus/cilium-policies` from the repo root),
// both here and in CI's fresh clone. A missing corpus is an error, never a silent skip: a test that
// checks nothing would pass forever.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this module holding meshd's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'meshd') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the meshd repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of the corpus directory; throws with instructions when it is missing. */
export function corpusDir(): string {
  const root = repoRoot();
  const dir = resolve(root, '..', 'shared', 'corpus', 'cilium-policies');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `policy corpus not found at ${dir}. The corpus tests need the shared corpus checked out beside ` +
        `the repository (../shared/corpus/cilium-policies relative to ${root}); it is not optional.`,
    );
  }
  return dir;
}

export interface CorpusFile {
  /** Path relative to the corpus directory, with `/` separators (the key of the expectation table). */
  rel: string;
  abs: string;
  text: string;
}

/** Every regular file under the corpus directory, sorted by relative path. */
export function listCorpusFiles(dir = corpusDir()): CorpusFile[] {
  const out: CorpusFile[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else out.push({ rel: relative(dir, abs).split(sep).join('/'), abs, text: readFileSync(abs, 'utf8') });
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Go-template placeholders, as upstream's test harnesses fill them in before applying a manifest. */
export function isTemplate(text: string): boolean {
  return /\{\{[\s\S]*?\}\}/.test(text);
}
