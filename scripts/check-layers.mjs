#!/usr/bin/env node
// Enforces DESIGN.md's layering: each top-level layer is imported only through its index.ts,
// and layers point down: policy ← bpf, xds ← proxylib ← agent. proxylib sits above xds because the
// built-in proxy decodes the same Envoy protos (xds/index.js re-exports them) and calls xds's validators
// to decide ACK or NACK; it still gets its configuration only as xDS bytes over the wire. test/ and bench/ may use any
// layer, but only through its public entry.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const RANK = { policy: 0, bpf: 1, xds: 1, proxylib: 1.5, agent: 2, test: 3, bench: 3 };
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const problems = [];
for (const layer of Object.keys(RANK)) {
  let files = [];
  try {
    files = walk(join(root, layer));
  } catch {
    continue; // a layer that does not exist yet
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), spec));
      const targetLayer = target.split(sep)[0];
      if (targetLayer === layer || !(targetLayer in RANK)) continue;
      // Unit tests beside their modules may use the shared fixture builders of test/.
      if (file.endsWith('.test.ts') && targetLayer === 'test') continue;
      const line = text.slice(0, m.index).split('\n').length;
      const where = `${relative(root, file)}:${line}`;
      if (RANK[targetLayer] >= RANK[layer]) problems.push(`${where}  ${layer} must not import ${targetLayer} (layers point down)`);
      else if (target !== join(targetLayer, 'index.js')) problems.push(`${where}  import ${targetLayer} through ${targetLayer}/index.js, not ${target}`);
    }
  }
}
if (problems.length) {
  console.error(`layering: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
