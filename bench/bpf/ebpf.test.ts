import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideFromEntries } from '../../bpf/index.js';
import { benchPolicy } from './ebpf.js';

test('the bench policy trie has the requested number of entries and allows only the server ports', () => {
  for (const size of [10, 1000]) {
    const content = benchPolicy({ size, serverIdentity: 50_000, allowPorts: [7000, 7002] });
    assert.equal(content.entries.length, size);
    assert.equal(content.egressEnforced, true);
    const flow = (port: number, peerIdentity = 50_000) => decideFromEntries(content.entries, { direction: 'egress', peerIdentity, protocol: 6, port }).verdict;
    assert.equal(flow(7000), 'allowed');
    assert.equal(flow(7002), 'allowed');
    assert.equal(flow(7001), 'denied');
    assert.equal(flow(7000, 50_001), 'denied');
  }
});

test('redirect entries send the server ports to their proxy ports', () => {
  const content = benchPolicy({ size: 4, serverIdentity: 50_000, redirects: new Map([[7000, 15101], [7002, 15101]]) });
  assert.equal(content.entries.length, 4);
  const decision = decideFromEntries(content.entries, { direction: 'egress', peerIdentity: 50_000, protocol: 6, port: 7002 });
  assert.deepEqual({ verdict: decision.verdict, proxyPort: decision.proxyPort }, { verdict: 'redirected', proxyPort: 15101 });
});
