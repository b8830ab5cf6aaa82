// Where the shared policy corpus lives and which files it holds.
// The corpus sits beside the repository (`../shared/corpus/cilium-policies` from the repo root),
// both here and in CI's fresh clone. A missing corpus is an error, never a silent skip: a test that
// checks nothing would pass forever.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this module runs from dist/test/corpus/, like test/fixtures' REPO_ROOT). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Absolute path of the corpus directory; throws with instructions when it is missing. */
export function corpusDir(): string {
  const dir = resolve(REPO_ROOT, '..', 'shared', 'corpus', 'cilium-policies');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `policy corpus not found at ${dir}. The corpus tests need the shared corpus checked out beside ` +
        `the repository (../shared/corpus/cilium-policies relative to ${REPO_ROOT}); it is not optional.`,
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
