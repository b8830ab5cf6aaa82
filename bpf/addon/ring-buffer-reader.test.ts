import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BpfObject, RingBufferReader, type BpfProgram } from './index.js';
import { removePinDir, requireBpfKernel, testPinDir } from './testing/kernel-fixtures.js';
import { removeTestPrograms, testProgramPath } from './testing/test-programs.js';

/** struct connect_event of addon_test.bpf.c: xdp_by_length writes the frame length as `port`. */
interface Event {
  pid: number;
  port: number;
  verdict: number;
  sequence: number;
}
const decode = (record: Buffer): Event => ({
  pid: record.readUInt32LE(0),
  port: record.readUInt16LE(4),
  verdict: record.readUInt16LE(6),
  sequence: record.readUInt32LE(8),
});

/** Resolves once `predicate` holds, checking every 10 ms for at most `limitMs`. */
async function waitFor(predicate: () => boolean, limitMs = 2000): Promise<void> {
  for (let waited = 0; !predicate(); waited += 10) {
    if (waited >= limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await sleep(10);
  }
}

describe('RingBufferReader', () => {
  let object: BpfObject;
  let pinRoot: string;
  let xdp: BpfProgram;
  /** One record per frame: frames of 14 + i bytes carry port 14 + i. */
  const emit = (lengths: number[]): void => {
    for (const length of lengths) xdp.testRun({ dataIn: Buffer.alloc(length) });
  };

  before(() => {
    requireBpfKernel();
    pinRoot = testPinDir('ringbuf');
    object = BpfObject.open(testProgramPath('addon_test'), { pinRoot });
    object.load();
    xdp = object.program('xdp_by_length');
  });
  after(() => {
    object?.close();
    if (pinRoot) removePinDir(pinRoot);
    removeTestPrograms();
  });

  test('delivers the records through the event loop, in kernel order, all of one wake-up in one call', async () => {
    const calls: Event[][] = [];
    const reader = new RingBufferReader(object.map('events'), (records) => calls.push(records.map(decode)));
    try {
      const lengths = Array.from({ length: 200 }, (_, i) => 14 + i);
      emit(lengths); // synchronous: the loop cannot run the reader before all 200 are in the ring
      assert.equal(calls.length, 0, 'records are delivered from the event loop, never synchronously');
      await waitFor(() => calls.flat().length >= lengths.length);
      assert.equal(calls.length, 1);
      assert.deepEqual(calls.flat().map((event) => event.port), lengths);
      assert.ok(calls.flat().every((event) => event.pid === process.pid && event.verdict === 1));
    } finally {
      reader.close();
    }
  });

  test('splits a flood into calls of at most 4096 records, losing none and keeping the order', async () => {
    const calls: Event[][] = [];
    const reader = new RingBufferReader(object.map('events'), (records) => calls.push(records.map(decode)));
    try {
      xdp.testRun({ dataIn: Buffer.alloc(40), repeat: 5000 }); // 5000 records, 24 bytes each in the ring
      await waitFor(() => calls.flat().length >= 5000);
      assert.deepEqual(calls.map((records) => records.length), [4096, 904]);
      const sequences = calls.flat().map((event) => event.sequence);
      assert.ok(sequences.every((sequence, i) => i === 0 || sequence === (sequences[i - 1] ?? 0) + 1), 'consecutive');
    } finally {
      reader.close();
    }
  });

  test('hands out copies that stay valid after the kernel reuses the ring space', async () => {
    const kept: Buffer[] = [];
    const reader = new RingBufferReader(object.map('events'), (records) => kept.push(...records));
    try {
      // 256 KiB of ring, 24 bytes per record: 20 rounds of 1000 records wrap it.
      for (let round = 0; round < 20; round++) {
        xdp.testRun({ dataIn: Buffer.alloc(20 + round), repeat: 1000 });
        await waitFor(() => kept.length >= (round + 1) * 1000);
      }
      for (let round = 0; round < 20; round++) {
        assert.ok(kept.slice(round * 1000, (round + 1) * 1000).every((record) => decode(record).port === 20 + round));
      }
    } finally {
      reader.close();
    }
  });

  test('can be closed from inside its own callback, and twice', async () => {
    let calls = 0;
    const reader: RingBufferReader = new RingBufferReader(object.map('events'), () => {
      calls++;
      reader.close();
      reader.close();
    });
    emit([30, 31]);
    await waitFor(() => calls === 1);
    assert.equal(reader.closed, true);
    emit([32]);
    await sleep(100);
    assert.equal(calls, 1, 'no delivery after close');
    reader.close();

    // The records left behind are there for the next reader.
    const later: Event[] = [];
    const next = new RingBufferReader(object.map('events'), (records) => later.push(...records.map(decode)));
    try {
      await waitFor(() => later.length === 1);
      assert.equal(later[0]?.port, 32);
    } finally {
      next.close();
    }
  });

  test('burns no CPU while the ring is empty (no polling loop)', async () => {
    const reader = new RingBufferReader(object.map('events'), () => {});
    try {
      await sleep(50);
      const start = process.cpuUsage();
      await sleep(500);
      const used = process.cpuUsage(start);
      const usedMs = (used.user + used.system) / 1000;
      assert.ok(usedMs < 50, `used ${usedMs} ms of CPU in 500 ms idle`);
    } finally {
      reader.close();
    }
  });

  test('is released with the worker thread that left it open, and survives an exception thrown by onRecords', async () => {
    const child = fileURLToPath(new URL('./testing/reader-lifecycle-child.js', import.meta.url));
    const childPins = testPinDir('ringbuf-child');
    try {
      // A crash here would be SIGSEGV of the child: the addon unloaded under libuv or libbpf.
      const { stdout } = await promisify(execFile)(process.execPath, [child, testProgramPath('addon_test'), childPins], { timeout: 20_000 });
      assert.deepEqual(JSON.parse(stdout), { workerRounds: 3, uncaught: ['thrown by onRecords'], recordsAfterThrow: 1 });
    } finally {
      removePinDir(childPins);
      removePinDir(`${childPins}-worker`);
    }
  });

  test('reports a map that is not a ring buffer as EINVAL from ring_buffer__new', () => {
    assert.throws(
      () => new RingBufferReader(object.map('counters'), () => {}),
      (error: NodeJS.ErrnoException) => error.code === 'EINVAL' && error.syscall === 'ring_buffer__new',
    );
  });
});
