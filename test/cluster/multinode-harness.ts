// What the multinode tests share on top of test/cluster/fabric.ts: the pod a `meshd pod run -o json`
// reports, starting one, and a bounded poll for a value that appears once the cluster converges.
import assert from 'node:assert/strict';
import type { Fabric, FabricNode } from './fabric.js';

export interface PodInfo {
  name: string;
  identity: number;
  ipv4: string;
  ipv6: string;
}

/** Runs `command` as pod `name` with label app=`app` on `node`; fails the test if the pod does not start. */
export async function runPod(fabric: Fabric, node: FabricNode, name: string, app: string, command: string[]): Promise<PodInfo> {
  const r = await fabric.meshd(node, ['pod', 'run', '--name', name, '-l', `app=${app}`, '-o', 'json', '--', ...command]);
  assert.equal(r.code, 0, `pod run ${name} on ${node.name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as PodInfo;
}

/**
 * Polls `fn` every `pollMs` until it returns a value (errors count as not yet); fails with `what` and the
 * last error after `timeoutMs` (bounded).
 */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, pollMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
