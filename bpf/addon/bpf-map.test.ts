import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BpfLink, BpfMap, BpfObject, BpfSystemError } from './index.js';
import { openFds, removePinDir, requireBpfKernel, testPinDir } from './testing/kernel-fixtures.js';
import { removeTestPrograms, testProgramPath } from './testing/test-programs.js';

const u32 = (value: number): Buffer => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
};
const u64 = (value: number): Buffer => {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
};
/** struct prefix_key { u32 prefixlen; u8 addr[4]; } of addon_test.bpf.c. */
const prefix = (cidr: string): Buffer => {
  const [address = '', length = '32'] = cidr.split('/');
  const key = Buffer.alloc(8);
  key.writeUInt32LE(Number(length));
  Buffer.from(address.split('.').map(Number)).copy(key, 4);
  return key;
};
const sortedHex = (buffers: Buffer[]): string[] => buffers.map((b) => b.toString('hex')).sort();

function assertCode(code: string, syscall: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof BpfSystemError, `expected a BpfSystemError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.syscall, syscall);
    return true;
  };
}

describe('BpfMap', () => {
  let object: BpfObject;
  let pinRoot: string;

  before(() => {
    requireBpfKernel();
    pinRoot = testPinDir('maps');
    object = BpfObject.open(testProgramPath('addon_test'), { pinRoot });
    object.load();
  });
  after(() => {
    object?.close();
    if (pinRoot) removePinDir(pinRoot);
    removeTestPrograms();
  });

  test('looks up, updates and deletes entries of a hash map, honouring noexist and exist', () => {
    const map = object.map('counters');
    assert.equal(map.type, 'hash');
    assert.deepEqual([map.keySize, map.valueSize, map.maxEntries], [4, 8, 1024]);
    assert.equal(map.lookup(u32(1)), undefined);
    map.update(u32(1), u64(10));
    assert.deepEqual(map.lookup(u32(1)), u64(10));
    assert.throws(() => map.update(u32(1), u64(11), 'noexist'), assertCode('EEXIST', 'bpf_map_update_elem'));
    assert.throws(() => map.update(u32(2), u64(11), 'exist'), assertCode('ENOENT', 'bpf_map_update_elem'));
    map.update(u32(1), u64(12), 'exist');
    assert.deepEqual(map.lookup(u32(1)), u64(12));
    assert.equal(map.delete(u32(1)), true);
    assert.equal(map.delete(u32(1)), false);
  });

  test('updates, lists and deletes a hash map in batches, skipping absent keys on delete', () => {
    const map = object.map('counters');
    const keys = Array.from({ length: 300 }, (_, i) => u32(1000 + i));
    map.updateBatch(keys, keys.map((_, i) => u64(i * 3)));
    assert.equal(map.keys().length, 300);
    const entries = map.entries();
    assert.equal(entries.length, 300);
    for (const [key, value] of entries) assert.equal(value.readBigUInt64LE(), BigInt((key.readUInt32LE() - 1000) * 3));
    assert.equal(map.deleteBatch([...keys.slice(0, 100), u32(5), u32(6)]), 100);
    assert.equal(map.keys().length, 200);
    assert.equal(map.deleteBatch(keys), 200);
    assert.deepEqual(map.entries(), []);
    map.updateBatch([], []);
    assert.equal(map.deleteBatch([]), 0);
  });

  test('fills an LPM trie in one batch and answers with the longest matching prefix', () => {
    const map = object.map('prefixes');
    assert.equal(map.type, 'lpm_trie');
    map.updateBatch([prefix('127.0.0.0/8'), prefix('10.1.0.0/16'), prefix('10.1.2.0/24')], [u32(8), u32(16), u32(24)]);
    assert.deepEqual(map.lookup(prefix('127.0.0.1/32')), u32(8));
    assert.deepEqual(map.lookup(prefix('10.1.2.3/32')), u32(24));
    assert.deepEqual(map.lookup(prefix('10.1.9.9/32')), u32(16));
    assert.equal(map.lookup(prefix('11.0.0.1/32')), undefined);
    assert.deepEqual(sortedHex(map.keys()), sortedHex([prefix('127.0.0.0/8'), prefix('10.1.0.0/16'), prefix('10.1.2.0/24')]));
    assert.equal(map.entries().length, 3);
    assert.equal(map.deleteBatch([prefix('127.0.0.0/8'), prefix('192.168.0.0/16')]), 1);
    assert.equal(map.lookup(prefix('127.0.0.1/32')), undefined);
    assert.equal(map.deleteBatch(map.keys()), 2);
  });

  test('falls back to a loop in C++ for a map type without batch operations (devmap)', () => {
    // The kernel has no BPF_MAP_*_BATCH for devmaps (ENOTSUPP); the API must not show it.
    const devmap = BpfMap.create({ type: 'devmap', keySize: 4, valueSize: 4, maxEntries: 4 });
    try {
      devmap.updateBatch([u32(0), u32(2)], [u32(1), u32(1)]); // ifindex 1 = lo
      assert.deepEqual(sortedHex(devmap.entries().map(([key]) => key)), sortedHex([u32(0), u32(2)]));
      assert.deepEqual(devmap.lookup(u32(2)), u32(1));
      assert.equal(devmap.deleteBatch([u32(0), u32(2)]), 2);
      assert.deepEqual(devmap.entries(), []);
    } finally {
      devmap.close();
    }
  });

  test('stores an inner map in a map of maps, and the program sees it', () => {
    const outer = object.map('tables');
    assert.equal(outer.type, 'hash_of_maps');
    const inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 4, name: 'addon_inner' });
    const xdp = object.program('xdp_by_length');
    try {
      // xdp_by_length adds inner[0] to the frame length and drops exactly 64: 60 + 4 is dropped.
      inner.update(u32(0), u32(4));
      outer.setInner(u32(0), inner);
      assert.deepEqual(outer.lookup(u32(0)), u32(inner.id), 'user space reads back the inner map id');
      assert.equal(xdp.testRun({ dataIn: Buffer.alloc(60) }).retval, 1 /* XDP_DROP */);
      inner.update(u32(0), u32(0));
      assert.equal(xdp.testRun({ dataIn: Buffer.alloc(60) }).retval, 2 /* XDP_PASS */);
      assert.equal(xdp.testRun({ dataIn: Buffer.alloc(64) }).retval, 1);
      outer.updateBatch([u32(1), u32(2)], [u32(inner.fd), u32(inner.fd)]);
      assert.equal(outer.keys().length, 3);
      assert.equal(outer.deleteBatch([u32(0), u32(1), u32(2)]), 3);
      assert.throws(() => object.map('counters').setInner(u32(0), inner), assertCode('EINVAL', 'bpf_map_update_elem'));
    } finally {
      inner.close();
    }
  });

  test('attaches an sk_msg program to a sockhash and detaches it again', () => {
    const program = object.program('pass_messages');
    const sockets = object.map('sockets');
    assert.equal(sockets.type, 'sockhash');
    program.attachSockMap(sockets);
    program.detachSockMap(sockets);
    assert.throws(() => program.detachSockMap(sockets), assertCode('ENOENT', 'bpf_prog_detach2'), 'nothing left to detach');
    assert.throws(() => object.program('xdp_by_length').attachSockMap(sockets), assertCode('EINVAL', 'bpf_prog_attach'));
  });

  test('runs a program with BPF_PROG_TEST_RUN and returns its verdict, output and duration', () => {
    const frame = Buffer.alloc(100, 0xab);
    const result = object.program('xdp_by_length').testRun({ dataIn: frame, repeat: 10 });
    assert.equal(result.retval, 2);
    assert.deepEqual(result.dataOut, frame);
    assert.ok(result.durationNs >= 0);
    assert.equal(result.ctxOut, undefined);
  });

  test('creates maps with bpf_map_create and reopens a pinned map by path as the same map', () => {
    const dir = testPinDir('pinned-map');
    const created = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 16, name: 'addon_lpm' });
    try {
      assert.equal(created.type, 'lpm_trie', 'BPF_F_NO_PREALLOC is the default for LPM tries');
      assert.equal(created.name, 'addon_lpm');
      object.map('counters').pin(`${dir}-counters`);
      created.pin(`${dir}-lpm`);
      const reopened = BpfMap.openPinned(`${dir}-lpm`);
      assert.deepEqual([reopened.id, reopened.type, reopened.keySize, reopened.name], [created.id, 'lpm_trie', 8, 'addon_lpm']);
      created.update(prefix('10.0.0.0/8'), u32(7));
      assert.deepEqual(reopened.lookup(prefix('10.2.3.4/32')), u32(7));
      reopened.close();
      const counters = BpfMap.openPinned(`${dir}-counters`);
      assert.equal(counters.id, object.map('counters').id);
      counters.close();
      created.unpin(`${dir}-lpm`);
      assert.throws(() => BpfMap.openPinned(`${dir}-lpm`), assertCode('ENOENT', 'bpf_obj_get'));
    } finally {
      created.close();
      removePinDir(`${dir}-lpm`);
      removePinDir(`${dir}-counters`);
    }
  });

  test('names map types as libbpf does, accepts a number for types it does not know, and refuses unknown names', () => {
    const byNumber = BpfMap.create({ type: '1', keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.equal(byNumber.type, 'hash');
    byNumber.close();
    assert.equal(object.map('events').type, 'ringbuf');
    assert.throws(() => BpfMap.create({ type: 'no_such_type', keySize: 4, valueSize: 4, maxEntries: 1 }), assertCode('EINVAL', 'bpf_map_create'));
  });

  test('rejects keys and values of the wrong size with EINVAL before anything reaches the kernel', () => {
    const map = object.map('counters');
    assert.throws(() => map.lookup(Buffer.alloc(3)), assertCode('EINVAL', 'bpf_map_lookup_elem'));
    assert.throws(() => map.update(u32(1), Buffer.alloc(4)), assertCode('EINVAL', 'bpf_map_update_elem'));
    assert.throws(() => map.updateBatch([u32(1), Buffer.alloc(2)], [u64(1), u64(2)]), assertCode('EINVAL', 'bpf_map_update_batch'));
    assert.throws(() => map.updateBatch([u32(1)], []), assertCode('EINVAL', 'bpf_map_update_batch'));
    assert.equal(map.lookup(u32(1)), undefined, 'a refused batch wrote nothing');
  });

  test('refuses to open a pinned map as a link and a pinned link as a map', () => {
    const path = `${testPinDir('wrong-kind')}-map`;
    object.map('counters').pin(path);
    try {
      assert.throws(() => BpfLink.openPinned(path), assertCode('EINVAL', 'bpf_obj_get'));
    } finally {
      removePinDir(path);
    }
    assert.throws(() => BpfMap.openPinned('/sys/fs/bpf'), (error) => error instanceof BpfSystemError && error.path === '/sys/fs/bpf');
  });

  test('closes the fd of a map that was garbage-collected without close()', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collect = async (): Promise<void> => {
      // Finalizers run after a collection, from the event loop: a few bounded rounds.
      for (let round = 0; round < 5; round++) {
        gc();
        await nextTurn();
      }
    };
    await collect(); // whatever earlier tests left behind goes first
    const baseline = openFds();
    const forgotten = (() => {
      const fds: number[] = [];
      for (let i = 0; i < 20; i++) fds.push(BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 }).fd);
      return fds;
    })();
    assert.equal(openFds().length, baseline.length + forgotten.length);
    await collect();
    assert.deepEqual(openFds().filter((fd) => !baseline.includes(fd)), []);
  });
});
