import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FQDN_STATE_FILE, decodeFqdnState, loadFqdnState, saveFqdnState } from './fqdn-state-file.js';
import type { FqdnState } from './fqdn-state-file.js';

const dir = mkdtempSync(join(tmpdir(), 'meshd-fqdn-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const state: FqdnState = {
  savedAtMs: 1_700_000_000_000,
  names: [{ name: 'api.example.com', ips: [{ ip: '192.0.2.1', expiresAtMs: 1_700_000_030_000, lastSeenMs: 1_700_000_000_000 }, { ip: '2001:db8::1', expiresAtMs: 1_700_000_060_000, lastSeenMs: 1_700_000_000_001 }] }],
  ips: [{ ip: '192.0.2.1', identity: 16_777_217, selectors: ['api.example.com'] }],
  zombies: [{ ip: '192.0.2.9', expiredAtMs: 1_699_999_999_000, names: ['old.example.com'] }],
};

test('a saved state loads back equal, and a missing file is no state rather than an error', async () => {
  const sub = join(dir, 'round-trip');
  assert.equal(await loadFqdnState(sub), undefined);
  await saveFqdnState(sub, state);
  assert.deepEqual(await loadFqdnState(sub), state);
});

test('a corrupt or truncated state file is a MESHD_ERR_FQDN_STATE_CORRUPT error naming the file and the bad field', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"version":1,"names":[{"name":"a.test","ips":[{"ip":"1.2', /not a valid FQDN cache/],
    ['[]', /the file is not an object/],
    ['{"version":7,"savedAtMs":0,"names":[],"ips":[]}', /unknown version 7/],
    ['{"version":1,"savedAtMs":0,"names":[{"name":"a.test","ips":[{"ip":"not-an-ip","expiresAtMs":1,"lastSeenMs":1}]}],"ips":[]}', /names\[0\]\.ips\[0\]\.ip is not an IP address/],
    ['{"version":1,"savedAtMs":0,"names":[],"ips":[{"ip":"192.0.2.1","identity":-3,"selectors":[]}]}', /ips\[0\]\.identity/],
  ];
  for (const [i, [text, message]] of cases.entries()) {
    const sub = join(dir, `corrupt-${i}`);
    await saveFqdnState(sub, state);
    writeFileSync(join(sub, FQDN_STATE_FILE), text);
    await assert.rejects(loadFqdnState(sub), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESHD_ERR_FQDN_STATE_CORRUPT');
      assert.match(err.message, message);
      assert.ok(err.message.includes(join(sub, FQDN_STATE_FILE)));
      return true;
    });
  }
});

test('random corruptions of a state file are either decoded or refused with an Error, never a crash (bounded: 3000 cases, 2 s)', () => {
  const valid = Buffer.from(JSON.stringify({ version: 1, ...state }));
  let seed = 0x9e3779b9;
  const random = (n: number) => {
    // xorshift32: deterministic, so a failure replays.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const deadline = Date.now() + 2000;
  for (let i = 0; i < 3000 && Date.now() < deadline; i++) {
    const bytes = Buffer.from(valid);
    for (let k = 0; k <= random(4); k++) bytes[random(bytes.length)] = random(256);
    const text = bytes.subarray(0, random(4) === 0 ? random(bytes.length) : bytes.length).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      continue; // loadFqdnState turns this into MESHD_ERR_FQDN_STATE_CORRUPT as well
    }
    try {
      decodeFqdnState(raw);
    } catch (err) {
      // A plain Error with a field path; a TypeError would mean the decoder trusted a shape it never checked.
      assert.ok(err instanceof Error && err.constructor === Error, `case ${i}: threw ${String(err)}`);
    }
  }
});
