// Text-level mutations of corpus files: byte flips, line surgery, hostile YAML inserted at random
// places, scalar values retyped, truncation. Case `i` of a run is a pure function of (seed, i), so
// any failing input can be regenerated from the two numbers alone.

import type { CorpusFile } from '../corpus/corpus-files.js';
import { Prng } from './prng.js';

export interface FuzzCase {
  /** The file name given to the loader; every problem position must carry it. */
  name: string;
  text: string;
  /** What was done to the source, for the failure report. */
  steps: string[];
}

/** A PRNG for case `i` of the run seeded `seed`, independent of every other case. */
export function caseRng(seed: number, i: number, stream: number): Prng {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return new Prng((h ^ (h >>> 16)) >>> 0);
}

type Mutation = { name: string; apply: (rng: Prng, text: string, ctx: MutationContext) => string };

export interface MutationContext {
  files: readonly CorpusFile[];
  /** Every mapping key seen in the corpus (schema field names, label keys, ...). */
  keys: readonly string[];
}

export function mutationContext(files: readonly CorpusFile[]): MutationContext {
  const keys = new Set<string>();
  for (const f of files) {
    for (const m of f.text.matchAll(/^\s*(?:- )?"?([A-Za-z_][\w.\-/:]*)"?\s*:/gm)) keys.add(m[1]!);
  }
  return { files, keys: [...keys].sort() };
}

/** Builds case `i`: a corpus file with one to four text mutations applied. */
export function textCase(ctx: MutationContext, seed: number, i: number): FuzzCase {
  const rng = caseRng(seed, i, 1);
  const source = rng.pick(ctx.files);
  let text = source.text;
  const steps = [`source ${source.rel}`];
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const m = rng.pick(TEXT_MUTATIONS);
    text = m.apply(rng, text, ctx);
    steps.push(m.name);
    if (text.length > MAX_CASE_CHARS) {
      text = text.slice(0, MAX_CASE_CHARS);
      steps.push(`cut to ${MAX_CASE_CHARS} chars`);
    }
  }
  return { name: `fuzz-${seed}-${i}/${source.rel}`, text, steps };
}

// ---------------------------------------------------------------------------------------------

/** Inputs grow by repetition up to about this size: big enough for quadratic behaviour to show. */
const REPEAT_LIMIT = 128 * 1024;
/**
 * Cases are cut to this many characters. Parsing is linear but not free (~1.5 MB/s of YAML), and
 * the per-input time limit is about algorithmic blow-ups, not about raw size.
 */
export const MAX_CASE_CHARS = 512 * 1024;

const lines = (t: string): string[] => t.split('\n');

function mutateLines(text: string, f: (ls: string[]) => void): string {
  const ls = lines(text);
  f(ls);
  return ls.join('\n');
}

const indentOf = (line: string): string => /^[ \t]*/.exec(line)![0];

function deepNesting(rng: Prng): string {
  const n = rng.pick([64, 1000, 5000, 20000, 100000]);
  switch (rng.int(5)) {
    case 0:
      return '['.repeat(n) + ']'.repeat(n);
    case 1:
      return '['.repeat(n); // unterminated
    case 2:
      return '{a: '.repeat(n) + '1' + '}'.repeat(n);
    case 3:
      return '- '.repeat(Math.min(n, 20000)) + 'x';
    default:
      return Array.from({ length: Math.min(n, 3000) }, (_, d) => `${' '.repeat(d)}k${d}:`).join('\n') + ' leaf';
  }
}

function aliasBomb(rng: Prng): string {
  const width = rng.range(2, 10);
  const depth = rng.range(2, 10);
  const out = [`a0: &a0 [${Array(width).fill('"lol"').join(', ')}]`];
  for (let d = 1; d < depth; d++) out.push(`a${d}: &a${d} [${Array(width).fill(`*a${d - 1}`).join(', ')}]`);
  return out.join('\n');
}

