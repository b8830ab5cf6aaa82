// Child process for the RingBufferReader tests that need a process of their own:
// 1. a worker thread (the only user of the addon in this process) leaves a reader open and is
//    terminated: the environment's cleanup must release it, and the process must not crash when
//    Node unloads the addon after the worker;
// 2. onRecords throws: that is an uncaught exception, and the reader keeps delivering.
// argv: <object path> <pin root>. Prints {"workerRounds": n, "uncaught": [...], "recordsAfterThrow": n}.
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

interface Args {
  objectPath: string;
  pinRoot: string;
}

async function inWorker({ objectPath, pinRoot }: Args): Promise<void> {
  const { BpfObject, RingBufferReader } = await import('../index.js');
  const object = BpfObject.open(objectPath, { pinRoot });
  object.load();
  new RingBufferReader(object.map('events'), () => {}); // deliberately never closed
  object.program('xdp_by_length').testRun({ dataIn: Buffer.alloc(20) });
  parentPort?.postMessage('reader open');
}

async function inMain(args: Args): Promise<void> {
  let workerRounds = 0;
  for (let round = 0; round < 3; round++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...args, pinRoot: `${args.pinRoot}-worker` } });
    // A worker that exits before its message (an import that failed, say) must fail this
    // process with its exit code, not leave it awaiting a message that never comes.
    await Promise.race([
      once(worker, 'message'),
      once(worker, 'exit').then(([code]: unknown[]) => {
        throw new Error(`worker of round ${round} exited with code ${String(code)} before opening its reader`);
      }),
    ]);
    await worker.terminate();
    workerRounds++;
  }
  rmSync(`${args.pinRoot}-worker`, { recursive: true, force: true });

  const { BpfObject, RingBufferReader } = await import('../index.js');
  const uncaught: string[] = [];
  process.on('uncaughtException', (error) => uncaught.push(error.message));
  const object = BpfObject.open(args.objectPath, { pinRoot: args.pinRoot });
  object.load();
  let records = 0;
  const reader = new RingBufferReader(object.map('events'), (batch) => {
    records += batch.length;
    if (records === 1) throw new Error('thrown by onRecords');
  });
  const xdp = object.program('xdp_by_length');
  xdp.testRun({ dataIn: Buffer.alloc(20) });
  for (let waited = 0; uncaught.length === 0 && waited < 2000; waited += 10) await sleep(10);
  xdp.testRun({ dataIn: Buffer.alloc(20) });
  for (let waited = 0; records < 2 && waited < 2000; waited += 10) await sleep(10);
  reader.close();
  object.close();
  rmSync(args.pinRoot, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ workerRounds, uncaught, recordsAfterThrow: records - 1 }));
}

if (isMainThread) {
  const [objectPath, pinRoot] = process.argv.slice(2);
  if (!objectPath || !pinRoot) throw new Error('usage: reader-lifecycle-child.js <object> <pin root>');
  await inMain({ objectPath, pinRoot });
} else {
  await inWorker(workerData as Args);
}
