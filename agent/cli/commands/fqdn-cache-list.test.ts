import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FQDN_STATE_FILE, saveFqdnState } from '../../fqdn/index.js';
import { captureIo } from '../cli-io.js';
import { main } from '../main.js';
import { fqdnCacheList } from './fqdn-cache-list.js';
import { listFqdnState } from '../../fqdn/index.js';
import { withFakeAgent } from '../../../test/agent/api-fake-agent.js';

const root = mkdtempSync(join(tmpdir(), 'meshd-fqdn-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const now = Date.now();
const stateDir = join(root, 'state');
await saveFqdnState(stateDir, {
  savedAtMs: now,
  names: [
    { name: 'api.example.com', ips: [{ ip: '192.0.2.1', expiresAtMs: now + 29_500, lastSeenMs: now }] },
    { name: 'www.shop.test', ips: [{ ip: '198.51.100.4', expiresAtMs: now + 600_000, lastSeenMs: now }] },
  ],
  ips: [{ ip: '192.0.2.1', identity: 16_777_217, selectors: ['api.example.com'] }],
  zombies: [{ ip: '192.0.2.9', expiredAtMs: now - 1000, names: ['old.example.com'] }],
});

test('fqdn cache list prints one line per name and IP with the TTL left, the identity and the selectors', async () => {
  const io = captureIo();
  assert.equal(await main(['fqdn', 'cache', 'list', '--state-dir', stateDir], io), 0);
  const lines = io.out.split('\n');
  assert.match(lines[0]!, /^NAME\s+IP\s+TTL\s+IDENTITY\s+SELECTORS$/);
  assert.match(lines[1]!, /^api\.example\.com\s+192\.0\.2\.1\s+30s\s+16777217\s+api\.example\.com$/);
  assert.match(lines[2]!, /^www\.shop\.test\s+198\.51\.100\.4\s+600s\s+-\s+-$/, 'a learned IP no selector selects');
  assert.match(lines[3]!, /^old\.example\.com\s+192\.0\.2\.9\s+expired\s+-\s+-$/);
  // No agent runs on this state directory: the listing says it came from the file.
  assert.match(io.out, new RegExp(`\\nsource: ${stateDir}/fqdn-cache\\.json \\(no agent is running on this state directory\\)\\n$`));
  assert.equal(io.err, '');
});

test('fqdn cache list -o json gives the same facts as one JSON object', async () => {
  const io = captureIo();
  assert.equal(await main(['fqdn', 'cache', 'list', '--state-dir', stateDir, '-o', 'json'], io), 0);
  const listing = JSON.parse(io.out) as Awaited<ReturnType<typeof fqdnCacheList>>;
  assert.equal(listing.stateFile, join(stateDir, FQDN_STATE_FILE));
  assert.equal((listing as { source?: string }).source, 'state-dir');
  assert.deepEqual(listing.names[0], { name: 'api.example.com', ips: [{ ip: '192.0.2.1', ttlSeconds: 30, expiresAt: new Date(now + 29_500).toISOString(), identity: 16_777_217, selectors: ['api.example.com'] }] });
  assert.equal(listing.zombies[0]?.ip, '192.0.2.9');
});

test('a missing or corrupt cache file is a coded error and exit status 1, not a crash', async () => {
  const missing = captureIo();
  assert.equal(await main(['fqdn', 'cache', 'list', '--state-dir', join(root, 'nowhere')], missing), 1);
  assert.match(missing.err, /^MESHD_ERR_FQDN_STATE_READ {2}no FQDN cache at .*fqdn-cache\.json, and no agent runs on .*meshd\.sock\nhint: /);

  const corruptDir = join(root, 'corrupt');
  await saveFqdnState(corruptDir, { savedAtMs: now, names: [], ips: [], zombies: [] });
  writeFileSync(join(corruptDir, FQDN_STATE_FILE), '{"version":1,"savedAtMs":');
  const corrupt = captureIo();
  assert.equal(await main(['fqdn', 'cache', 'list', '--state-dir', corruptDir], corrupt), 1);
  assert.match(corrupt.err, /^MESHD_ERR_FQDN_STATE_CORRUPT {2}.*fqdn-cache\.json is not a valid FQDN cache/);
});

test('fqdn cache list asks the running agent first and says so', async () => {
  const live = listFqdnState(
    { savedAtMs: now, names: [{ name: 'live.example.com', ips: [{ ip: '203.0.113.5', expiresAtMs: now + 10_000, lastSeenMs: now }] }], ips: [], zombies: [] },
    now,
  );
  await withFakeAgent([{ method: 'GET', path: '/v1/fqdn/cache', handler: async () => ({ source: 'agent', ...live }) }], async (agent) => {
    const text = await agent.meshd('fqdn', 'cache', 'list');
    assert.equal(text.status, 0, text.io.err);
    assert.match(text.io.out, /^live\.example\.com\s+203\.0\.113\.5\s+10s\s+-\s+-$/m);
    assert.match(text.io.out, new RegExp(`\\nsource: the running agent \\(${agent.stateDir}/meshd\\.sock\\)\\n$`));
    const json = await agent.meshd('fqdn', 'cache', 'list', '-o', 'json');
    assert.deepEqual(JSON.parse(json.io.out), { source: 'agent', ...live });
  });
});
