// Bounded mutation fuzzing of the snapshot file parser: whatever the bytes, parseSnapshotText returns
// (never throws, never hangs) and every problem it reports has a code, a message and a real place in
// the file. Seeded, so a failure replays: FUZZ_SEED=<seed printed in the failure> node scripts/run-tests.mjs xds fuzz.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSnapshotText } from '../../xds/index.js';
import { Prng } from '../fuzz/prng.js';
import { grpcSnapshotDocument, grpcSnapshotYaml } from './grpc-snapshot-builder.js';

const CASES = Number(process.env.FUZZ_CASES ?? 400);
const TIME_BUDGET_MS = 20_000;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 0xffffffff);

const OPTS = { serviceName: 'greeter.local', backendPorts: [21001, 21002], serverPorts: [21003], deniedPaths: ['/hw.Greeter/Secret'] };
const SEEDS = [grpcSnapshotYaml(OPTS), JSON.stringify(grpcSnapshotDocument(OPTS), null, 1)];
const TOKENS = ['"@type"', 'type.googleapis.com/envoy.config.listener.v3.Listener', 'type.googleapis.com/google.protobuf.Any', '{', '}', '[', ']', ':', '- ', '\n  ', '"', "'", '&a', '*a', '!!binary', '---', 'null', '1e999', '-1', '"1s"', 'static_resources:', 'resources:', 'typed_config:', '\t', '\u0000', '💥'];

function mutate(rng: Prng, text: string): string {
  let out = text;
  for (let n = rng.range(1, 6); n > 0; n--) {
    const at = rng.int(out.length + 1);
    switch (rng.int(4)) {
      case 0: // delete a span
        out = out.slice(0, at) + out.slice(Math.min(out.length, at + rng.range(1, 40)));
        break;
      case 1: // insert a token
        out = out.slice(0, at) + rng.pick(TOKENS) + out.slice(at);
        break;
      case 2: {
        // duplicate a span elsewhere
        const from = rng.int(out.length);
        out = out.slice(0, at) + out.slice(from, from + rng.range(1, 80)) + out.slice(at);
        break;
      }
      default: // flip a character
        out = out.slice(0, at) + String.fromCharCode(rng.range(32, 127)) + out.slice(at + 1);
    }
  }
  return out;
}

test('the snapshot file parser returns located problems for any mutation of a valid file', () => {
  const started = Date.now();
  let problemsSeen = 0;
  let cases = 0;
  for (let i = 0; i < CASES && Date.now() - started < TIME_BUDGET_MS; i++, cases++) {
    const rng = new Prng((SEED + i * 0x9e3779b1) >>> 0);
    const text = mutate(rng, rng.pick(SEEDS));
    const lines = text.split('\n').length;
    let result: ReturnType<typeof parseSnapshotText>;
    try {
      result = parseSnapshotText('fuzz.yaml', text);
    } catch (err) {
      assert.fail(`case ${i} (FUZZ_SEED=${SEED}) threw: ${err instanceof Error ? err.stack : String(err)}\n--- input\n${text}`);
    }
    for (const p of result.problems) {
      problemsSeen++;
      assert.match(p.code, /^MESHD_ERR_XDS_/, `case ${i} (FUZZ_SEED=${SEED})`);
      assert.ok(p.message.length > 0);
      assert.equal(p.position.file, 'fuzz.yaml');
      assert.ok(p.position.line >= 1 && p.position.line <= lines, `case ${i} (FUZZ_SEED=${SEED}): line ${p.position.line} of ${lines}`);
      assert.ok(p.position.col >= 1);
    }
  }
  assert.ok(cases >= Math.min(CASES, 50), `only ${cases} cases ran in ${TIME_BUDGET_MS} ms`);
  assert.ok(problemsSeen > 0, 'the mutations never produced a problem: the fuzzer is not reaching the parser');
});
