#!/usr/bin/env node
// Generates proxylib/kafka/protocol/generated/messages.ts from our normalized messages.json:
// one TypeScript type per message and struct, the KafkaMessageTypes map, and the descriptor
// tables the hand-written codec (proxylib/kafka/protocol) compiles into per-version plans.
//   node scripts/kafka-schemas/generate.mjs            writes the file
//   node scripts/kafka-schemas/generate.mjs --stdout   prints it (the staleness test compares)
// Hand-written because no npm package generates TypeScript codecs from Kafka's JSON schemas.
import { readFileSync, writeFileSync } from 'node:fs';

const OPEN = 32767;
const PRIMITIVE_TS = {
  bool: 'boolean', int8: 'number', int16: 'number', int32: 'number', uint16: 'number', uint32: 'number',
  float64: 'number', int64: 'bigint', uuid: 'string', string: 'string', bytes: 'Buffer', records: 'Buffer',
};

function parseVersions(text, what) {
  if (text === undefined) return undefined;
  if (text === 'none') return null;
  let m;
  if ((m = /^(\d+)\+$/.exec(text))) return [Number(m[1]), OPEN];
  if ((m = /^(\d+)-(\d+)$/.exec(text))) return [Number(m[1]), Number(m[2])];
  if ((m = /^(\d+)$/.exec(text))) return [Number(m[1]), Number(m[1])];
  throw new Error(`generate: bad version range ${JSON.stringify(text)} in ${what}`);
}

const lowerFirst = (s) => s.charAt(0).toLowerCase() + s.slice(1);

function generate(doc) {
  const types = [];       // TypeScript type declarations
  const typeNames = new Set();
  const descriptors = []; // message descriptor literals

  for (const msg of doc.messages) {
    const common = new Map((msg.commonStructs ?? []).map((s) => [s.name, s]));
    const emitted = new Map(); // struct name -> { tsName, descriptorText }
    const flexibleEver = msg.flexibleVersions !== undefined && msg.flexibleVersions !== 'none';

    const structOf = (structName, fields, where) => {
      const tsName = where === 'root' ? msg.name : msg.name + structName;
      const seen = emitted.get(structName);
      if (seen) return seen;
      const entry = { tsName, text: '' };
      emitted.set(structName, entry);
      const props = [];
      const fieldTexts = [];
      for (const f of fields) {
        const isArray = f.type.startsWith('[]');
        const elem = isArray ? f.type.slice(2) : f.type;
        const isPrimitive = elem in PRIMITIVE_TS;
        let sub;
        if (!isPrimitive) {
          const def = f.fields ?? common.get(elem)?.fields;
          if (!def) throw new Error(`generate: ${msg.name}.${f.name}: unknown struct type ${elem}`);
          sub = structOf(elem, def, 'nested');
        }
        const nullable = (f.nullableVersions !== undefined && f.nullableVersions !== 'none') || f.default === 'null';
        const base = isPrimitive ? PRIMITIVE_TS[elem] : sub.tsName;
        const ts = (isArray ? `${base}[]` : base) + (nullable ? ' | null' : '');
        const name = lowerFirst(f.name);
        props.push(`  ${name}: ${ts};`);
        const d = { n: name, t: isArray ? `[]${isPrimitive ? elem : 'struct'}` : isPrimitive ? elem : 'struct',
          v: parseVersions(f.versions, `${msg.name}.${f.name}`) };
        if (f.nullableVersions !== undefined) d.nv = parseVersions(f.nullableVersions, f.name);
        if (f.taggedVersions !== undefined) d.tv = parseVersions(f.taggedVersions, f.name);
        if (f.tag !== undefined) d.tag = Number(f.tag); // upstream writes some tags as strings
        if (f.default !== undefined) d.d = f.default;
        if (f.ignorable) d.ig = true;
        if (f.flexibleVersions !== undefined) d.fv = parseVersions(f.flexibleVersions, f.name);
        if (f.entityType !== undefined) d.e = f.entityType;
        let text = JSON.stringify(d);
        if (sub) text = `${text.slice(0, -1)}, "s": ${sub.ref}}`;
        fieldTexts.push(text);
      }
      if (flexibleEver) props.push('  /** Tagged fields this schema does not define, written back as they came. */\n  _unknownTaggedFields?: KafkaRawTaggedField[];');
      if (typeNames.has(tsName)) throw new Error(`generate: type name ${tsName} defined twice`);
      typeNames.add(tsName);
      types.push(`export type ${tsName} = {\n${props.join('\n')}\n};`);
      entry.ref = `S_${tsName}`;
      entry.text = `const S_${tsName}: KafkaStructDescriptor = { name: ${JSON.stringify(tsName)}, fields: [\n${fieldTexts.map((t) => `  ${t},`).join('\n')}\n] };`;
      descriptors.push(entry.text);
      return entry;
    };
    const root = structOf(msg.name, msg.fields, 'root');
    msg._rootRef = root.ref;
  }

  const messageRows = doc.messages.map((m) => {
    const valid = JSON.stringify(parseVersions(m.validVersions, m.name));
    const flexible = JSON.stringify(parseVersions(m.flexibleVersions ?? 'none', m.name));
    return `  { apiKey: ${m.apiKey ?? 'undefined'}, kind: '${m.type}', name: '${m.name}', valid: ${valid}, ` +
      `flexible: ${flexible}, latestVersionUnstable: ${m.latestVersionUnstable === true}, root: ${m._rootRef} },`;
  });

  const apis = new Map();
  for (const m of doc.messages) {
    if (m.type !== 'request' && m.type !== 'response') continue;
    const e = apis.get(m.apiKey) ?? {};
    e[m.type] = m.name;
    apis.set(m.apiKey, e);
  }
  const typeMap = [...apis.entries()].map(([k, e]) => `  ${k}: { request: ${e.request}; response: ${e.response} };`);

  const src = doc.source;
  return [
    '// generated by scripts/kafka-schemas/generate.mjs from messages.json; do not edit.',
    `// Source: ${src.repository} ${src.commit} (${src.version}, ${src.date}).`,
    "import type { KafkaMessageDescriptor, KafkaRawTaggedField, KafkaStructDescriptor } from '../schema-types.js';",
    '',
    `export const KAFKA_SCHEMA_SOURCE = ${JSON.stringify(src).replace(/"(\w+)":/g, '$1: ').replace(/,/g, ', ')} as const;`,
    '',
    ...types,
    '',
    '/** Request and response value types by API key. */',
    'export type KafkaMessageTypes = {',
    ...typeMap,
    '};',
    '',
    ...descriptors,
    '',
    '/** Every schema of messages.json: requests and responses by API key, the headers, the data schemas. */',
    'export const KAFKA_MESSAGE_DESCRIPTORS: readonly KafkaMessageDescriptor[] = [',
    ...messageRows,
    '];',
    '',
  ].join('\n');
}

export function generateFromFile(path) {
  return generate(JSON.parse(readFileSync(path, 'utf8')));
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const input = new URL('../../proxylib/kafka/protocol/messages.json', import.meta.url).pathname;
  const output = new URL('../../proxylib/kafka/protocol/generated/messages.ts', import.meta.url).pathname;
  const text = generateFromFile(input);
  if (process.argv.includes('--stdout')) process.stdout.write(text);
  else {
    writeFileSync(output, text);
    console.log(`generate: wrote ${output}`);
  }
}
