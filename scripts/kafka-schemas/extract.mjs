#!/usr/bin/env node
// Extracts protocol facts from Apache Kafka's JSON message schemas into our normalized
// proxylib/kafka/protocol/messages.json. Usage: node scripts/kafka-schemas/extract.mjs <dir>
// where <dir> is clients/src/main/resources/common/message of an apache/kafka checkout.
// Only wire facts are kept (names, types, version ranges, tags, defaults, entity types); the
// upstream files' comments, "about" texts and license blocks never enter the repo.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE = {
  repository: 'apache/kafka',
  commit: '1eb7644349cb07139d6a3c1ad1986979647cac99',
  version: '4.0.0-SNAPSHOT',
  date: '2024-10-25',
};
/** Data schemas (not requests or responses) that clients put inside bytes fields and we decode. */
const DATA_SCHEMAS = new Set(['ConsumerProtocolSubscription', 'ConsumerProtocolAssignment']);
const FIELD_KEYS = ['name', 'type', 'versions', 'nullableVersions', 'taggedVersions', 'tag', 'default',
  'flexibleVersions', 'mapKey', 'entityType', 'ignorable'];
const TOP_KEYS = ['apiKey', 'type', 'name', 'validVersions', 'flexibleVersions', 'latestVersionUnstable'];

function readSchema(path) {
  // Upstream files carry `//` comment lines (the license block and notes) that JSON does not allow.
  const text = readFileSync(path, 'utf8').split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n');
  return JSON.parse(text);
}

function pick(obj, keys) {
  const out = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function normalizeField(f) {
  const out = pick(f, FIELD_KEYS);
  if (f.fields) out.fields = f.fields.map(normalizeField);
  return out;
}

function normalize(schema) {
  const out = pick(schema, TOP_KEYS);
  out.fields = schema.fields.map(normalizeField);
  if (schema.commonStructs) {
    out.commonStructs = schema.commonStructs.map((s) => ({ ...pick(s, ['name', 'versions']), fields: s.fields.map(normalizeField) }));
  }
  return out;
}

const KIND_ORDER = { request: 0, response: 1, header: 2, data: 3 };

export function extract(dir) {
  const messages = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const schema = readSchema(join(dir, file));
    const keep = schema.type === 'request' || schema.type === 'response' || schema.type === 'header' ||
      (schema.type === 'data' && DATA_SCHEMAS.has(schema.name));
    if (keep) messages.push(normalize(schema));
  }
  messages.sort((a, b) => (a.apiKey ?? 1e9) - (b.apiKey ?? 1e9) || KIND_ORDER[a.type] - KIND_ORDER[b.type] ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const requests = messages.filter((m) => m.type === 'request').length;
  const responses = messages.filter((m) => m.type === 'response').length;
  if (requests !== responses) throw new Error(`extract: ${requests} request schemas but ${responses} response schemas`);
  for (const name of DATA_SCHEMAS) if (!messages.some((m) => m.name === name)) throw new Error(`extract: data schema ${name} missing`);
  return { source: SOURCE, messages };
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: extract.mjs <kafka clients/src/main/resources/common/message dir>');
    process.exit(2);
  }
  const out = new URL('../../proxylib/kafka/protocol/messages.json', import.meta.url).pathname;
  const doc = extract(dir);
  writeFileSync(out, JSON.stringify(doc, null, 1) + '\n');
  console.log(`extract: wrote ${doc.messages.length} schemas to ${out}`);
}
