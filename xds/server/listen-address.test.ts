import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenAddress, removeStaleSocket } from './listen-address.js';

describe('listen addresses', () => {
  test('unix:/path, host:port and [v6]:port parse; anything else is MESHD_ERR_XDS_BAD_ADDRESS', () => {
    assert.deepEqual(parseListenAddress('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
    assert.deepEqual(parseListenAddress('127.0.0.1:0'), { kind: 'tcp', host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('[::1]:18000'), { kind: 'tcp', host: '[::1]', port: 18000 });
    for (const bad of ['unix:relative.sock', 'localhost', '1.2.3.4:99999', ':80']) {
      assert.throws(() => parseListenAddress(bad), (err: { code?: string }) => err.code === 'MESHD_ERR_XDS_BAD_ADDRESS', bad);
    }
  });

  test('a socket file nobody listens on is removed; a live one is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshd-sock-'));
    const path = join(dir, 's.sock');
    const server = createServer();
    try {
      await new Promise<void>((r) => server.listen(path, r));
      await removeStaleSocket(path);
      assert.ok(existsSync(path), 'a live socket stays');
      // Closing a net server unlinks its socket; recreate a dead one by listening in a child-free way:
      // a socket whose server is gone but whose file remains is what a crashed server leaves.
      server.close();
      const dead = createServer();
      await new Promise<void>((r) => dead.listen(path, r));
      // Detach the file from the listening server: rename keeps a socket inode nobody accepts on.
      const orphan = join(dir, 'orphan.sock');
      const { renameSync } = await import('node:fs');
      renameSync(path, orphan);
      dead.close();
      await removeStaleSocket(orphan);
      assert.equal(existsSync(orphan), false, 'a dead socket file is removed');
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
