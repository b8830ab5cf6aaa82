// Bounded fuzzing of the Kafka framing and decoders (issue 6: "no crash, no hang, no unbounded
// allocation"), seeded from the golden frames of test/fixtures/kafka-golden/. Each mode runs in a
// child process (test/fixtures/kafka-golden/fuzz-child.ts) with a small heap and a watchdog, so a
// hang or an allocation the heap cannot hold is caught and its input regenerated from the seed and
// case index; what the child checks per case is described there. Here, in-process: hostile length
// fields in tiny frames must be rejected without allocating what they claim.
//
//   FUZZ_SEED (default fixed, printed), FUZZ_ITERATIONS (default 200000 per mode), FUZZ_SECONDS
//   (default 2.5 per mode). On failure the seed, the case index, the steps and the input hex are
//   printed and written under os.tmpdir().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { KafkaFrameSplitter, KafkaProtocolError, decodeRequestBody, decodeRequestHeader } from '../../proxylib/index.js';
import { parseSeed } from '../fuzz/prng.js';
import { KafkaFuzzCorpus, type KafkaFuzzMode } from '../fixtures/kafka-golden/fuzz-cases.js';
import type { KafkaFuzzDone, KafkaFuzzFailure, KafkaFuzzJob } from '../fixtures/kafka-golden/fuzz-child.js';

const SEED = parseSeed(process.env['FUZZ_SEED']) ?? 0x6b61666b; // "kafk"
const ITERATIONS = Number(process.env['FUZZ_ITERATIONS'] ?? 200_000);
const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 2.5);
const PER_INPUT_MS = 250;
/** No 'start' from the child for this long: the case it started hangs. */
const WATCHDOG_MS = 10_000;
/** The child's heap: a decoder that allocates what a hostile length claims cannot fit in it. */
const CHILD_HEAP_MB = 192;
const MAX_RSS_BYTES = 512 * 1024 * 1024;
/** The child's heap after the run: what the codec keeps (compiled plans, the bounded topic-id cache) is small. */
const MAX_HEAP_AFTER_BYTES = 128 * 1024 * 1024;
const CHILD = fileURLToPath(new URL('../fixtures/kafka-golden/fuzz-child.js', import.meta.url));

interface ChildRun {
  done: KafkaFuzzDone | undefined;
  failures: KafkaFuzzFailure[];
  /** The case running when the child hung or died, and how it ended. */
  lost: { i: number; how: string } | undefined;
}

