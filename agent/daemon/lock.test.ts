import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireStateDirLock, lockHolder, LOCK_FILE } from './lock.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-lock-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the lock holds the pid, refuses a second holder while that process lives, and is removed on release', () => {
  withDir((dir) => {
    const lock = acquireStateDirLock(dir);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
    assert.equal(lockHolder(dir), process.pid);
    // Another live process holding it: the parent of this test runner is alive for sure.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
    assert.throws(() => acquireStateDirLock(dir), (err: { code?: string; message?: string }) => err.code === 'MESHD_ERR_AGENT_ALREADY_RUNNING' && (err.message ?? '').includes(String(process.ppid)));
    writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`);
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  });
});

test('a lock left by a dead process (the agent was SIGKILLed) is taken over', () => {
  withDir((dir) => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(join(dir, LOCK_FILE), `${dead.stdout.toString()}\n`);
    assert.equal(lockHolder(dir), undefined);
    const lock = acquireStateDirLock(dir);
    assert.equal(lockHolder(dir), process.pid);
    lock.release();
  });
});

test('a garbled lock file counts as stale', () => {
  withDir((dir) => {
    writeFileSync(join(dir, LOCK_FILE), 'not a pid');
    acquireStateDirLock(dir).release();
  });
});
