import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipBatch, runCommand, runCommandSync } from './run-command.js';

test('a command that fails is reported with its exit status and error output', async () => {
  const r = await runCommand('sh', ['-c', 'echo oops >&2; exit 3']);
  assert.deepEqual({ code: r.code, ending: r.ending, stderr: r.stderr }, { code: 3, ending: 'exit 3', stderr: 'oops\n' });
  const sync = runCommandSync('sh', ['-c', 'exit 4']);
  assert.deepEqual({ code: sync.code, ending: sync.ending }, { code: 4, ending: 'exit 4' });
});

test('a command ended by a signal says which signal', async () => {
  const r = await runCommand('sh', ['-c', 'kill -TERM $$']);
  assert.deepEqual({ code: r.code, ending: r.ending }, { code: null, ending: 'killed by SIGTERM' });
});

test('a program that cannot be started is reported with the reason, never as killed', async () => {
  const r = await runCommand('meshd-no-such-program', []);
  assert.deepEqual({ code: r.code, ending: r.ending }, { code: null, ending: 'spawn meshd-no-such-program ENOENT' });
  const sync = runCommandSync('meshd-no-such-program', []);
  assert.deepEqual({ code: sync.code, ending: sync.ending }, { code: null, ending: 'spawnSync meshd-no-such-program ENOENT' });
});

test('an ip batch that cannot start ip fails with MESHD_ERR_POD_COMMAND naming the cause and the fix', async () => {
  const path = process.env['PATH'];
  process.env['PATH'] = '/nonexistent-meshd-test-path'; // no `ip` to be found
  try {
    await assert.rejects(ipBatch(['link show']), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'MESHD_ERR_POD_COMMAND');
      assert.equal(error.message, 'ip -batch - failed (spawn ip ENOENT): no output');
      assert.doesNotMatch(error.message, /killed/);
      assert.equal(error.hint, 'install iproute2 (the `ip` command)');
      return true;
    });
  } finally {
    process.env['PATH'] = path;
  }
});
