// Structure-level mutations: take the parsed documents of the corpus, change values at random
// paths (wrong types, deleted required fields, unknown or removed fields, renamed keys, subtrees
// moved between documents) and serialize back to YAML or JSON. These reach the schema checks
// that text mutations mostly stop short of, because the result still parses.

import { parseAllDocuments, stringify } from 'yaml';
import type { CorpusFile } from '../corpus/corpus-files.js';
import { isTemplate } from '../corpus/corpus-files.js';
import { caseRng, type FuzzCase } from './text-mutations.js';
import type { Prng } from './prng.js';

export interface DocumentPool {
  docs: { rel: string; value: unknown }[];
}

/** Every parseable document of every non-template corpus file, as plain JSON values. */
export function documentPool(files: readonly CorpusFile[]): DocumentPool {
  const docs: DocumentPool['docs'] = [];
  for (const f of files) {
    if (isTemplate(f.text)) continue; // callers pass rendered templates
    for (const d of parseAllDocuments(f.text) as Iterable<{ errors: unknown[]; toJS(): unknown }>) {
      if (d.errors.length > 0) continue;
      const value = d.toJS();
      if (value !== null && typeof value === 'object') docs.push({ rel: f.rel, value: JSON.parse(JSON.stringify(value)) as unknown });
    }
  }
  return { docs };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Step = string | number;

interface Node {
  path: Step[];
  value: Json;
}

function walk(value: Json, path: Step[], out: Node[]): void {
  out.push({ path, value });
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k], out);
}

function parentOf(root: Json, path: Step[]): { parent: Json[] | { [k: string]: Json }; key: Step } | undefined {
  if (path.length === 0) return undefined;
  let node: Json = root;
  for (const step of path.slice(0, -1)) node = (node as Record<string | number, Json>)[step]!;
  return { parent: node as Json[] | { [k: string]: Json }, key: path[path.length - 1]! };
}

function setAt(root: Json, path: Step[], value: Json): Json {
  const p = parentOf(root, path);
  if (!p) return value;
  (p.parent as Record<string | number, Json>)[p.key] = value;
  return root;
}

/** Fields whose absence the schema must notice. */
const REQUIRED_ISH = ['apiVersion', 'kind', 'metadata', 'name', 'spec', 'specs', 'endpointSelector', 'nodeSelector', 'podSelector', 'ports', 'port', 'protocol', 'cidr', 'matchName', 'matchPattern', 'key', 'operator', 'values', 'secret', 'items'];

const UNKNOWN_KEYS = ['ingres', 'toPort', 'endpointselector', 'EndpointSelector', 'fromRequires', 'toRequires', 'l7proto', 'l7', 'auth', 'kafka', 'x-unknown', '', ' ', '__proto__', 'constructor', 'prototype', 'toString', '日本', 'k'.repeat(300), '$ref', '0', 'null'];

function wrongValue(rng: Prng, other: () => Json): Json {
  switch (rng.int(22)) {
    case 0: return 42;
    case 1: return -1;
    case 2: return 3.5;
    case 3: return 1e300;
    case 4: return 'str';
    case 5: return '';
    case 6: return true;
    case 7: return null;
    case 8: return [];
    case 9: return {};
    case 10: return [1, 'two', null, {}];
    case 11: return { x: 'y', nested: { deeper: [1] } };
    case 12: return '0x1F';
    case 13: return '65536';
    case 14: return 'x'.repeat(rng.range(300, 70000));
    case 15: return '*';
    case 16: return '**.';
    case 17: return '256.1.1.1/33';
    case 18: return '::/129';
    case 19: return 'ünï 😀 \u0000 \ud800';
    case 20: return Number.MAX_SAFE_INTEGER + 2;
    default: return other();
  }
}

type Mutation = (rng: Prng, root: Json, pool: DocumentPool) => { root: Json; step: string };

const describePath = (path: Step[]): string => path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('') || '(root)';

