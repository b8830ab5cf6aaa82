// `meshd observe` against a real agent (real root, pods, BPF, the built-in proxy): an X-wing's
// connect to the Death Star denied by the kernel and a TIE fighter's HTTP request denied by the
// proxy both appear, each naming the policy that decided; the service map shows both edges.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, withAgent, type AgentWorld } from './agent-harness.js';
import type { Flow } from '../../agent/index.js';

const T = { timeout: 240_000 };
const POLICY = join(REPO_ROOT, 'docs/examples/policies/deathstar-http.yaml');

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function ok(w: AgentWorld, args: string[]): Promise<string> {
  // Options go before `--`: what follows it is the pod's command.
  const cut = args.includes('--') ? args.indexOf('--') : args.length;
  const r = await w.meshd([...args.slice(0, cut), '--state-dir', w.place.stateDir, ...args.slice(cut)], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshd ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe('meshd observe on a running agent', () => {
  test("a denied connect and an L7 request appear in meshd observe with the policy name", T, async () => {
    await withAgent({}, async (w) => {
      await ok(w, ['pod', 'run', '--name', 'deathstar', '--namespace', 'empire', '--labels', 'org=empire,class=deathstar', '--', '/usr/bin/python3', '-m', 'http.server', '80']);
      await ok(w, ['pod', 'run', '--name', 'tiefighter', '--namespace', 'empire', '--labels', 'org=empire,class=tiefighter', '--', 'sleep', '600']);
      await ok(w, ['pod', 'run', '--name', 'xwing', '--namespace', 'alliance', '--labels', 'org=alliance,class=xwing', '--', 'sleep', '600']);
      await ok(w, ['policy', 'apply', '-f', POLICY]);
      const pods = JSON.parse(await ok(w, ['pod', 'list', '-o', 'json'])) as { pods?: Array<{ name: string; ipv4: string }> } | Array<{ name: string; ipv4: string }>;
      const list = Array.isArray(pods) ? pods : (pods.pods ?? []);
      const deathstar = list.find((p) => p.name === 'deathstar');
      assert.ok(deathstar, JSON.stringify(pods));
      const url = (path: string) => `http://${deathstar.ipv4}:80${path}`;

      // The Death Star's server is up once an allowed request gets an answer through the proxy.
      await eventually(async () => {
        const r = await w.meshd(['pod', 'exec', 'tiefighter', '-n', 'empire', '--state-dir', w.place.stateDir, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', url('/v1/status')]);
        return /^[2-4]\d\d$/.test(r.stdout.trim()) && r.stdout.trim() !== '403' ? true : undefined;
      }, 'the deathstar to answer the tiefighter');
      const denied = await w.meshd(['pod', 'exec', 'tiefighter', '-n', 'empire', '--state-dir', w.place.stateDir, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', '-X', 'PUT', url('/v1/exhaust-port')]);
      assert.equal(denied.stdout.trim(), '403', denied.stderr);
      const xwing = await w.meshd(['pod', 'exec', 'xwing', '-n', 'alliance', '--state-dir', w.place.stateDir, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', url('/v1/request-landing')]);
      assert.equal(xwing.stdout.trim(), '000', 'the xwing cannot connect');

      const flows = await eventually(async () => {
        const out = await ok(w, ['observe', '--last', '200', '-o', 'json']);
        const all = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Flow);
        const kernelDrop = all.find((f) => f.layer === 'kernel' && f.verdict === 'DROPPED' && f.source.pod === 'alliance/xwing' && f.destination.pod === 'empire/deathstar');
        const l7Deny = all.find((f) => f.layer === 'proxy' && f.verdict === 'DENIED' && f.summary === 'PUT /v1/exhaust-port -> 403');
        return kernelDrop && l7Deny ? { kernelDrop, l7Deny, all } : undefined;
      }, 'the kernel drop and the proxy denial in meshd observe');
      assert.equal(flows.kernelDrop.policy, 'empire/deathstar-landing', JSON.stringify(flows.kernelDrop));
      assert.match(flows.l7Deny.policy ?? '', /deathstar-landing/, JSON.stringify(flows.l7Deny));
      assert.equal(flows.l7Deny.source.pod, 'empire/tiefighter', JSON.stringify(flows.l7Deny));
      assert.equal(flows.l7Deny.destination.pod, 'empire/deathstar', JSON.stringify(flows.l7Deny));

      // The compact output a person reads names both, with the policy.
      const compact = await ok(w, ['observe', '--pod', 'empire/deathstar', '--verdict', 'DROPPED,DENIED', '--last', '50']);
      assert.match(compact, /alliance\/xwing(:\d+)? -> empire\/deathstar:80 tcp DROPPED \(kernel policy=empire\/deathstar-landing/);
      assert.match(compact, /empire\/tiefighter:\d+ -> empire\/deathstar:80 http DENIED \(proxy policy=[^)]*deathstar-landing[^)]*\) PUT \/v1\/exhaust-port -> 403/);

      const svgFile = join(w.place.stateDir, 'map.svg');
      await ok(w, ['observe', '--service-map', svgFile]);
      const svg = readFileSync(svgFile, 'utf8');
      assert.match(svg, /<g class="node" data-id="pod:empire\/deathstar"/);
      assert.match(svg, /data-from="pod:alliance\/xwing" data-to="pod:empire\/deathstar" data-allowed="0" data-denied="[1-9]/);
      assert.match(svg, /data-from="pod:empire\/tiefighter" data-to="pod:empire\/deathstar" data-allowed="[1-9]\d*" data-denied="[1-9]/);
    });
  });
});