const HOSTILE: ((rng: Prng) => string)[] = [
  deepNesting,
  aliasBomb,
  () => '&a [*a, *a]',
  () => 'x: &x {y: *x}',
  () => 'base: &base {endpointSelector: {}, ingress: [{}]}\nmerged:\n  <<: *base\n  egress: []',
  () => '<<: *x',
  () => '<<: {a: 1}',
  () => '<<: [*a, *b]',
  (rng) => '9'.repeat(rng.range(20, 5000)),
  () => '1e309',
  () => '-1e309',
  () => '0x' + 'f'.repeat(40),
  () => '0o777777777777777777777',
  (rng) => rng.pick(['.inf', '-.inf', '.nan', '-0', '1_000', '0.0000000000000000000001', '18446744073709551616']),
  () => '\u0000',
  () => '\t',
  () => '\r',
  () => '\r\n',
  () => '\ufeff',
  () => '\ud800',
  () => '\u202e\u2028\u2029\u0085',
  () => 'ünïcödé: "日本語 😀 \u{10ffff}"',
  (rng) => 'k'.repeat(rng.range(1000, 200000)) + ': v',
  (rng) => 'v: "' + 'x'.repeat(rng.range(1000, 500000)) + '"',
  () => '!!binary aGVsbG8=',
  () => 'data: !!binary |\n  R0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5',
  () => '!!set {a, b}',
  () => '!!omap [a: 1]',
  () => '!!timestamp 2001-12-14t21:59:43.10-05:00',
  () => '!custom x',
  () => '!!python/object:os.system x',
  () => '!<tag:yaml.org,2002:str> x',
  () => '!!int "12"',
  () => '!!float abc',
  () => '!!map [1]',
  () => '{{',
  () => '}}',
  () => '{{ .TestNamespace }}',
  () => '{{- range .X }}',
  () => '---',
  () => '...',
  () => '--- !!map',
  () => '%YAML 1.1\n---',
  () => '%TAG !e! tag:example.com,2000:\n---',
  () => '? [complex, key]\n: v',
  () => '? {a: 1}\n: v',
  () => '__proto__: {polluted: true}',
  () => '"__proto__": {"polluted": true}',
  () => 'constructor: {prototype: {x: 1}}',
  () => 'hasOwnProperty: 1',
  () => 'toString: x',
  () => '"unterminated',
  () => "'unterminated",
  () => '|',
  () => '>-',
  () => '|9',
  () => '- &anchor',
  () => '*undefined_alias',
  () => 'kind: List\nitems: [{kind: List, items: [{kind: List, items: []}]}]',
  () => '[{"endpointSelector": {}, "ingress": [{}]}, 1, null, "x"]',
  () => 'port: "65536"',
  () => 'port: -1',
  () => 'endPort: 99999999999',
  () => 'protocol: TCPX',
  () => 'matchPattern: "***.**.*"',
  () => 'path: "(((((((((a*)*)*)*)*)*)*)*)*"',
  () => 'method: "[[:alpha:]]{1000}{1000}"',
  () => 'cidr: 256.1.1.1/33',
  () => 'cidr: "::/129"',
  () => 'matchName: "' + 'a.'.repeat(200) + '"',
];

const SCALARS_YAML: ((rng: Prng, indent: string) => string)[] = [
  () => '42',
  () => '-1',
  () => '0',
  () => '3.14',
  () => '"42"',
  () => 'true',
  () => 'null',
  () => '~',
  () => '""',
  () => "''",
  () => '[]',
  () => '{}',
  () => '[a, 1, {b: c}]',
  () => '{k: v}',
  () => '99999999999999999999',
  () => '"*"',
  () => '0x50',
  () => '!!binary AAAA',
  () => 'TCP',
  () => 'world',
  () => '"0.0.0.0/0"',
  (_rng, indent) => `\n${indent}  - x\n${indent}  - y`,
  (_rng, indent) => `\n${indent}  a: 1\n${indent}  b: [2]`,
  (rng) => JSON.stringify('x'.repeat(rng.range(100, 100000))),
];

const SCALARS_JSON = ['42', '-1', '0', '3.14', '"42"', 'true', 'false', 'null', '""', '[]', '{}', '[1, "a", {}]', '{"k": "v"}', '1e400', '"\\u0000"', '"*"'];

