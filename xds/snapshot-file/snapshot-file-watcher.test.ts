import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotCache } from '../cache/index.js';
import { TYPE_URL } from '../codec/index.js';
import { grpcSnapshotYaml } from '../../test/xds/grpc-snapshot-builder.js';
import { SnapshotFileWatcher } from './snapshot-file-watcher.js';
import { XdsSnapshotFileError } from './errors.js';

const OPTS = { serviceName: 'greeter.local', backendPorts: [21001] };

interface Logged {
  level: string;
  o: object;
  msg: string | undefined;
}

function recordingLogger(into: Logged[]) {
  const at = (level: string) => (o: object, msg?: string) => void into.push({ level, o, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function waitFor(what: string, isDone: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isDone()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function endpointPortsOf(cache: SnapshotCache, nodeId = '*'): string {
  const r = cache.getSnapshot(nodeId)?.resources(TYPE_URL.endpoint).get('cluster-greeter.local');
  return r ? Buffer.from(r.body).toString('hex') : '';
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshd-snapshot-watch-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a changed file replaces the snapshot; an invalid change is logged and the previous snapshot stays', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'snapshot.yaml');
    await writeFile(file, grpcSnapshotYaml(OPTS));
    const cache = new SnapshotCache();
    const logged: Logged[] = [];
    const rejected: Error[] = [];
    let applied = 0;
    const watcher = await SnapshotFileWatcher.start({ file, cache, logger: recordingLogger(logged), debounceMs: 30, pollIntervalMs: 200, onApplied: () => applied++, onRejected: (e) => rejected.push(e) });
    try {
      const first = endpointPortsOf(cache);
      assert.notEqual(first, '');

      await writeFile(file, grpcSnapshotYaml({ ...OPTS, backendPorts: [21002] }));
      await waitFor('the new endpoints', () => endpointPortsOf(cache) !== first);
      const second = endpointPortsOf(cache);
      assert.equal(applied, 1);

      await writeFile(file, grpcSnapshotYaml(OPTS).replace('lb_policy: ROUND_ROBIN', 'lb_policy: ROUND_ROBIN\n    bogus: 1'));
      await waitFor('the rejection', () => rejected.length === 1);
      assert.ok(rejected[0] instanceof XdsSnapshotFileError);
      assert.equal(endpointPortsOf(cache), second, 'the previous snapshot stays');
      assert.equal(applied, 1, 'an invalid change is not applied');
      const error = logged.find((l) => l.level === 'error');
      assert.match(JSON.stringify(error?.o), /snapshot\.yaml:\d+:\d+  MESHD_ERR_XDS_UNKNOWN_FIELD  clusters\[0\]\.bogus/);

      // Editors save by writing a new file and renaming it over the old one.
      await writeFile(join(dir, 'snapshot.yaml.tmp'), grpcSnapshotYaml({ ...OPTS, backendPorts: [21003] }));
      await rename(join(dir, 'snapshot.yaml.tmp'), file);
      await waitFor('the renamed-in endpoints', () => endpointPortsOf(cache) !== second);
      assert.equal(applied, 2);
    } finally {
      watcher.close();
    }
  });
});

test('a deleted file is reported once and the snapshot stays until the file is back', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'snapshot.yaml');
    await writeFile(file, grpcSnapshotYaml(OPTS));
    const cache = new SnapshotCache();
    const rejected: Error[] = [];
    const watcher = await SnapshotFileWatcher.start({ file, cache, logger: recordingLogger([]), debounceMs: 30, pollIntervalMs: 100, onRejected: (e) => rejected.push(e) });
    try {
      const first = endpointPortsOf(cache);
      await rm(file);
      await waitFor('the read error', () => rejected.length >= 1);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(rejected.length, 1, 'one report, not one per poll');
      assert.equal((rejected[0] as XdsSnapshotFileError).code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_READ');
      assert.equal(endpointPortsOf(cache), first);
      await writeFile(file, grpcSnapshotYaml({ ...OPTS, backendPorts: [21005] }));
      await waitFor('the restored file', () => endpointPortsOf(cache) !== first);
    } finally {
      watcher.close();
    }
  });
});

test('the snapshot goes to the named node only, when one is given', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'snapshot.json');
    await writeFile(file, grpcSnapshotYaml(OPTS));
    const cache = new SnapshotCache();
    const watcher = await SnapshotFileWatcher.start({ file, cache, nodeId: 'edge-1', logger: recordingLogger([]) });
    watcher.close();
    assert.ok(cache.getSnapshot('edge-1'));
    assert.equal(cache.getSnapshot('*'), undefined);
  });
});

test('a file that does not load at start is an error and sets nothing', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'snapshot.yaml');
    await writeFile(file, 'clusters:\n  - name: a\n    typo: 1\n');
    const cache = new SnapshotCache();
    await assert.rejects(SnapshotFileWatcher.start({ file, cache, logger: recordingLogger([]) }), (err: unknown) => {
      assert.ok(err instanceof XdsSnapshotFileError);
      assert.equal(err.problems[0]!.position.line, 3);
      return true;
    });
    assert.equal(cache.getSnapshot('*'), undefined);
    await assert.rejects(SnapshotFileWatcher.start({ file: join(dir, 'missing.yaml'), cache, logger: recordingLogger([]) }), { code: 'MESHD_ERR_XDS_SNAPSHOT_FILE_READ' });
  });
});
