// Pods on a real kernel: netns + veth + cgroup v2, routed through the host (agent/pods,
// docs/pods.md). Runs as root in suite `bpf`. Every test removes what it made, and the last
// ones check that nothing is left even after a throwing test and a test process killed by a
// signal.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroup2Mount, cleanupAll, createPod, deletePod, setupNode, testPrefix, withPods, type Pod } from '../../agent/index.js';
import type { ChildReport, SelfInCgroupReport } from './pods-child.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./pods-child.js', import.meta.url));
const TEST_TIMEOUT_MS = 30_000;

function requireTool(tool: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
  } catch {
    assert.fail(`${tool} is not installed (Debian package ${pkg}); the pod tests need it`);
  }
}

/** Running means: exists and is not a zombie waiting for its parent. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function assertNothingLeft(p: { netns: string; hostVeth: string; cgroupPath: string }, pids: number[] = []): void {
  assert.equal(existsSync(p.netns), false, `netns ${p.netns} still exists`);
  assert.equal(existsSync(`/sys/class/net/${p.hostVeth}`), false, `veth ${p.hostVeth} still exists`);
  assert.equal(existsSync(p.cgroupPath), false, `cgroup ${p.cgroupPath} still exists`);
  for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} still runs`);
}

/** Node one-liners run inside pods: the client and server of the TCP/UDP tests. */
const ECHO_SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const tcp = net.createServer((s) => s.on('data', (d) => s.end(d + ' from ' + s.remoteAddress))).listen(7000, '::');
const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
udp.on('message', (m, r) => udp.send(m + ' from ' + r.address, r.port, r.address));
udp.bind(7001, '::', () => tcp.listening ? console.log('ready') : tcp.once('listening', () => console.log('ready')));
setTimeout(() => process.exit(0), 20000);`;

const TCP_CLIENT = `
const s = require('node:net').connect(Number(process.argv[2]), process.argv[1], () => s.write('hello'));
let r = ''; s.on('data', (d) => r += d).on('end', () => { console.log(r); process.exit(0); });
s.on('error', (e) => { console.error(e.code); process.exit(1); }); setTimeout(() => process.exit(2), 5000);`;

const UDP_CLIENT = `
const dgram = require('node:dgram'); const host = process.argv[1];
const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
u.on('message', (m) => { console.log(String(m)); process.exit(0); });
u.send('ping', Number(process.argv[2]), host); setTimeout(() => process.exit(2), 5000);`;

async function startInPod(pod: Pod, script: string): Promise<ChildProcess> {
  const child = pod.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server in pod ${pod.name} did not start: ${out}`)), 5000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server in pod ${pod.name} exited with ${code}`)));
  });
  return child;
}

async function nodeInPod(pod: Pod, script: string, args: string[]): Promise<string> {
  const r = await pod.exec(process.execPath, ['-e', script, ...args], { timeoutMs: 8000 });
  assert.equal(r.code, 0, `node -e in pod ${pod.name} ${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
  return r.stdout.trim();
}

