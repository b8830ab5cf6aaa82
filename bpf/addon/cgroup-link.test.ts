import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfLink, BpfObject, RingBufferReader, type BpfSystemError } from './index.js';
import {
  connectFromCgroup,
  createTestCgroup,
  removePinDir,
  removeTestCgroup,
  requireBpfKernel,
  testPinDir,
  type BpfTestKernel,
} from './testing/kernel-fixtures.js';
import { removeTestPrograms, testProgramPath } from './testing/test-programs.js';

const PIN_HOLDER = fileURLToPath(new URL('./testing/pin-holder.js', import.meta.url));

const u16 = (value: number): Buffer => {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
};
const u32 = (value: number): Buffer => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
};

interface HolderIds {
  mapId: number;
  linkId: number;
  progId: number;
}

/** Starts pin-holder.js and waits (at most 10 s) for the ids it prints once attached and pinned. */
async function startPinHolder(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; ids: HolderIds }> {
  const child = spawn(process.execPath, [PIN_HOLDER, ...args]);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ids = await new Promise<HolderIds>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pin-holder printed nothing in 10 s: ${stderr}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(stdout) as HolderIds);
      }
    });
    child.on('exit', (status) => {
      clearTimeout(timer);
      reject(new Error(`pin-holder exited with ${status}: ${stderr}`));
    });
  });
  return { child, ids };
}

async function killAndWait(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('cgroup links', () => {
  let kernel: BpfTestKernel;
  let server: Server;
  let port: number;

  before(async () => {
    kernel = requireBpfKernel();
    // The port the programs refuse; also a real listener, so an allowed connect succeeds.
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    removeTestPrograms();
  });

  test('refuses connect() with EPERM for a process in the cgroup the program is attached to, and only there', async () => {
    const cgroup = createTestCgroup(kernel, 'attach');
    const pinRoot = testPinDir('attach');
    const object = BpfObject.open(testProgramPath('addon_test'), { pinRoot, rodata: { denied_port: u16(port) } });
    try {
      object.load();
      const link = object.program('deny_port').attachCgroup(cgroup);
      const info = link.info();
      assert.equal(info.type, 'cgroup');
      assert.equal(info.progId, object.program('deny_port').id);
      assert.equal(info.cgroupId, statSync(cgroup, { bigint: true }).ino, 'cgroup id = inode of the directory');
      assert.equal(info.id, link.id);

      assert.equal((await connectFromCgroup(cgroup, port)).result, 'EPERM');
      assert.equal((await connectFromCgroup(kernel.cgroup2Mount, port)).result, 'connected', 'outside the cgroup nothing changes');
      assert.deepEqual(object.map('denied_count').lookup(u32(port))?.readBigUInt64LE(), 1n);

      link.close();
      link.close();
      assert.equal((await connectFromCgroup(cgroup, port)).result, 'connected', 'closing an unpinned link detaches it');
    } finally {
      object.close();
      removePinDir(pinRoot);
      await removeTestCgroup(cgroup);
    }
  });

  test('reports attaching to a directory that is not a cgroup with the path', () => {
    const pinRoot = testPinDir('bad-cgroup');
    const object = BpfObject.open(testProgramPath('addon_test'), { pinRoot });
    try {
      object.load();
      assert.throws(
        () => object.program('deny_port').attachCgroup('/nonexistent-cgroup'),
        (error: BpfSystemError) => error.code === 'ENOENT' && error.syscall === 'open' && error.path === '/nonexistent-cgroup',
      );
    } finally {
      object.close();
      removePinDir(pinRoot);
    }
  });

  test('keeps enforcing through a pinned link after its loader is killed; a new load reuses the pinned maps and swaps programs without a gap', async () => {
    const cgroup = createTestCgroup(kernel, 'restart');
    const pinRoot = testPinDir('restart');
    const linkPin = `${pinRoot}/deny_link`;
    let holder: ChildProcessWithoutNullStreams | undefined;
    let object: BpfObject | undefined;
    let link: BpfLink | undefined;
    let reader: RingBufferReader | undefined;
    try {
      // 1. Another process loads, attaches, pins the link, and dies without cleaning up.
      const started = await startPinHolder([testProgramPath('addon_test'), pinRoot, cgroup, linkPin, String(port)]);
      holder = started.child;
      assert.equal((await connectFromCgroup(cgroup, port)).result, 'EPERM');
      await killAndWait(holder);
      assert.equal((await connectFromCgroup(cgroup, port)).result, 'EPERM', 'the pinned link outlives its loader');

      // 2. A restarted agent finds the link and the maps where the first one left them.
      link = BpfLink.openPinned(linkPin);
      assert.deepEqual([link.id, link.info().progId], [started.ids.linkId, started.ids.progId]);
      object = BpfObject.open(testProgramPath('addon_test'), { pinRoot, rodata: { denied_port: u16(port) } });
      object.load();
      const deniedCount = object.map('denied_count');
      assert.equal(deniedCount.id, started.ids.mapId, 'LIBBPF_PIN_BY_NAME map reused, not recreated');
      assert.equal(deniedCount.lookup(u32(port))?.readBigUInt64LE(), 2n, 'counts of the dead loader survive');

      // 3. Swap the program behind the live link: allow, then deny with the new object's program.
      link.updateProgram(object.program('allow_all'));
      assert.equal(link.info().progId, object.program('allow_all').id);
      assert.equal((await connectFromCgroup(cgroup, port)).result, 'connected');

      const events: Buffer[] = [];
      reader = new RingBufferReader(object.map('events'), (records) => events.push(...records));
      link.updateProgram(object.program('deny_port'));
      const denied = await connectFromCgroup(cgroup, port);
      assert.equal(denied.result, 'EPERM');
      assert.equal(deniedCount.lookup(u32(port))?.readBigUInt64LE(), 3n, 'the new program counts into the reused map');
      for (let waited = 0; events.length === 0 && waited < 2000; waited += 10) await sleep(10);
      assert.deepEqual(
        events.map((record) => [record.readUInt32LE(0), record.readUInt16LE(4), record.readUInt16LE(6)]),
        [[denied.pid, port, 0]],
        'the denied connect reported through the ring buffer',
      );

      // 4. detach() ends the attachment for every holder, the pin included.
      link.detach();
      assert.equal((await connectFromCgroup(cgroup, port)).result, 'connected');
      const reopened = BpfLink.openPinned(linkPin);
      assert.equal(reopened.info().cgroupId, 0n, 'a detached link no longer names a cgroup');
      reopened.close();
    } finally {
      reader?.close();
      if (holder) await killAndWait(holder);
      link?.close();
      object?.close();
      removePinDir(pinRoot);
      await removeTestCgroup(cgroup);
    }
  });
});
