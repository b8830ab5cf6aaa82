#!/usr/bin/env node
// Runs `meshd policy trace -o json` for each flow of a flows file and prints one table row per
// flow. Exits 1 if a verdict differs from the flow's `expect`, so the demo doubles as a check.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';

const flowsFile = process.argv[2] ?? 'docs/examples/flows.yaml';
const flows = parse(readFileSync(flowsFile, 'utf8'));
// An empty or malformed flows file would otherwise print an empty table and pass as a check.
if (!Array.isArray(flows) || flows.length === 0) {
  console.error(`${flowsFile}: expected a non-empty YAML list of flows`);
  process.exit(1);
}
const rows = [];
let mismatches = 0;
for (const f of flows) {
  const args = ['bin/meshd.js', 'policy', 'trace', '--policies', 'docs/examples/policies', '--endpoints', 'docs/examples/endpoints.yaml',
    '--from', f.from, '--to', f.to, '--port', f.port, '-o', 'json'];
  let request = '';
  if (f.http) {
    args.push('--http-method', f.http.method, '--http-path', f.http.path);
    request = `${f.http.method} ${f.http.path}`;
  }
  if (f.kafka) {
    args.push('--kafka-api-key', f.kafka.apiKey, '--kafka-topic', f.kafka.topic);
    request = `kafka ${f.kafka.apiKey} ${f.kafka.topic}`;
  }
  if (f.dns) {
    args.push('--dns-query', f.dns);
    request = `dns ${f.dns}`;
  }
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    console.error(`trace failed for ${f.from} -> ${f.to}:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
  const deciding = result.egress.verdict === 'denied' ? result.egress : result.ingress.verdict === 'denied' ? result.ingress : result.ingress.policy ? result.ingress : result.egress;
  // The exit status is part of the CLI's contract (0 allowed, 1 denied): check it with the verdict.
  const ok = result.verdict === f.expect && r.status === (result.verdict === 'allowed' ? 0 : 1);
  if (!ok) mismatches++;
  rows.push([f.from, f.to, f.port, request, result.verdict.toUpperCase() + (ok ? '' : ` (expected ${f.expect}, exit status ${r.status})`), deciding.stage, deciding.policy ?? '-']);
}
const header = ['FROM', 'TO', 'PORT', 'REQUEST', 'VERDICT', 'STAGE', 'DECIDED BY'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(`\n${rows.length} flows traced, ${rows.length - mismatches} as intended`);
process.exit(mismatches ? 1 : 0);