async function readChildReport<T = ChildReport>(child: ChildProcess): Promise<T> {
  let out = '';
  child.stdout!.setEncoding('utf8');
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child test process printed no report: ${out}`)), 15_000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, newline)) as T);
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`child test process ended (${code ?? signal}) before its report: ${out}`)));
  });
}

function startChild(mode: number | 'self-in-cgroup'): ChildProcess {
  return spawn(process.execPath, [CHILD_SCRIPT, String(mode)], { stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('pods', { timeout: 120_000 }, () => {
  before(() => {
    assert.equal(process.getuid?.(), 0, 'the pod tests need root (netns, veth, cgroups)');
    requireTool('ip', 'iproute2');
    requireTool('nsenter', 'util-linux');
    requireTool('ping', 'iputils-ping');
  });

  after(async () => {
    await cleanupAll(testPrefix());
  });

  test('setupNode installs the blackhole routes and the gateway before the first pod exists', { timeout: TEST_TIMEOUT_MS }, async () => {
    const node = await setupNode({ prefix: testPrefix() });
    const blackholes4 = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'type', 'blackhole'], { encoding: 'utf8' })) as Array<{ dst: string }>;
    const blackholes6 = JSON.parse(execFileSync('ip', ['-j', '-6', 'route', 'show', 'type', 'blackhole'], { encoding: 'utf8' })) as Array<{ dst: string }>;
    assert.ok(blackholes4.some((r) => r.dst === '10.244.0.0/16'), JSON.stringify(blackholes4));
    assert.ok(blackholes6.some((r) => r.dst === 'fd44:244::/48'), JSON.stringify(blackholes6));
    const addresses = execFileSync('ip', ['-br', 'addr', 'show', 'dev', node.gatewayInterface], { encoding: 'utf8' });
    assert.match(addresses, /^\S+\s+(UP|UNKNOWN)\s/); // the state column (an ifb or dummy reports UNKNOWN)
    assert.match(addresses, /10\.244\.0\.1\/32/);
    assert.match(addresses, /fd44:244::1\/128/);
    assert.deepEqual(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(testPrefix())), []);
    // An address in the cluster range with no pod behind it fails here, at once, instead of
    // being sent out of the host's uplink.
    const socket = connect({ host: '10.244.200.1', port: 80 });
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'EINVAL');
    assert.equal(statSync(node.podsCgroup).isDirectory(), true);
    assert.equal(statSync(node.proxyCgroup).isDirectory(), true);
  });

  test('two pods ping each other over IPv4 and IPv6 through the host', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([{ name: 'ping-a' }, { name: 'ping-b' }], async ([a, b]) => {
      for (const [from, to] of [
        [a!, b!.ipv4],
        [a!, b!.ipv6],
        [b!, a!.ipv4],
        [b!, a!.ipv6],
      ] as const) {
        const r = await from.exec('ping', ['-c', '1', '-W', '2', to]);
        assert.equal(r.code, 0, `${from.name} → ${to}: ${r.stdout}${r.stderr}`);
        // One hop through the host's forwarding: the TTL / hop limit went down by one.
        assert.match(r.stdout, /(ttl|hlim)=63\b/, r.stdout);
      }
    });
  });

  test('TCP and UDP work between pods over both families, with the pod addresses unchanged', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([{ name: 'l4-client' }, { name: 'l4-server' }], async ([client, server]) => {
      await startInPod(server!, ECHO_SERVER);
      assert.equal(await nodeInPod(client!, TCP_CLIENT, [server!.ipv4, '7000']), `hello from ::ffff:${client!.ipv4}`);
      assert.equal(await nodeInPod(client!, TCP_CLIENT, [server!.ipv6, '7000']), `hello from ${client!.ipv6}`);
      assert.equal(await nodeInPod(client!, UDP_CLIENT, [server!.ipv4, '7001']), `ping from ::ffff:${client!.ipv4}`);
      assert.equal(await nodeInPod(client!, UDP_CLIENT, [server!.ipv6, '7001']), `ping from ${client!.ipv6}`);
    });
  });

  test('a pod reaches a listener on the host bound to the gateway addresses', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([{ name: 'gw' }], async ([pod], node) => {
      const servers: Server[] = [];
      try {
        const ports: string[] = [];
        for (const address of [node.gateway4, node.gateway6]) {
          const server = createServer((s) => s.on('data', (d) => s.end(`${d} from ${s.remoteAddress}`)));
          servers.push(server);
          server.listen(0, address); // any port: other test processes share the gateway address
          await once(server, 'listening');
          ports.push(String((server.address() as AddressInfo).port));
        }
        assert.equal(await nodeInPod(pod!, TCP_CLIENT, [node.gateway4, ports[0]!]), `hello from ${pod!.ipv4}`);
        assert.equal(await nodeInPod(pod!, TCP_CLIENT, [node.gateway6, ports[1]!]), `hello from ${pod!.ipv6}`);
      } finally {
        for (const server of servers) server.close();
      }
    });
  });

  test('a process spawned in a pod runs in the pod cgroup and the pod netns', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([{ name: 'placement' }], async ([pod]) => {
      const p = pod!;
      const sleeper = p.spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const pid = sleeper.pid!;
        // The spawn wrapper execs twice (sh → nsenter → sleep) under one pid; wait for the last.
        const deadline = Date.now() + 5000;
        while (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\0/, 'the spawned process never became sleep');
        const cgroupLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
        assert.equal(cgroupLine, `0::/${relative(cgroup2Mount(), p.cgroupPath)}`);
        assert.equal(readlinkSync(`/proc/${pid}/ns/net`), `net:[${statSync(p.netns).ino}]`);
        assert.equal(p.cgroupId, statSync(p.cgroupPath, { bigint: true }).ino);
        assert.ok(p.hostVeth.length <= 15);
        assert.equal(p.hostIfindex, Number(readFileSync(`/sys/class/net/${p.hostVeth}/ifindex`, 'utf8')));
        assert.equal(readFileSync(`/sys/class/net/${p.hostVeth}/ifalias`, 'utf8').trim(), p.nsName);
        // Inside: eth0 with both addresses, default routes through the gateway.
        const routes = await p.exec('ip', ['route', 'show', 'default']);
        assert.match(routes.stdout, /default via 10\.244\.0\.1 dev eth0 onlink/);
        const routes6 = await p.exec('ip', ['-6', 'route', 'show', 'default']);
        assert.match(routes6.stdout, /default via fd44:244::1 dev eth0 .*onlink/);
      } finally {
        sleeper.kill('SIGKILL');
      }
    });
  });

  test('exec kills a command that outlives its timeout and says so', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([{ name: 'timeout' }], async ([pod]) => {
      const started = Date.now();
      await assert.rejects(pod!.exec('sleep', ['10'], { timeoutMs: 200 }), { code: 'MESHD_ERR_POD_EXEC_TIMEOUT' });
      assert.ok(Date.now() - started < 3000);
      const echo = await pod!.exec('cat', [], { input: 'through stdin' });
      assert.deepEqual({ code: echo.code, stdout: echo.stdout }, { code: 0, stdout: 'through stdin' });
    });
  });

  test('explicit addresses are honoured and a taken one is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
    // High host numbers (allocation starts at 10), varied by pid so parallel copies of this
    // file do not ask for the same one.
    const host = 200 + (process.pid % 50);
    await withPods([{ name: 'fixed', ipv4: `10.244.0.${host}` }], async ([pod]) => {
      assert.equal(pod!.ipv6, `fd44:244::${host.toString(16)}`);
      await assert.rejects(createPod({ name: 'fixed-twin', ipv4: `10.244.0.${host}` }), { code: 'MESHD_ERR_POD_ADDRESS_IN_USE' });
      await assert.rejects(createPod({ name: 'fixed' }), { code: 'MESHD_ERR_POD_EXISTS' });
      assert.equal(existsSync(`/run/netns/${testPrefix()}fixed-twin`), false);
    });
  });

  test('creating a pod takes well under 200 ms', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([], async () => {
      const createMs: number[] = [];
      const deleteMs: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t0 = performance.now();
        const pod = await createPod({ name: `speed${i}` });
        const t1 = performance.now();
        await deletePod(pod);
        createMs.push(t1 - t0);
        deleteMs.push(performance.now() - t1);
      }
      createMs.sort((x, y) => x - y);
      deleteMs.sort((x, y) => x - y);
      const median = createMs[createMs.length >> 1]!;
      console.log(`pod create: median ${median.toFixed(1)} ms, max ${createMs.at(-1)!.toFixed(1)} ms; delete: median ${deleteMs[deleteMs.length >> 1]!.toFixed(1)} ms`);
      assert.ok(median < 100, `median pod creation ${median.toFixed(1)} ms`);
      assert.ok(createMs.at(-1)! < 200, `slowest pod creation ${createMs.at(-1)!.toFixed(1)} ms`);
    });
  });

  test('deletePod is idempotent and also takes a name', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPods([], async () => {
      const pod = await createPod({ name: 'twice' });
      await deletePod('twice');
      assertNothingLeft(pod);
      await deletePod(pod);
      await deletePod('never-created');
    });
  });

  test('withPods removes pods, processes and cgroups when the test throws', { timeout: TEST_TIMEOUT_MS }, async () => {
    let seen: { pods: Pod[]; pids: number[]; nodeCgroup: string } | undefined;
    await assert.rejects(
      withPods([{ name: 'throws-a' }, { name: 'throws-b' }], async (pods, node) => {
        const pids = pods.map((p) => p.spawn('sleep', ['300'], { stdio: 'ignore' }).pid!);
        const proxy = spawn('sh', ['-c', 'echo $$ > "$0"/cgroup.procs && exec sleep 300', node.proxyCgroup], { stdio: 'ignore' });
        seen = { pods, pids: [...pids, proxy.pid!], nodeCgroup: node.nodeCgroup };
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('on purpose');
      }),
      /on purpose/,
    );
    assert.ok(seen);
    for (const pod of seen.pods) assertNothingLeft(pod, seen.pids);
    assert.equal(existsSync(seen.nodeCgroup), false, `${seen.nodeCgroup} still exists`);
  });

  test('a test process killed with SIGTERM leaves no netns, veth, cgroup or process behind', { timeout: TEST_TIMEOUT_MS }, async () => {
    const child = startChild(2);
    const report = await readChildReport(child);
    assert.equal(report.pods.length, 2);
    for (const pod of report.pods) assert.equal(existsSync(pod.netns), true);
    child.kill('SIGTERM');
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal ?? code, 'SIGTERM');
    for (const pod of report.pods) assertNothingLeft(pod, [pod.sleeperPid]);
    assert.equal(existsSync(report.nodeCgroup), false);
  });

  test('cleanupAll removes what a SIGKILLed test process left behind', { timeout: TEST_TIMEOUT_MS }, async () => {
    const child = startChild(1);
    const report = await readChildReport(child);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const [pod] = report.pods;
    assert.ok(pod);
    assert.equal(existsSync(pod.netns), true, 'SIGKILL runs no hook: the pod should still be there');
    await cleanupAll(); // no prefix: every pid-carrying prefix whose process is gone
    assertNothingLeft(pod, [pod.sleeperPid]);
    assert.equal(existsSync(report.nodeCgroup), false);
  });

  test('deleting a pod from a process inside its cgroup kills the pod but never that process', { timeout: TEST_TIMEOUT_MS }, async () => {
    const child = startChild('self-in-cgroup');
    try {
      // Killed with the pod, the child would die (SIGKILL) before printing its report.
      const report = await readChildReport<SelfInCgroupReport>(child);
      const [code, signal] = (child.exitCode !== null || child.signalCode !== null ? [child.exitCode, child.signalCode] : await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, `child ended with ${code ?? signal} (deletePod from inside: ${report.deleteFromInside})`);
      assertNothingLeft(report.pod);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('test processes running at the same time get different addresses', { timeout: TEST_TIMEOUT_MS }, async () => {
    const children = [startChild(3), startChild(3), startChild(3)];
    try {
      const reports = await Promise.all(children.map(readChildReport));
      const v4 = reports.flatMap((r) => r.pods.map((p) => p.ipv4));
      const v6 = reports.flatMap((r) => r.pods.map((p) => p.ipv6));
      assert.equal(new Set(v4).size, 9, v4.join(' '));
      assert.equal(new Set(v6).size, 9, v6.join(' '));
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
      for (const r of reports) for (const pod of r.pods) assertNothingLeft(pod, [pod.sleeperPid]);
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }
  });
});
