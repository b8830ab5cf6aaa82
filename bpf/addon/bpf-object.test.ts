import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject, BpfSystemError, setLibbpfLogger, type BpfLogger } from './index.js';
import { openFds, removePinDir, requireBpfKernel, testPinDir } from './testing/kernel-fixtures.js';
import { removeTestPrograms, testProgramPath } from './testing/test-programs.js';

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

function recordingLogger(): BpfLogger & { lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  return {
    lines,
    debug: (msg) => lines.push(['debug', msg]),
    info: (msg) => lines.push(['info', msg]),
    warn: (msg) => lines.push(['warn', msg]),
  };
}

/** Runs `body` on an object loaded with its pinned maps in a throwaway pin root. */
function withLoadedObject(body: (object: BpfObject) => void, rodataPort = 1): void {
  const pinRoot = testPinDir('object');
  const object = BpfObject.open(testProgramPath('addon_test'), { pinRoot, rodata: { denied_port: u16(rodataPort) } });
  try {
    object.load();
    body(object);
  } finally {
    object.close();
    removePinDir(pinRoot);
  }
}

function assertSystemError(error: unknown, code: string, errno: number, syscall: string): BpfSystemError {
  assert.ok(error instanceof BpfSystemError, `expected a BpfSystemError, got ${String(error)}`);
  assert.equal(error.code, code);
  assert.equal(error.errno, errno);
  assert.equal(error.syscall, syscall);
  return error;
}