const TEXT_MUTATIONS: Mutation[] = [
  {
    name: 'flip a character',
    apply: (rng, t) => {
      if (t.length === 0) return t;
      const at = rng.int(t.length);
      const ch = rng.bool(0.7) ? String.fromCharCode(rng.range(32, 127)) : rng.pick(['\n', '\t', '\r', '\u0000', '\u00a0', '\ufffd', ':', '-', '[', '{', '"', "'", '&', '*', '!', '#', '|', '>', '%', '@', '`']);
      return t.slice(0, at) + ch + t.slice(at + 1);
    },
  },
  {
    name: 'flip a bit',
    apply: (rng, t) => {
      if (t.length === 0) return t;
      const at = rng.int(t.length);
      return t.slice(0, at) + String.fromCharCode(t.charCodeAt(at) ^ (1 << rng.int(8))) + t.slice(at + 1);
    },
  },
  { name: 'delete a line', apply: (rng, t) => mutateLines(t, (ls) => void ls.splice(rng.int(ls.length), 1)) },
  {
    name: 'delete a block of lines',
    apply: (rng, t) => mutateLines(t, (ls) => void ls.splice(rng.int(ls.length), rng.range(2, 12))),
  },
  {
    name: 'duplicate a line',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const at = rng.int(ls.length);
        ls.splice(at, 0, ls[at]!);
      }),
  },
  {
    name: 'swap two lines',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const [a, b] = [rng.int(ls.length), rng.int(ls.length)];
        [ls[a], ls[b]] = [ls[b]!, ls[a]!];
      }),
  },
  {
    name: 're-indent a line',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const at = rng.int(ls.length);
        const line = ls[at]!;
        ls[at] = rng.bool() ? ' '.repeat(rng.range(1, 5)) + line : line.replace(/^ {1,4}/, '');
      }),
  },
  {
    name: 'insert a hostile string in a line',
    apply: (rng, t) => {
      const at = rng.int(t.length + 1);
      return t.slice(0, at) + rng.pick(HOSTILE)(rng) + t.slice(at);
    },
  },
  {
    name: 'insert a hostile line',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const at = rng.int(ls.length + 1);
        const indent = indentOf(ls[Math.min(at, ls.length - 1)] ?? '');
        const prefix = rng.pick(['', '- ', `${rng.pick(['spec', 'ingress', 'toPorts', 'port', 'x'])}: `]);
        const hostile = rng.pick(HOSTILE)(rng);
        ls.splice(at, 0, ...hostile.split('\n').map((h, k) => (k === 0 ? indent + prefix + h : indent + h)));
      }),
  },
  {
    name: 'retype a YAML value',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const candidates = ls.map((l, k) => [l, k] as const).filter(([l]) => /^\s*(?:- )?[^\s:#{}[\]][^:#]*:\s+\S/.test(l));
        if (candidates.length === 0) return;
        const [line, k] = rng.pick(candidates);
        const m = /^(\s*(?:- )?[^\s:#{}[\]][^:#]*:)(\s+)([\s\S]*)$/.exec(line);
        if (!m) return;
        ls[k] = m[1]! + m[2]! + rng.pick(SCALARS_YAML)(rng, indentOf(line));
      }),
  },
  {
    name: 'retype a JSON value',
    apply: (rng, t) => {
      const values = [...t.matchAll(/"[^"\n]*"\s*:\s*("(?:[^"\\\n]|\\.)*"|-?\d[\d.eE+-]*|true|false|null|\[\]|\{\})/g)];
      if (values.length === 0) return t;
      const m = rng.pick(values);
      const start = m.index! + m[0].length - m[1]!.length;
      return t.slice(0, start) + rng.pick(SCALARS_JSON) + t.slice(start + m[1]!.length);
    },
  },
  {
    name: 'turn a block value into a list or a map',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const candidates = ls.map((l, k) => [l, k] as const).filter(([l]) => /:\s*$/.test(l));
        if (candidates.length === 0) return;
        const [line, k] = rng.pick(candidates);
        ls[k] = line + ' ' + rng.pick(['[]', '{}', '"s"', '7', 'null', '[[[]]]']);
      }),
  },
  {
    name: 'replace a key with another corpus key',
    apply: (rng, t, ctx) =>
      mutateLines(t, (ls) => {
        const candidates = ls.map((l, k) => [l, k] as const).filter(([l]) => /^\s*(?:- )?"?[A-Za-z_][\w.\-/:]*"?\s*:/.test(l));
        if (candidates.length === 0 || ctx.keys.length === 0) return;
        const [line, k] = rng.pick(candidates);
        ls[k] = line.replace(/^(\s*(?:- )?"?)[A-Za-z_][\w.\-/:]*/, `$1${rng.pick(ctx.keys)}`);
      }),
  },
  {
    name: 'change the case of a key',
    apply: (rng, t) =>
      mutateLines(t, (ls) => {
        const at = rng.int(ls.length);
        ls[at] = ls[at]!.replace(/[A-Za-z_]+(?="?\s*:)/, (k) => (rng.bool() ? k.toUpperCase() : k.toLowerCase()));
      }),
  },
  {
    name: 'splice in lines from another corpus file',
    apply: (rng, t, ctx) => {
      const other = lines(rng.pick(ctx.files).text);
      const from = rng.int(other.length);
      const chunk = other.slice(from, from + rng.range(1, 20));
      return mutateLines(t, (ls) => void ls.splice(rng.int(ls.length + 1), 0, ...chunk));
    },
  },
  {
    name: 'concatenate another corpus file',
    apply: (rng, t, ctx) => t + rng.pick(['\n---\n', '\n', '']) + rng.pick(ctx.files).text,
  },
  { name: 'truncate', apply: (rng, t) => t.slice(0, rng.int(t.length + 1)) },
  {
    name: 'repeat the file',
    apply: (rng, t) => {
      const times = Math.max(2, Math.min(rng.range(2, 40), Math.floor(REPEAT_LIMIT / Math.max(1, t.length))));
      return Array(times).fill(t).join(rng.pick(['\n---\n', '\n']));
    },
  },
  {
    name: 'convert line endings',
    apply: (rng, t) => (rng.bool() ? t.replace(/\n/g, '\r\n') : t.replace(/\n/g, '\r')),
  },
];

// ---------------------------------------------------------------------------------------------
// Hand-written hostile files, loaded one after another (each twice) by the hostile-input test.
// Some only misbehave when the process has already parsed something deep, so order matters.

const CNP_HEAD = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: hostile\nspec:\n  endpointSelector: {}\n';

export const HOSTILE_FILES: readonly { label: string; text: string }[] = [
  { label: '20k unterminated [', text: '['.repeat(20000) },
  { label: '20k nested [ ]', text: '['.repeat(20000) + ']'.repeat(20000) },
  { label: '20k nested {a: }', text: '{a: '.repeat(20000) + '1' + '}'.repeat(20000) },
  { label: '20k nested block sequences on one line', text: '- '.repeat(20000) + 'x' },
  { label: '3k nested block mappings', text: Array.from({ length: 3000 }, (_, d) => `${' '.repeat(d)}k${d}:`).join('\n') + ' leaf' },
  { label: 'policy with a 20k-deep selector value', text: CNP_HEAD + '  ingress:\n  - fromEndpoints:\n    - matchLabels: ' + '['.repeat(20000) + ']'.repeat(20000) + '\n' },
  {
    label: 'alias bomb (9^9 expansions)',
    text: ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...Array.from({ length: 8 }, (_, d) => `a${d + 1}: &a${d + 1} [${Array(9).fill(`*a${d}`).join(', ')}]`)].join('\n'),
  },
  { label: 'alias bomb inside a policy', text: CNP_HEAD + '  ingress: &r [{fromEndpoints: [{}]}, *r, *r]\n' },
  { label: 'self-referencing anchor', text: '&a [*a, *a]' },
  { label: 'anchor referencing itself in a map', text: 'a: &a {b: *a}' },
  { label: 'merge keys', text: 'base: &b {endpointSelector: {}, ingress: [{}]}\nspec:\n  <<: [*b, *b]\n' },
  { label: '5000-digit port', text: CNP_HEAD + '  ingress:\n  - toPorts:\n    - ports:\n      - port: ' + '9'.repeat(5000) + '\n' },
  { label: '200k-character key', text: 'k'.repeat(200000) + ': v\n' },
  { label: '200k-character quoted key in a policy', text: CNP_HEAD + '  "' + 'k'.repeat(200000) + '": v\n' },
  { label: 'NUL bytes', text: CNP_HEAD.replace('hostile', 'host\u0000ile') + '  ingress: [{}]\n\u0000\n' },
  { label: '25k empty documents', text: '---\n'.repeat(25000) },
  { label: '20k empty rule elements', text: CNP_HEAD + '  ingress:\n' + '  - {}\n'.repeat(20000) },
  { label: 'prototype keys', text: CNP_HEAD + '  __proto__: {x: 1}\n  constructor: 1\n  ingress:\n  - toString: 1\n    hasOwnProperty: [1]\n    toPorts: [{valueOf: 1, ports: [{port: "80", __proto__: 1}]}]\n' },
  { label: 'prototype keys in a bare rule list', text: '[{"endpointSelector": {}, "constructor": 1, "ingress": [{"__proto__": {"fromEndpoints": [{}]}}]}]' },
  { label: 'nested quantifiers in an HTTP path', text: CNP_HEAD + '  ingress:\n  - toPorts:\n    - ports: [{port: "80", protocol: TCP}]\n      rules:\n        http:\n        - path: "' + '(a*)*'.repeat(2000) + '"\n' },
  { label: '10k stars in a DNS pattern', text: CNP_HEAD + '  egress:\n  - toFQDNs:\n    - matchPattern: "' + '*'.repeat(10000) + '"\n' },
  { label: 'binary and custom tags', text: CNP_HEAD + '  ingress: !!binary aGVsbG8=\n  egress: !custom {a: 1}\n  labels: !!set {a, b}\n' },
];
