import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabelSet } from '../labels/index.js';
import { IdentityAllocator } from './identity-allocator.js';

const web = LabelSet.parse(['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=prod']);
const api = LabelSet.parse(['k8s:app=api', 'k8s:io.kubernetes.pod.namespace=prod']);
const db = LabelSet.parse(['k8s:app=db', 'k8s:io.kubernetes.pod.namespace=prod']);
const tenNet = LabelSet.parse(['reserved:world', 'reserved:world-ipv4', 'cidr:0.0.0.0/0', 'cidr:10.0.0.0/8']);

async function withStateDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshd-identity-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function inMemory(): Promise<IdentityAllocator> {
  return (await IdentityAllocator.open()).allocator;
}

test('label identities start at 256 and the same labels get the same id', async () => {
  const allocator = await inMemory();
  assert.deepEqual(allocator.allocate(web), { id: 256, isNew: true });
  assert.deepEqual(allocator.allocate(api), { id: 257, isNew: true });
  assert.deepEqual(allocator.allocate(LabelSet.parse(['k8s:io.kubernetes.pod.namespace=prod', 'k8s:app=web'])), { id: 256, isNew: false });
  assert.equal(allocator.refCount(256), 2);
  assert.deepEqual(allocator.lookupById(257)?.labels.toStrings(), api.toStrings());
  assert.equal(allocator.lookupByLabels(web)?.id, 256);
  assert.equal(allocator.lookupById(300), undefined);
});

test('CIDR and FQDN label sets get node-local identities from 1<<24', async () => {
  const allocator = await inMemory();
  assert.deepEqual(allocator.allocate(tenNet), { id: 16777216, isNew: true });
  assert.equal(allocator.allocate(LabelSet.parse(['reserved:world', 'fqdn:matchName:a.example'])).id, 16777217);
  assert.equal(allocator.allocate(web).id, 256);
});

test('reserved label sets map to their reserved id without counting', async () => {
  const allocator = await inMemory();
  assert.deepEqual(allocator.allocate(LabelSet.parse(['reserved:host'])), { id: 1, isNew: false });
  assert.deepEqual(allocator.allocate(LabelSet.parse(['reserved:world-ipv6', 'reserved:world', 'cidr:::/0'])), { id: 10, isNew: false });
  assert.equal(allocator.release(LabelSet.parse(['reserved:host'])), undefined);
  assert.equal(allocator.lookupById(1)?.labels.toStrings()[0], 'reserved:host');
  assert.equal(allocator.lookupByLabels(LabelSet.parse(['reserved:init']))?.id, 5);
});

test('an empty label set is refused with a coded error', async () => {
  const allocator = await inMemory();
  assert.throws(() => allocator.allocate(LabelSet.EMPTY), { code: 'MESHD_ERR_IDENTITY_NO_LABELS' });
});

test('release counts references and the first allocation after the last release is new again', async () => {
  const allocator = await inMemory();
  allocator.allocate(web);
  allocator.allocate(web);
  assert.deepEqual(allocator.release(web), { id: 256, refCount: 1 });
  assert.deepEqual(allocator.release(web), { id: 256, refCount: 0 });
  assert.equal(allocator.release(web), undefined);
  assert.equal(allocator.release(api), undefined);
  assert.deepEqual(allocator.allocate(web), { id: 256, isNew: true });
});

test('ids of released identities are not given to other labels', async () => {
  const allocator = await inMemory();
  allocator.allocate(web);
  allocator.release(web);
  assert.deepEqual(allocator.collectGarbage(), [256]);
  assert.equal(allocator.lookupById(256), undefined);
  assert.equal(allocator.allocate(api).id, 257);
  assert.equal(allocator.allocate(web).id, 258, 'collected labels come back with a fresh id');
  assert.deepEqual(allocator.collectGarbage(), []);
});

test('the same labels get the same id after reopening the state directory', async () => {
  await withStateDir(async (dir) => {
    const first = await IdentityAllocator.open(dir);
    assert.deepEqual(first.warnings, []);
    first.allocator.allocate(web);
    first.allocator.allocate(api);
    first.allocator.allocate(tenNet);
    await first.allocator.flush();

    const second = (await IdentityAllocator.open(dir)).allocator;
    assert.deepEqual(second.allocate(db), { id: 258, isNew: true }, 'new labels never take a restored id');
    assert.deepEqual(second.allocate(api), { id: 257, isNew: true });
    assert.deepEqual(second.allocate(web), { id: 256, isNew: true });
    assert.equal(second.allocate(tenNet).id, 16777216);
    assert.equal(second.lookupById(256)?.labels.canonicalKey, web.canonicalKey);
    await second.flush();

    const third = (await IdentityAllocator.open(dir)).allocator;
    assert.equal(third.allocate(db).id, 258);
  });
});

