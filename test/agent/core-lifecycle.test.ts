// The agent's life cycle as users run it (`node bin/meshd.js agent`, real root, BPF, cgroups): it
// starts, answers over its API socket, refuses a second agent on the same state directory, and on
// SIGTERM drains and exits 0 while the proxy and the pinned datapath stay for the next agent.
// `--proxy envoy` without an envoy binary fails at once with a clear message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentArgs, newAgentPlace, runMeshd, withAgent } from './agent-harness.js';
import { isRecordedProcessAlive } from '../../agent/index.js';

const T = { timeout: 180_000 };

describe('meshd agent life cycle', () => {
  test('an agent starts, reports itself over the API, and on SIGTERM exits 0 leaving the proxy and the pinned maps in place', T, async () => {
    await withAgent({}, async (w) => {
      const info = await w.info();
      assert.equal(info.pid, w.process!.pid);
      assert.equal(info.node.name, w.place.nodeName);
      assert.equal(info.options.stateDir, w.place.stateDir);
      assert.ok(info.proxy?.alive, 'the proxy runs');
      assert.equal(info.proxy?.adopted, false);
      assert.ok(info.xds.version >= 1, `an xDS version, got ${info.xds.version}`);
      assert.ok(existsSync(join(w.place.stateDir, 'agent.lock')));
      assert.match(w.process!.readyLine, /^meshd agent: ready; node /);
      // `meshd status`'s view over the API: every component up, the proxy connected and in sync.
      const status = await w.api.get<{ health: string; pid: number; components: Array<{ name: string; health: string }>; proxies: Array<{ connected: boolean; inSync: boolean }> }>('/v1/status');
      assert.equal(status.pid, w.process!.pid);
      assert.equal(status.health, 'ok', JSON.stringify(status.components));
      assert.deepEqual(status.proxies.map((p) => [p.connected, p.inSync]), [[true, true]]);
      // The proxy is in the node's proxy cgroup (the datapath never redirects it), in a session of its own.
      const cgroupProcs = readFileSync(join(info.node.proxyCgroup, 'cgroup.procs'), 'utf8').split('\n');
      assert.ok(cgroupProcs.includes(String(info.proxy!.pid)), `proxy pid ${info.proxy!.pid} in ${info.node.proxyCgroup}`);
      const stat = readFileSync(`/proc/${info.proxy!.pid}/stat`, 'utf8');
      const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      assert.equal(sid, info.proxy!.pid, 'the proxy leads its own session');

      const ended = await w.process!.stop('SIGTERM');
      assert.deepEqual(ended, { code: 0, signal: null }, w.process!.stderr());
      assert.match(w.process!.stdout(), /meshd agent: stopped \(SIGTERM\)/);
      assert.equal(existsSync(join(w.place.stateDir, 'agent.lock')), false, 'the lock was released');
      assert.equal(existsSync(join(w.place.stateDir, 'meshd.sock')), false, 'the API socket was removed');
      assert.ok(isRecordedProcessAlive({ pid: info.proxy!.pid!, startTime: info.proxy!.startTime! }), 'the proxy outlives the agent');
      assert.ok(existsSync(join(w.place.pinRoot, 'links')), 'the pinned links stay');
      // JSON lines on stderr when it is not a terminal, each with a level and a message.
      const lines = w.process!.stderr().trim().split('\n');
      for (const line of lines.slice(0, 5)) assert.ok(typeof (JSON.parse(line) as { msg?: unknown }).msg === 'string', line);
      assert.ok(lines.some((l) => l.includes('"component":"xds"')), 'component child loggers');
    });
  });

  test('SIGTERM drains: a following client sees its stream end cleanly, and the agent exits 0 promptly', T, async () => {
    await withAgent({}, async (w) => {
      const received: unknown[] = [];
      const following = (async () => {
        for await (const flow of w.api.stream('/v1/flows', { follow: 'true' })) received.push(flow);
      })();
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      const ended = await w.process!.stop('SIGTERM');
      assert.deepEqual(ended, { code: 0, signal: null }, w.process!.stderr());
      assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
      await following; // ends without an error: the server closed the stream, it did not cut it
      const log = w.process!.stderr();
      assert.ok(log.indexOf('"agent: stopping"') < log.indexOf('"xds: server closed"'), 'stopping is logged first');
      assert.match(log, /"agent: stopped"/);
    });
  });

  test('a proxy that dies while the agent runs is started again, and the new one takes the configuration', T, async () => {
    await withAgent({}, async (w) => {
      const first = (await w.info()).proxy!;
      process.kill(first.pid!, 'SIGKILL');
      const deadline = Date.now() + 20_000;
      let now = first;
      while (Date.now() < deadline && (now.pid === first.pid || !now.alive)) {
        await new Promise((r) => setTimeout(r, 200));
        now = (await w.info()).proxy!;
      }
      assert.notEqual(now.pid, first.pid, 'a new proxy process');
      assert.equal(now.alive, true);
      assert.equal(now.restarts, 1);
      const synced = Date.now() + 20_000;
      let status = await w.api.get<{ proxies: Array<{ connected: boolean; inSync: boolean }> }>('/v1/xds/status');
      while (Date.now() < synced && !(status.proxies[0]?.connected && status.proxies[0]?.inSync)) {
        await new Promise((r) => setTimeout(r, 200));
        status = await w.api.get('/v1/xds/status');
      }
      assert.deepEqual(status.proxies.map((p) => [p.connected, p.inSync]), [[true, true]], 'the new proxy holds the snapshot');
      assert.match(w.process!.stderr(), /proxy: exited; starting it again/);
    });
  });

  test('the agent also runs inside a test process (Agent.start), with every service reachable, and stops cleanly', T, async () => {
    await withAgent({ mode: 'inProcess' }, async (w) => {
      const s = w.agent!.services;
      assert.equal(s.options.stateDir, w.place.stateDir);
      assert.equal((await w.info()).pid, process.pid);
      assert.equal(s.proxy?.info().alive, true);
      await s.reconcile();
      assert.ok(s.reconciler.stats.runs >= 1);
      await w.agent!.stop();
      assert.equal(existsSync(join(w.place.stateDir, 'agent.lock')), false);
      assert.equal(s.proxy?.info().alive, true, 'the proxy stays for the next agent');
    });
  });

  test('meshd teardown stops agent and proxy and removes pods, the pinned datapath and the runtime files, keeping identities and policies', T, async () => {
    await withAgent({}, async (w) => {
      const pod = await w.api.post<{ netns: string; cgroupPath: string }>('/v1/pods', { name: 'web', labels: { app: 'web' }, command: ['sleep', '100000'] });
      const info = await w.info();
      const r = await w.meshd(['teardown', '--state-dir', w.place.stateDir, '--pin-root', w.place.pinRoot, '--node-prefix', w.place.nodePrefix, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { agentStopped: number; proxiesStopped: number[]; pinRootRemoved: boolean; linksDetached: number; problems: string[] };
      assert.equal(report.agentStopped, w.process!.pid);
      assert.deepEqual(report.proxiesStopped, [info.proxy!.pid]);
      assert.deepEqual(report.problems, []);
      assert.ok(report.linksDetached >= 1, 'the pod and proxy links were detached');
      assert.deepEqual(await w.process!.exited, { code: 0, signal: null }, 'the agent drained and exited 0');
      assert.equal(isRecordedProcessAlive({ pid: info.proxy!.pid!, startTime: info.proxy!.startTime! }), false, 'the proxy is gone');
      assert.equal(existsSync(pod.netns), false, 'the pod netns is gone');
      assert.equal(existsSync(pod.cgroupPath), false, 'the pod cgroup is gone');
      assert.equal(existsSync(w.place.pinRoot), false, 'the pin root is gone');
      for (const f of ['meshd.sock', 'xds.sock', 'agent.lock', 'proxy.json']) assert.equal(existsSync(join(w.place.stateDir, f)), false, f);
      assert.equal(existsSync(join(w.place.stateDir, 'identities.json')), true, 'identities stay without --purge');
    });
  });

  test('a second agent on the same state directory exits 1 with MESHD_ERR_AGENT_ALREADY_RUNNING and leaves the first one running', T, async () => {
    await withAgent({}, async (w) => {
      const second = await w.spawnAnother();
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, /MESHD_ERR_AGENT_ALREADY_RUNNING/);
      assert.match(second.stderr, new RegExp(`pid ${w.process!.pid}`));
      assert.equal((await w.info()).pid, w.process!.pid, 'the first agent still answers');
    });
  });

  test('--proxy envoy without an envoy binary in PATH exits 1 with MESHD_ERR_AGENT_ENVOY_NOT_FOUND before touching the node', T, async () => {
    const place = newAgentPlace();
    const emptyPath = mkdtempSync(join(tmpdir(), 'meshd-no-envoy-'));
    try {
      const r = await runMeshd(agentArgs(place, ['--proxy', 'envoy']), { env: { ...process.env, PATH: emptyPath } });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /MESHD_ERR_AGENT_ENVOY_NOT_FOUND/);
      assert.match(r.stderr, /no envoy binary in PATH/);
      assert.match(r.stderr, /--proxy builtin/, 'the hint names the way out');
      assert.equal(existsSync(place.pinRoot), false, 'no datapath was loaded');
      assert.equal(existsSync(join(place.stateDir, 'agent.lock')), false);
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
      rmSync(place.stateDir, { recursive: true, force: true });
    }
  });
});
