// Every error code meshd can print has a section in docs/errors.md, and every section there
// is a real code (fastify's test/internals/errors.test.js does the same for FST_ERR_*).
// Codes come from the code tables (every `*_ERROR_CODES` export of the policy, bpf, xds, proxylib and agent
// layers, the CLI's own) and from the sources themselves, so a code thrown ad hoc cannot go undocumented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as policy from '../../policy/index.js';
// The agent layer's own entry: its module tables (PODS_ERROR_CODES, …) are exported there.
import * as agent from '../index.js';
import type { PolicyUsageError } from '../../policy/index.js';
import { CLI_ERROR_CODES } from './errors.js';

// Compiled to dist/agent/cli/: the sources and docs are three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// PolicyUsageError's codes are a union type, not a table; the two checks below keep this
// list equal to it (a code added there and not here, or the reverse, fails the build).
type PolicyUsageCode = ConstructorParameters<typeof PolicyUsageError>[0];
const POLICY_USAGE_CODES = [
  'MESHD_ERR_TRACE_BAD_REF',
  'MESHD_ERR_TRACE_BAD_ARGUMENT',
  'MESHD_ERR_ENDPOINTS_INVALID',
] as const satisfies readonly PolicyUsageCode[];
const everyUsageCodeListed: [Exclude<PolicyUsageCode, (typeof POLICY_USAGE_CODES)[number]>] extends [never] ? true : never = true;

const policyTables = Object.entries(policy).filter(([name]) => name.endsWith('_ERROR_CODES'));
const agentTables = Object.entries(agent).filter(([name]) => name.endsWith('_ERROR_CODES'));
// The layers below the agent, by their public entries; loaded by path so that this test needs no
// static import of every layer (the agent layer may import them, this is only a lookup).
const LOWER_LAYERS = ['bpf', 'xds', 'proxylib'];
const lowerTables: Array<[string, unknown]> = [];
/** Each lower layer's table names, or undefined when its entry is missing (a test below fails then). */
const lowerTableNames = new Map<string, string[] | undefined>();
for (const layer of LOWER_LAYERS) {
  const entry = new URL(`../../${layer}/index.js`, import.meta.url);
  const present = await access(entry).then(() => true, () => false);
  if (!present) {
    lowerTableNames.set(layer, undefined);
    continue;
  }
  const mod = (await import(entry.href)) as Record<string, unknown>;
  const tables = Object.entries(mod).filter(([name]) => name.endsWith('_ERROR_CODES'));
  lowerTableNames.set(layer, tables.map(([name]) => name));
  lowerTables.push(...tables);
}
const TABLE_CODES = new Set<string>([
  ...policyTables.flatMap(([, table]) => Object.keys(table as object)),
  ...lowerTables.flatMap(([, table]) => Object.keys(table as object)),
  ...agentTables.flatMap(([, table]) => Object.keys(table as object)),
  ...Object.keys(CLI_ERROR_CODES),
  ...POLICY_USAGE_CODES,
]);
const CODE = /\bMESHD_ERR_[A-Z0-9_]*[A-Z0-9]\b/g;

interface Section {
  heading: string;
  body: string;
}

async function readSections(): Promise<Section[]> {
  const text = await readFile(join(ROOT, 'docs/errors.md'), 'utf8');
  return text
    .split(/^## /m)
    .slice(1)
    .map((chunk) => {
      const newline = chunk.indexOf('\n');
      return { heading: chunk.slice(0, newline).trim().replaceAll('`', ''), body: chunk.slice(newline + 1) };
    });
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every code written in the non-test sources of the layers, with where it was seen. */
async function sourceCodes(): Promise<Map<string, string>> {
  const files: string[] = [];
  // Every layer exists: a missing folder fails here instead of silently checking fewer sources.
  for (const layer of ['policy', 'agent', ...LOWER_LAYERS]) files.push(...(await sourceFiles(join(ROOT, layer))));
  const found = new Map<string, string>();
  for (const file of files.sort()) {
    for (const [code] of (await readFile(file, 'utf8')).matchAll(CODE)) {
      if (!found.has(code)) found.set(code, file.slice(ROOT.length));
    }
  }
  return found;
}

test('the policy layer exports its error code table', () => {
  assert.ok(policyTables.some(([name]) => name === 'POLICY_ERROR_CODES'));
  assert.equal(everyUsageCodeListed, true);
});

test('the agent layer exports the code table of its pods module', () => {
  assert.ok(agentTables.some(([name]) => name === 'PODS_ERROR_CODES'), agentTables.map(([name]) => name).join(', '));
});

test('every layer below the agent is found and exports at least one code table', () => {
  // Without this, a missing entry would silently leave that layer's codes out of the checks below.
  for (const layer of LOWER_LAYERS) {
    const names = lowerTableNames.get(layer);
    assert.ok(names !== undefined, `dist/${layer}/index.js is missing: build the whole project`);
    assert.ok(names.length > 0, `${layer}/index.ts exports no *_ERROR_CODES table`);
  }
});

test('every code of a code table has a section in docs/errors.md', async () => {
  const documented = new Set((await readSections()).map((s) => s.heading));
  const missing = [...TABLE_CODES].filter((c) => !documented.has(c)).sort();
  assert.deepEqual(missing, [], `docs/errors.md lacks a section for ${missing.join(', ')}`);
});

test("every MESHD_ERR_ code written in the layers' sources has a section in docs/errors.md", async () => {
  const documented = new Set((await readSections()).map((s) => s.heading));
  const missing = [...(await sourceCodes())].filter(([code]) => !documented.has(code)).map(([code, file]) => `${code} (${file})`);
  assert.deepEqual(missing, [], 'document these codes in docs/errors.md (and put them in a code table)');
});

test('every section of docs/errors.md is named after exactly one known code, once', async () => {
  const known = new Set([...TABLE_CODES, ...(await sourceCodes()).keys()]);
  const headings = (await readSections()).map((s) => s.heading);
  const unknown = headings.filter((h) => !known.has(h));
  assert.deepEqual(unknown, [], `docs/errors.md has sections for no known code: ${unknown.join(', ')}`);
  const duplicates = headings.filter((h, i) => headings.indexOf(h) !== i);
  assert.deepEqual(duplicates, []);
});

test('every section says what the error means, shows an example and how to fix it', async () => {
  for (const { heading, body } of await readSections()) {
    assert.match(body, /^[^*#\s]/m, `${heading}: no explanation`);
    assert.match(body, /\*\*Example\*\*/, `${heading}: no **Example**`);
    assert.match(body, /\*\*Fix\*\*/, `${heading}: no **Fix**`);
  }
});