const STRUCTURAL_MUTATIONS: Mutation[] = [
  (rng, root, pool) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const n = rng.pick(nodes);
    return { root: setAt(root, n.path, wrongValue(rng, () => randomSubtree(rng, pool))), step: `retype ${describePath(n.path)}` };
  },
  (rng, root) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const keyed = nodes.filter((n) => typeof n.path[n.path.length - 1] === 'string');
    const required = keyed.filter((n) => REQUIRED_ISH.includes(n.path[n.path.length - 1] as string));
    const pickFrom = required.length > 0 && rng.bool(0.7) ? required : keyed;
    if (pickFrom.length === 0) return { root, step: 'delete (nothing to delete)' };
    const n = rng.pick(pickFrom);
    const p = parentOf(root, n.path)!;
    delete (p.parent as Record<string, Json>)[p.key as string];
    return { root, step: `delete ${describePath(n.path)}` };
  },
  (rng, root, pool) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const objects = nodes.filter((n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value));
    if (objects.length === 0) return { root, step: 'add field (no object)' };
    const n = rng.pick(objects);
    const key = rng.pick(UNKNOWN_KEYS);
    Object.defineProperty(n.value, key, { value: wrongValue(rng, () => randomSubtree(rng, pool)), enumerable: true, configurable: true, writable: true });
    return { root, step: `add ${JSON.stringify(key)} at ${describePath(n.path)}` };
  },
  (rng, root) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const keyed = nodes.filter((n) => typeof n.path[n.path.length - 1] === 'string');
    if (keyed.length === 0) return { root, step: 'rename (nothing)' };
    const n = rng.pick(keyed);
    const p = parentOf(root, n.path)!;
    const old = p.key as string;
    const renamed = rng.pick([old.toUpperCase(), old.toLowerCase(), old + 's', old.slice(0, -1), ` ${old}`, old.replace(/^from/, 'to').replace(/^to/, 'from')]);
    const obj = p.parent as Record<string, Json>;
    delete obj[old];
    obj[renamed] = n.value;
    return { root, step: `rename ${describePath(n.path)} to ${JSON.stringify(renamed)}` };
  },
  (rng, root, pool) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const n = rng.pick(nodes);
    return { root: setAt(root, n.path, randomSubtree(rng, pool)), step: `graft a corpus subtree at ${describePath(n.path)}` };
  },
  (rng, root) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const arrays = nodes.filter((n) => Array.isArray(n.value));
    if (arrays.length === 0) return { root, step: 'array op (no array)' };
    const n = rng.pick(arrays);
    const a = n.value as Json[];
    const op = rng.int(4);
    if (op === 0) a.length = 0;
    else if (op === 1 && a.length > 0) a.push(...Array(rng.range(1, 12)).fill(a[rng.int(a.length)]));
    else if (op === 2) return { root: setAt(root, n.path, a[0] ?? null), step: `unwrap ${describePath(n.path)}` };
    else return { root: setAt(root, n.path, [a]), step: `wrap ${describePath(n.path)} in a list` };
    return { root, step: `${op === 0 ? 'empty' : 'repeat items of'} ${describePath(n.path)}` };
  },
  (rng, root) => {
    const nodes: Node[] = [];
    walk(root, [], nodes);
    const n = rng.pick(nodes);
    return { root: setAt(root, n.path, [n.value]), step: `wrap ${describePath(n.path)} in a list` };
  },
];

function randomSubtree(rng: Prng, pool: DocumentPool): Json {
  const nodes: Node[] = [];
  walk(rng.pick(pool.docs).value as Json, [], nodes);
  return JSON.parse(JSON.stringify(rng.pick(nodes).value)) as Json;
}

/** Builds structural case `i`: one or two mutated corpus documents, serialized as YAML or JSON. */
export function structuralCase(pool: DocumentPool, seed: number, i: number): FuzzCase {
  const rng = caseRng(seed, i, 2);
  const docCount = rng.bool(0.8) ? 1 : 2;
  const steps: string[] = [];
  const values: Json[] = [];
  for (let d = 0; d < docCount; d++) {
    const source = rng.pick(pool.docs);
    let root = JSON.parse(JSON.stringify(source.value)) as Json;
    steps.push(`document from ${source.rel}`);
    const n = 1 + rng.int(3);
    for (let k = 0; k < n; k++) {
      const r = rng.pick(STRUCTURAL_MUTATIONS)(rng, root, pool);
      root = r.root;
      steps.push(r.step);
    }
    values.push(root);
  }
  const format = rng.pick(['yaml', 'yaml-flow', 'json', 'json-compact'] as const);
  steps.push(`serialized as ${format}`);
  const text = values.map((v) => serialize(v, format)).join(format.startsWith('json') && values.length > 1 ? '\n---\n' : '---\n');
  return { name: `fuzz-structural-${seed}-${i}.${format.startsWith('json') ? 'json' : 'yaml'}`, text, steps };
}

function serialize(v: Json, format: 'yaml' | 'yaml-flow' | 'json' | 'json-compact'): string {
  switch (format) {
    case 'yaml':
      return stringify(v, { aliasDuplicateObjects: false, lineWidth: 0 });
    case 'yaml-flow':
      return stringify(v, { aliasDuplicateObjects: false, collectionStyle: 'flow', lineWidth: 0 });
    case 'json':
      return JSON.stringify(v, null, 2) + '\n';
    case 'json-compact':
      return JSON.stringify(v);
  }
}
