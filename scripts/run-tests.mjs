#!/usr/bin/env node
// Runs node's test runner on the compiled tests (tsc emits dist/ from the *.test.ts sources).
// Node 20's `--test` takes no globs, so the file list is built here.
//   unit   — every *.test.js beside its module (policy/, agent/, ...), except the suites below
//   corpus — test/corpus/*.test.js: every policy of ../shared/corpus loads or is rejected clearly
//   fuzz   — test/fuzz/*.test.js: bounded mutation fuzzing of the parsers
//   all    — all of the above
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const suite = process.argv[2] ?? 'unit';
const filter = process.argv[3];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const all = walk(dist).map((p) => relative(root, p)).sort();
const isCorpus = (p) => p.startsWith('dist/test/corpus/');
const isFuzz = (p) => p.startsWith('dist/test/fuzz/');
const pick = {
  unit: (p) => !isCorpus(p) && !isFuzz(p),
  corpus: isCorpus,
  fuzz: isFuzz,
  all: () => true,
}[suite];
if (!pick) {
  console.error(`usage: run-tests.mjs unit|corpus|fuzz|all [substring]`);
  process.exit(2);
}
const files = all.filter(pick).filter((p) => !filter || p.includes(filter));
if (files.length === 0) {
  console.error(`run-tests: no ${suite} tests found under dist/ (did the build run?)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