describe('BpfObject', () => {
  before(() => requireBpfKernel());
  after(() => removeTestPrograms());

  test('opens and loads an object and lists its maps and programs by their C names', () => {
    withLoadedObject((object) => {
      assert.deepEqual([...object.maps].sort(), ['counters', 'denied_count', 'events', 'prefixes', 'sockets', 'tables']);
      assert.deepEqual([...object.programs].sort(), ['allow_all', 'deny_port', 'pass_messages', 'xdp_by_length']);
      const program = object.program('deny_port');
      assert.equal(program.name, 'deny_port');
      assert.equal(program.sectionName, 'cgroup/connect4');
      assert.ok(program.id > 0 && program.fd > 2);
      assert.equal(object.map('counters'), object.map('counters'), 'the same BpfMap while open');
    });
  });

  test('sets a const volatile global through rodata before load', () => {
    withLoadedObject((object) => {
      // .rodata is a one-entry array map holding the section; denied_port is its only variable.
      const rodata = object.map('.rodata').lookup(Buffer.alloc(4));
      assert.ok(rodata);
      assert.equal(rodata.readUInt16LE(0), 9099);
    }, 9099);
  });

  test('rejects rodata of the wrong size with EINVAL and an unknown global with ENOENT', () => {
    const path = testProgramPath('addon_test');
    assert.throws(
      () => BpfObject.open(path, { rodata: { denied_port: Buffer.alloc(4) } }),
      (error) => assertSystemError(error, 'EINVAL', -22, 'bpf_map__set_initial_value').message.includes("'denied_port' is 2 bytes"),
    );
    assert.throws(
      () => BpfObject.open(path, { rodata: { no_such_global: Buffer.alloc(4) } }),
      (error) => assertSystemError(error, 'ENOENT', -2, 'btf__find_by_name_kind').message.includes('no_such_global'),
    );
  });

  test('reports a missing object file like a Node system error, with code, errno, syscall and path', () => {
    assert.throws(
      () => BpfObject.open('/nonexistent/meshd.bpf.o'),
      (error) => {
        const failure = assertSystemError(error, 'ENOENT', -2, 'bpf_object__open_file');
        assert.equal(failure.path, '/nonexistent/meshd.bpf.o');
        assert.match(failure.message, /^ENOENT: no such file or directory, bpf_object__open_file '\/nonexistent\/meshd\.bpf\.o'/);
        return true;
      },
    );
  });

  test("words libbpf's own error numbers, e.g. for a file that is not an ELF object", () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshd-addon-'));
    const path = join(dir, 'not-elf.bpf.o');
    writeFileSync(path, 'not an ELF object\n');
    try {
      assert.throws(
        () => BpfObject.open(path),
        (error) => {
          // 4001 is LIBBPF_ERRNO__FORMAT: strerror alone says "unknown error 4001".
          const failure = assertSystemError(error, 'E4001', -4001, 'bpf_object__open_file');
          assert.match(failure.message, /^E4001: BPF object format invalid, bpf_object__open_file '/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ends the message of a verifier rejection with the tail of the verifier log', () => {
    const object = BpfObject.open(testProgramPath('verifier_reject'), { pinRoot: testPinDir('verifier') });
    try {
      assert.throws(
        () => object.load(),
        (error) => {
          const failure = assertSystemError(error, 'EACCES', -13, 'bpf_object__load');
          assert.match(failure.message, /invalid mem access 'map_value_or_null'/);
          assert.match(failure.message, /-- END PROG LOAD LOG --/);
          return true;
        },
      );
      assert.throws(() => object.load(), (error) => assertSystemError(error, 'EINVAL', -22, 'bpf_object__load') !== undefined);
    } finally {
      object.close();
    }
  });

  test('throws ENOENT naming the map or program that is not in the object', () => {
    withLoadedObject((object) => {
      assert.throws(
        () => object.map('no_such_map'),
        (error) => assertSystemError(error, 'ENOENT', -2, 'bpf_object__find_map_by_name').message.includes("'no_such_map'"),
      );
      assert.throws(
        () => object.program('no_such_program'),
        (error) => assertSystemError(error, 'ENOENT', -2, 'bpf_object__find_program_by_name').message.includes("'no_such_program'"),
      );
    });
  });

  test("sends libbpf's log lines to the object's logger, and to the global logger for objects without one", () => {
    const global = recordingLogger();
    const own = recordingLogger();
    const pinRoots = [testPinDir('log'), testPinDir('log')];
    setLibbpfLogger(global);
    try {
      const withOwn = BpfObject.open(testProgramPath('addon_test'), { pinRoot: pinRoots[0], logger: own });
      withOwn.load();
      withOwn.close();
      assert.ok(own.lines.some(([level, line]) => level === 'debug' && line.startsWith('libbpf: ')), 'debug lines reach the object logger');
      assert.ok(own.lines.some(([, line]) => line.includes("map 'denied_count'")));
      assert.equal(global.lines.length, 0, 'nothing goes to the global logger while the object has its own');

      const withoutOwn = BpfObject.open(testProgramPath('addon_test'), { pinRoot: pinRoots[1] });
      withoutOwn.load();
      withoutOwn.close();
      assert.ok(global.lines.some(([level]) => level === 'debug'), 'the global logger gets the lines of objects without a logger');
    } finally {
      setLibbpfLogger(undefined);
      for (const root of pinRoots) removePinDir(root);
    }
    const linesBefore = global.lines.length;
    BpfObject.open(testProgramPath('addon_test'), { pinRoot: testPinDir('log') }).close();
    assert.equal(global.lines.length, linesBefore, 'setLibbpfLogger(undefined) silences libbpf again');
  });

  test('keeps a throwing logger from turning a good load into a failure', () => {
    const throwing: BpfLogger = {
      debug: () => {
        throw new Error('logger broke');
      },
      info: () => {},
      warn: () => {},
    };
    const pinRoot = testPinDir('throwing-logger');
    const object = BpfObject.open(testProgramPath('addon_test'), { pinRoot, logger: throwing });
    try {
      object.load();
      assert.ok(object.map('counters').fd > 2);
    } finally {
      object.close();
      removePinDir(pinRoot);
    }
  });

  test('closes every fd it opened, after success and after each kind of failure', () => {
    const path = testProgramPath('addon_test');
    withLoadedObject(() => {}); // first use: lets libbpf and Node open their one-time fds
    const baseline = openFds();
    for (let round = 0; round < 3; round++) {
      withLoadedObject((object) => {
        object.map('counters').lookup(Buffer.alloc(4));
        object.program('xdp_by_length').testRun({ dataIn: Buffer.alloc(64) });
        assert.throws(() => object.map('counters').lookup(Buffer.alloc(3)));
      });
      assert.throws(() => BpfObject.open('/nonexistent/meshd.bpf.o'));
      assert.throws(() => BpfObject.open(path, { rodata: { denied_port: Buffer.alloc(1) } }));
      const rejected = BpfObject.open(testProgramPath('verifier_reject'), { pinRoot: testPinDir('leak') });
      assert.throws(() => rejected.load());
      rejected.close();
    }
    assert.deepEqual(openFds().filter((fd) => !baseline.includes(fd)), []);
  });

  test('treats a second close as harmless and use after close as EBADF', () => {
    const pinRoot = testPinDir('double-close');
    const object = BpfObject.open(testProgramPath('addon_test'), { pinRoot });
    object.load();
    const map = object.map('counters');
    const program = object.program('xdp_by_length');
    object.close();
    object.close();
    map.close();
    removePinDir(pinRoot);
    assert.equal(map.fd, -1);
    assert.equal(program.fd, -1);
    assert.throws(() => map.lookup(Buffer.alloc(4)), (error) => assertSystemError(error, 'EBADF', -9, 'bpf_map_lookup_elem') !== undefined);
    assert.throws(() => object.map('counters'), (error) => assertSystemError(error, 'EBADF', -9, 'bpf_object__find_map_by_name') !== undefined);
  });
});
