// toCIDR through the agent: the reconciler gives each policy prefix a CIDR identity in the kernel's
// ipcache, so a pod may connect to an address inside an allowed prefix and is denied (EPERM at
// connect) anything else, and deleting the policy's prefix takes the allowance away again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { EndpointInfo } from '../../agent/index.js';
import { applyClientEgress, connectOnce, withAgent } from './agent-harness.js';

const T = { timeout: 180_000 };
const BASE = `198.18.${(process.pid + 7) % 250}`;
const ALLOWED = `${BASE}.50`;
const OTHER = `${BASE}.51`;

/** The client's egress rule: TCP `port` to these prefixes only. */
function cidrEgress(cidrs: string[], port: number): string {
  return `    - toCIDR: [${cidrs.map((c) => `"${c}"`).join(', ')}]
      toPorts: [{ ports: [{ port: "${port}", protocol: TCP }] }]
`;
}

describe('toCIDR through the agent', () => {
  test('a policy prefix gets a CIDR identity in the kernel: an address inside it is allowed, one outside is denied, and a narrowed policy takes it back', T, async () => {
    const sockets = new Set<Socket>();
    let server: Server | undefined;
    const added: string[] = [];
    try {
      for (const ip of [ALLOWED, OTHER]) {
        execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
        added.push(ip);
      }
      server = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      });
      await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, '0.0.0.0', resolve));
      const port = (server.address() as { port: number }).port;
      await withAgent({}, async (w) => {
        const client = await w.api.post<EndpointInfo>('/v1/pods', { name: 'client', labels: { app: 'client' }, command: ['sleep', '100000'] });
        await applyClientEgress(w, 'cidr.yaml', 'client-cidr', cidrEgress([`${BASE}.48/29`], port));
        assert.equal(await connectOnce(client, ALLOWED, port), 'OK', `${ALLOWED} is inside ${BASE}.48/29`);
        assert.equal(await connectOnce(client, OTHER, port), 'OK', `${OTHER} too`);
        await applyClientEgress(w, 'cidr.yaml', 'client-cidr', cidrEgress([`${ALLOWED}/32`], port));
        assert.equal(await connectOnce(client, ALLOWED, port), 'OK');
        assert.equal(await connectOnce(client, OTHER, port), 'EPERM', 'outside the narrowed prefix');
        const identities = await w.api.get<{ identities: Array<{ id: number; labels: string[] }> }>('/v1/identities');
        assert.ok(identities.identities.some((i) => i.labels.some((l) => l.includes(`${ALLOWED}/32`))), JSON.stringify(identities).slice(0, 500));
      });
    } finally {
      for (const s of sockets) s.destroy();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      for (const ip of added) execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo']);
    }
  });
});
