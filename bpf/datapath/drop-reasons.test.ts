import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DROP_REASONS, DROP_REASON_DESCRIPTIONS, dropReasonName } from './drop-reasons.js';

const HEADER = fileURLToPath(new URL('../../../bpf/lib/drop_reasons.h', import.meta.url));

function headerReasons(): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of readFileSync(HEADER, 'utf8').matchAll(/^\s*DROP_([A-Z0-9_]+)\s*=\s*(\d+),/gm)) {
    const code = Number(m[2]);
    assert.ok(!out.has(code), `drop_reasons.h gives number ${code} twice`);
    out.set(code, m[1]!);
  }
  return out;
}

test('the TypeScript drop reasons are exactly the list in bpf/lib/drop_reasons.h', () => {
  const fromHeader = headerReasons();
  assert.ok(fromHeader.size >= 4, 'the header parser found the enum');
  assert.deepEqual(
    [...fromHeader].sort((a, b) => a[0] - b[0]),
    Object.entries(DROP_REASONS).map(([code, name]) => [Number(code), name]),
  );
});

test('drop reason numbers are dense from 0, so a gap cannot hide a deleted reason', () => {
  const codes = [...headerReasons().keys()].sort((a, b) => a - b);
  assert.deepEqual(codes, codes.map((_, i) => i));
});

test('every drop reason has a description, and unknown numbers get a readable name', () => {
  for (const name of Object.values(DROP_REASONS)) assert.ok(DROP_REASON_DESCRIPTIONS[name].length > 0, name);
  assert.equal(dropReasonName(1), 'POLICY_DENY_RULE');
  assert.equal(dropReasonName(4242), 'UNKNOWN_4242');
});