function runChild(job: KafkaFuzzJob): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [], {
      env: { ...process.env, MESHD_KAFKA_FUZZ_JOB: JSON.stringify(job) },
      execArgv: ['--enable-source-maps', `--max-old-space-size=${CHILD_HEAP_MB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const run: ChildRun = { done: undefined, failures: [], lost: undefined };
    let current = -1;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        run.lost = { i: current, how: `no progress for ${WATCHDOG_MS} ms (a hang)` };
        child.kill('SIGKILL');
      }, WATCHDOG_MS);
    };
    arm();
    child.on('message', (m: { type: string; i?: number }) => {
      if (m.type === 'start') {
        current = m.i!;
        arm();
      } else if (m.type === 'failure') run.failures.push(m as KafkaFuzzFailure);
      else if (m.type === 'done') run.done = m as KafkaFuzzDone;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!run.done && !run.lost) run.lost = { i: current, how: `the child exited (code ${code}, signal ${signal}) — a crash or heap exhaustion` };
      resolve(run);
    });
  });
}

function report(mode: KafkaFuzzMode, run: ChildRun, corpus: KafkaFuzzCorpus): string[] {
  const lines: string[] = [];
  for (const f of run.failures) {
    const file = join(tmpdir(), `meshd-kafka-fuzz-${mode}-${SEED}-${f.i}.json`);
    writeFileSync(file, JSON.stringify({ mode, seed: SEED, ...f }, null, 2));
    lines.push(`${mode} case ${f.i} (seed ${SEED}): ${f.defects.join('\n    ')}\n  steps: ${f.steps.join('; ')}\n  input: ${f.hex.slice(0, 400)}${f.hex.length > 400 ? '…' : ''}\n  written to ${file}`);
  }
  if (run.lost) {
    const { i, how } = run.lost;
    if (i < 0) return [...lines, `${mode}: ${how} before its first case (its stderr is above: a module that failed to load?)`];
    const input = mode === 'stream' ? corpus.streamCase(SEED, i) : mode === 'responses' ? corpus.responseCase(SEED, i) : corpus.frameCase(mode, SEED, i);
    const hex = 'frame' in input ? input.frame.toString('hex') : Buffer.concat(input.chunks).toString('hex');
    const file = join(tmpdir(), `meshd-kafka-fuzz-${mode}-${SEED}-${i}-lost.json`);
    writeFileSync(file, JSON.stringify({ mode, seed: SEED, i, how, steps: input.steps, hex }, null, 2));
    lines.push(`${mode} case ${i} (seed ${SEED}): ${how}\n  steps: ${input.steps.join('; ')}\n  input: ${hex.slice(0, 400)}\n  written to ${file}`);
  }
  return lines;
}

async function fuzz(mode: KafkaFuzzMode, minCases: number): Promise<void> {
  const corpus = new KafkaFuzzCorpus();
  console.log(`kafka ${mode} fuzz: seed ${SEED} (0x${SEED.toString(16)}), up to ${ITERATIONS} cases or ${SECONDS} s`);
  const run = await runChild({ mode, seed: SEED, from: 0, iterations: ITERATIONS, budgetMs: SECONDS * 1000, perInputMs: PER_INPUT_MS, maxFailures: 8 });
  const problems = report(mode, run, corpus);
  const done = run.done;
  if (done) {
    console.log(
      `kafka ${mode} fuzz: ${done.cases} cases in ${done.elapsedMs.toFixed(0)} ms; outcomes ${JSON.stringify(done.outcomes)}; errors ${JSON.stringify(done.codes)}; ` +
        `slowest ${done.slowest.ms.toFixed(1)} ms (case ${done.slowest.i}); peak RSS ${(done.maxRssBytes / 2 ** 20).toFixed(0)} MiB, heap after ${(done.heapUsedBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    if (Object.keys(done.failureCounts).length > 0) console.log(`kafka ${mode} fuzz: failing cases per kind ${JSON.stringify(done.failureCounts)}`);
    assert.ok(done.apiLayer || mode === 'stream', 'proxylib exports requestFacts, denyResponse and TopicNameCache (the API layer is fuzzed too)');
    if (done.maxRssBytes > MAX_RSS_BYTES) problems.push(`peak RSS ${done.maxRssBytes} bytes, over ${MAX_RSS_BYTES}: some input made the codec allocate what it claimed`);
    if (done.heapUsedBytes > MAX_HEAP_AFTER_BYTES) problems.push(`${done.heapUsedBytes} bytes of heap in use after the run, over ${MAX_HEAP_AFTER_BYTES}: something grows with every input`);
    if (problems.length === 0) assert.ok(done.cases >= minCases, `only ${done.cases} cases ran in ${SECONDS} s`);
  }
  assert.deepEqual(problems, [], problems.join('\n\n'));
}

test('mutated golden frames: the decoders, request facts and deny responses never throw anything but KafkaProtocolError, never hang', { timeout: 180_000 }, async () => {
  await fuzz('mutate', 1000);
});

test('a hostile length at every offset of every golden frame is rejected or decoded, quickly and within the heap', { timeout: 180_000 }, async () => {
  await fuzz('lengths', 1000);
});

test('golden frames with odd but encodable values: request facts and deny responses answer every one', { timeout: 180_000 }, async () => {
  await fuzz('values', 1000);
});

test('mutated responses: decoding and topic-id learning never throw anything but KafkaProtocolError, never hang', { timeout: 180_000 }, async () => {
  await fuzz('responses', 1000);
});

test('the frame splitter returns the very frames sent, whatever the chunking, and stops at a hostile size', { timeout: 180_000 }, async () => {
  await fuzz('stream', 1000);
});

/** Header v1 of (apiKey, apiVersion), client id "x", then `body`. */
function frameOf(apiKey: number, apiVersion: number, body: string, flexibleHeader = false): Buffer {
  return Buffer.concat([Buffer.from([apiKey >> 8, apiKey & 0xff, apiVersion >> 8, apiVersion & 0xff, 0, 0, 0, 7, 0, 1, 0x78]), Buffer.from(flexibleHeader ? '00' : '', 'hex'), Buffer.from(body, 'hex')]);
}

test('a tiny frame claiming a huge array, string or byte string is rejected without allocating what it claims', () => {
  const cases: Array<[string, Buffer]> = [
    ['Metadata v1: 2^31-1 topics', frameOf(3, 1, '7fffffff')],
    ['Metadata v9: a compact array of 2^32-2 topics', frameOf(3, 9, 'ffffffff0f', true)],
    ['Produce v7: 2^31-1 topics', frameOf(0, 7, 'ffff' + 'ffff' + '00007530' + '7fffffff')],
    ['Produce v7: records of 2^31-1 bytes', frameOf(0, 7, 'ffff' + 'ffff' + '00007530' + '00000001' + '000174' + '00000001' + '00000000' + '7fffffff' + '00')],
    ['Produce v9: compact records of 2^32-2 bytes', frameOf(0, 9, '00' + 'ffff' + '00007530' + '02' + '0274' + '02' + '00000000' + 'ffffffff0f' + '00', true)],
    ['JoinGroup v5: protocol metadata of 2^31-1 bytes', frameOf(11, 5, '000167' + '00007530' + '00007530' + '0000' + 'ffff' + '000163' + '00000001' + '00016e' + '7fffffff')],
    ['OffsetCommit v2: a 32767-byte group id', frameOf(8, 2, '7fff' + '61')],
    ['Fetch v12: 2^32-1 tagged fields', frameOf(1, 12, 'ffffffff' + '000001f4' + '00000001' + '03200000' + '00' + '00000000' + 'ffffffff' + '01' + '01' + '01' + 'ffffffff0f', true)],
    ['Fetch v12: a tagged field of 2^32-1 bytes', frameOf(1, 12, 'ffffffff' + '000001f4' + '00000001' + '03200000' + '00' + '00000000' + 'ffffffff' + '01' + '01' + '01' + '01' + '00' + 'ffffffff0f', true)],
    ['DescribeConfigs v4: 2^31 configuration keys', frameOf(32, 4, '02' + '02' + '0274' + '8080808008', true)],
    ['CreateTopics v4: 2^31-1 assignments', frameOf(19, 4, '00000001' + '000174' + '00000001' + '0001' + '7fffffff')],
  ];
  const memory = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  for (const [name, frame] of cases) {
    assert.ok(frame.length <= 48, `${name}: a ${frame.length}-byte frame`);
    const before = memory();
    const t0 = performance.now();
    let error: unknown;
    try {
      const header = decodeRequestHeader(frame);
      assert.equal(header.known, true, `${name}: a known version`);
      decodeRequestBody(header.apiKey, header.apiVersion, frame, header.bodyOffset);
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - t0;
    const grown = memory() - before;
    assert.ok(error instanceof KafkaProtocolError, `${name}: rejected with KafkaProtocolError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    assert.equal(error.code, 'MESHD_ERR_KAFKA_DECODE', name);
    assert.ok(ms < 50, `${name}: took ${ms.toFixed(1)} ms`);
    assert.ok(grown < 1024 * 1024, `${name}: memory grew by ${grown} bytes`);
  }
});

test('a size prefix near the frame limit makes the splitter wait, not allocate the frame', () => {
  const splitter = new KafkaFrameSplitter(104_857_600);
  const before = process.memoryUsage().arrayBuffers;
  const head = Buffer.alloc(20, 0x41);
  head.writeInt32BE(104_857_600, 0);
  assert.deepEqual(splitter.push(head), []);
  for (let i = 0; i < 1000; i++) assert.deepEqual(splitter.push(Buffer.alloc(16, i & 0xff)), []);
  assert.equal(splitter.buffered, 20 + 16_000);
  assert.ok(process.memoryUsage().arrayBuffers - before < 4 * 1024 * 1024, 'buffered bytes only, not the announced 100 MiB');
  for (const size of [104_857_601, 0x7fffffff, -1, -0x80000000]) {
    const s = new KafkaFrameSplitter(104_857_600);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    assert.throws(() => s.push(prefix), (e: unknown) => e instanceof KafkaProtocolError && e.code === 'MESHD_ERR_KAFKA_FRAME', `size ${size}`);
  }
});
