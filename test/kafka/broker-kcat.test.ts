// kcat 1.7.1 (librdkafka 2.0.2) against the fixture broker directly: metadata listing, produce, consume,
// a consumer group that commits and resumes, version fallback, and the fixture's command line. Every kcat
// run is a child process killed after a timeout.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { KafkaFixtureBroker } from '../fixtures/kafka-broker/index.js';

const KCAT = '/usr/bin/kcat';
const KCAT_TIMEOUT_MS = 20_000;

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a child to completion, feeding `input`; SIGKILL after `timeoutMs` (the result then says so). */
function run(bin: string, args: string[], input = '', timeoutMs = KCAT_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** A child that runs until stopped (SIGTERM, then SIGKILL), never longer than `timeoutMs`. */
function startLongRunning(bin: string, args: string[], timeoutMs = KCAT_TIMEOUT_MS) {
  const output = { stdout: '', stderr: '' };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const handle = {
    output,
    start(): void {
      if (child) return;
      const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (output.stdout += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (output.stderr += d.toString()));
      exited = new Promise((resolve) => c.on('close', () => resolve()));
      timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    },
    async waitFor(check: (o: typeof output) => boolean, what: string): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!check(output)) {
        if (Date.now() > deadline || (child !== undefined && child.exitCode !== null)) throw new Error(`${what}: not seen (stdout ${JSON.stringify(output.stdout)}, stderr ${JSON.stringify(output.stderr.slice(-2000))})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(): Promise<void> {
      if (!child) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
      clearTimeout(timer);
    },
  };
  return handle;
}

function assertExited(r: RunResult, what: string): void {
  assert.equal(r.signal, null, `${what} was killed after ${KCAT_TIMEOUT_MS} ms; stderr:\n${r.stderr}`);
  assert.equal(r.code, 0, `${what} exited ${r.code}; stderr:\n${r.stderr}`);
}

describe('kafka fixture broker: kcat (librdkafka 2.0.2)', () => {
  let broker: KafkaFixtureBroker;
  let bootstrap: string;

  before(async () => {
    broker = await KafkaFixtureBroker.start({ topics: [{ name: 'kc-orders', partitions: 2 }] });
    bootstrap = `${broker.host}:${broker.port}`;
  });
  after(async () => {
    await broker.close();
  });

  test('kcat -L lists the broker and the topic with its partitions', async () => {
    const r = await run(KCAT, ['-b', bootstrap, '-L']);
    assertExited(r, 'kcat -L');
    assert.match(r.stdout, new RegExp(`broker 1 at ${broker.host}:${broker.port} \\(controller\\)`));
    assert.match(r.stdout, /topic "kc-orders" with 2 partitions:/);
    assert.match(r.stdout, /partition 1, leader 1, replicas: 1, isrs: 1/);
  });

  test('kcat -P produces keyed records that the broker stores intact and in order', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `key-${i}:value ${i} ${'x'.repeat(i)}`);
    const r = await run(KCAT, ['-b', bootstrap, '-P', '-t', 'kc-orders', '-p', '0', '-K:'], lines.join('\n') + '\n');
    assertExited(r, 'kcat -P');
    const stored = broker.records('kc-orders', 0);
    assert.deepEqual(
      stored.map((s) => `${s.key?.toString()}:${s.value?.toString()}`),
      lines,
    );
    assert.deepEqual(
      stored.map((s) => s.offset),
      lines.map((_, i) => BigInt(i)),
    );
  });

  test('kcat -C reads the partition from the beginning to its end', async () => {
    const r = await run(KCAT, ['-b', bootstrap, '-C', '-t', 'kc-orders', '-p', '0', '-o', 'beginning', '-e', '-f', '%o|%k|%s\n']);
    assertExited(r, 'kcat -C');
    const got = r.stdout.trimEnd().split('\n');
    assert.equal(got.length, 50);
    got.forEach((line, i) => assert.equal(line, `${i}|key-${i}|value ${i} ${'x'.repeat(i)}`));
  });

  test('kcat -G consumes both partitions as a group member, commits, and resumes from the committed offsets', async (t) => {
    const p1 = await run(KCAT, ['-b', bootstrap, '-P', '-t', 'kc-orders', '-p', '1'], 'one\ntwo\n');
    assertExited(p1, 'kcat -P partition 1');
    const groupArgs = ['-b', bootstrap, '-G', 'kc-group', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%p|%o|%s\n', 'kc-orders'];
    const first = await run(KCAT, groupArgs);
    assertExited(first, 'kcat -G (first run)');
    const lines = first.stdout.trimEnd().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('0|')).length, 50);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('1|')),
      ['1|0|one', '1|1|two'],
    );
    const p2 = await run(KCAT, ['-b', bootstrap, '-P', '-t', 'kc-orders', '-p', '1'], 'three\n');
    assertExited(p2, 'kcat -P partition 1');
    const second = await run(KCAT, groupArgs);
    assertExited(second, 'kcat -G (second run)');
    assert.equal(second.stdout, '1|2|three\n', 'only what arrived after the committed offsets');
    const seen = broker.requestsSeen();
    for (const key of [10, 11, 14, 12, 8, 9, 13]) assert.ok(seen.some((s) => s.apiKey === key), `kcat sent api key ${key}`);
    const versions = new Map<number, Set<number>>();
    for (const s of seen) versions.set(s.apiKey, (versions.get(s.apiKey) ?? new Set()).add(s.apiVersion));
    t.diagnostic(
      [...versions]
        .sort((x, y) => x[0] - y[0])
        .map(([k, vs]) => `${k}:v${[...vs].join('/')}`)
        .join(' '),
    );
  });

  test('two kcat -G members share a group: the second join rebalances, each gets one partition and its records', async () => {
    // -u: unbuffered stdout, so records show while kcat runs. earliest: a member that takes over a partition starts from what the previous owner committed on revoke.
    const groupArgs = ['-u', '-b', bootstrap, '-G', 'kc-shared', '-X', 'auto.offset.reset=earliest', '-X', 'heartbeat.interval.ms=300', '-f', '%p|%s\n', 'kc-orders'];
    const a = startLongRunning(KCAT, groupArgs);
    const b = startLongRunning(KCAT, groupArgs);
    try {
      a.start();
      await a.waitFor((out) => /assigned: kc-orders \[0\], kc-orders \[1\]/.test(out.stderr), 'first member gets both partitions');
      b.start();
      const single = /rebalanced \(memberid [^)]+\): assigned: kc-orders \[(\d)\]\n/;
      await b.waitFor((out) => single.test(out.stderr), 'second member gets one partition');
      await a.waitFor((out) => single.test(out.stderr.slice(out.stderr.lastIndexOf('revoked'))), 'first member keeps one partition');
      const r0 = await run(KCAT, ['-b', bootstrap, '-P', '-t', 'kc-orders', '-p', '0'], 'shared-0\n');
      const r1 = await run(KCAT, ['-b', bootstrap, '-P', '-t', 'kc-orders', '-p', '1'], 'shared-1\n');
      assertExited(r0, 'kcat -P');
      assertExited(r1, 'kcat -P');
      await a.waitFor((out) => out.stdout.includes('shared-'), 'first member receives its partition');
      await b.waitFor((out) => out.stdout.includes('shared-'), 'second member receives its partition');
      const shared = (o: string): string[] => o.split('\n').filter((l) => l.includes('shared-'));
      const got = [shared(a.output.stdout), shared(b.output.stdout)].map((l) => l.join(',')).sort();
      assert.deepEqual(got, ['0|shared-0', '1|shared-1']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('kcat falls back when ApiVersions v3 is not supported (UNSUPPORTED_VERSION in the v0 layout)', async () => {
    const old = await KafkaFixtureBroker.start({ maxVersions: { 18: 2 }, topics: [{ name: 'old', partitions: 1 }] });
    try {
      const r = await run(KCAT, ['-b', `${old.host}:${old.port}`, '-L', '-t', 'old']);
      assertExited(r, 'kcat -L against ApiVersions v0-2');
      assert.match(r.stdout, /topic "old" with 1 partitions:/);
      const versions = old.requestsSeen().filter((s) => s.apiKey === 18).map((s) => s.apiVersion);
      assert.equal(versions[0], 3);
      assert.ok(versions.slice(1).every((v) => v <= 2), `retried with a supported version: ${versions.join(',')}`);
    } finally {
      await old.close();
    }
  });

  test('main.js listens, prints its address, serves kcat, and exits on SIGTERM', async () => {
    const mainJs = join(new URL('../fixtures/kafka-broker/', import.meta.url).pathname, 'main.js');
    // Port 0: main.js prints the port it got. The advertised address is never dialled by `kcat -L`, which
    // prints the bootstrap broker's answer, so it can name a host that does not exist.
    const child: ChildProcess = spawn(process.execPath, [mainJs, '--listen', '127.0.0.1:0', '--advertise', 'advertised.invalid:9', '--topic', 'cli-topic:3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no "listening" line within 10 s: ${out}`)), 10_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /^listening (\S+)\n/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`main.js exited ${code}: ${out}`)));
      });
      assert.match(address, /^127\.0\.0\.1:[1-9]\d*$/);
      const r = await run(KCAT, ['-b', address, '-L', '-t', 'cli-topic']);
      assertExited(r, 'kcat -L against main.js');
      assert.match(r.stdout, /broker 1 at advertised\.invalid:9/);
      assert.match(r.stdout, /topic "cli-topic" with 3 partitions:/);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000).unref())]);
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