test('a collected identity id stays burnt across restarts', async () => {
  await withStateDir(async (dir) => {
    const first = (await IdentityAllocator.open(dir)).allocator;
    first.allocate(web);
    first.allocate(api);
    first.release(api);
    first.collectGarbage();
    await first.flush();

    const second = (await IdentityAllocator.open(dir)).allocator;
    assert.equal(second.allocate(db).id, 258);
    assert.equal(second.allocate(web).id, 256);
    await second.flush();
  });
});

test('the state file is replaced atomically and leaves no temporary files behind', async () => {
  await withStateDir(async (dir) => {
    const { allocator } = await IdentityAllocator.open(join(dir, 'nested'));
    for (let i = 0; i < 50; i++) allocator.allocate(LabelSet.parse([`k8s:app=a${i}`]));
    await allocator.flush();
    assert.deepEqual(await readdir(join(dir, 'nested')), ['identities.json']);
    const saved = JSON.parse(await readFile(join(dir, 'nested', 'identities.json'), 'utf8')) as { identities: unknown[] };
    assert.equal(saved.identities.length, 50);
  });
});

test('a corrupt state file is moved aside, reported, and allocation starts empty', async () => {
  await withStateDir(async (dir) => {
    await writeFile(join(dir, 'identities.json'), '{"version": 1, "identities": [');
    const { allocator, warnings } = await IdentityAllocator.open(dir);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'MESHD_WARN_IDENTITY_STATE_CORRUPT');
    assert.match(warnings[0]?.path ?? '', /identities\.json\.corrupt-\d+$/);
    const files = await readdir(dir);
    assert.ok(files.some((f) => /^identities\.json\.corrupt-\d+$/.test(f)));
    assert.equal(files.includes('identities.json'), false);
    assert.equal(allocator.allocate(web).id, 256);
    await allocator.flush();
    assert.ok((await readdir(dir)).includes('identities.json'));
  });
});

test('well-formed JSON with impossible content counts as corrupt', async () => {
  const cases = [
    { version: 2, identities: [] },
    { version: 1, identities: [{ id: 5, labels: [['k8s', 'app', 'web']] }] },
    { version: 1, identities: [{ id: 256, labels: [['cidr', '10.0.0.0/8', '']] }] },
    { version: 1, identities: [{ id: 256, labels: [] }] },
    { version: 1, identities: [{ id: 256, labels: [['k8s', 'app']] }] },
    {
      version: 1,
      identities: [
        { id: 256, labels: [['k8s', 'app', 'web']] },
        { id: 257, labels: [['k8s', 'app', 'web']] },
      ],
    },
    [],
    null,
  ];
  for (const content of cases) {
    await withStateDir(async (dir) => {
      await writeFile(join(dir, 'identities.json'), JSON.stringify(content));
      const { warnings } = await IdentityAllocator.open(dir);
      assert.equal(warnings[0]?.code, 'MESHD_WARN_IDENTITY_STATE_CORRUPT', JSON.stringify(content));
    });
  }
});

test('a missing state file is a quiet first start', async () => {
  await withStateDir(async (dir) => {
    const { allocator, warnings } = await IdentityAllocator.open(dir);
    assert.deepEqual(warnings, []);
    assert.equal(allocator.allocate(web).id, 256);
    await allocator.flush();
  });
});

test('a state file whose next id is ahead of its identities keeps the gap', async () => {
  await withStateDir(async (dir) => {
    const file = { version: 1, nextId: { global: 300, local: 16777300 }, identities: [{ id: 256, labels: [['k8s', 'app', 'web']] }] };
    await writeFile(join(dir, 'identities.json'), JSON.stringify(file));
    const { allocator } = await IdentityAllocator.open(dir);
    assert.equal(allocator.allocate(LabelSet.parse(['k8s:app=web'])).id, 256);
    assert.equal(allocator.allocate(api).id, 300);
    assert.equal(allocator.allocate(tenNet).id, 16777300);
    await allocator.flush();
  });
});

test('a failed write is reported by flush', async () => {
  await withStateDir(async (dir) => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, '');
    const { allocator } = await IdentityAllocator.open(join(blocker, 'state'));
    allocator.allocate(web);
    await assert.rejects(allocator.flush(), { code: 'MESHD_ERR_IDENTITY_STATE_WRITE' });
    await allocator.flush();
  });
});
