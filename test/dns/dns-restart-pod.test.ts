// Restarting the DNS proxy while a pod queries loses no query. A pod sends a bounded loop of UDP
// queries (a new connect()ed socket per query, as glibc's resolver does; one try, 1 s timeout) to
// its resolver on port 53, which the kernel redirects to the built-in proxy. Mid-loop a second
// proxy starts on the same listeners — its UDP socket joins the running one's address and port
// (SO_REUSEADDR: Linux gives new datagrams to the most recently bound socket) — and the first one
// is closed: it answers what is already queued in its socket and in flight, then goes. Also with
// the learning side restarted in the middle (FqdnManager closed, reopened on the state directory,
// the cache restored before the new proxy answers). Needs root and BPF.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineProcess, timedConnect } from '../datapath/datapath-harness.js';
import { withPodResolver, type PodResolverWorld } from './pod-resolver-harness.js';

const T = { timeout: 180_000 };
const QUERIES = 300;
const INTERVAL_S = 0.015;

/** QUERIES A queries, one every INTERVAL_S, each on a fresh connected UDP socket, one try of 1 s. */
const QUERY_LOOP = String.raw`
import json, random, socket, struct, sys, time
server, port, name, count, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
start = time.monotonic()
print(json.dumps({"started": True}), flush=True)
ok, fails, worst = 0, [], 0.0
for i in range(count):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    t0 = time.monotonic()
    try:
        s.connect((server, port))
        s.send(q)
        while True:
            r = s.recv(4096)
            if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
                break
        rcode, an = r[3] & 0xF, struct.unpack(">H", r[6:8])[0]
        if rcode == 0 and an > 0:
            ok += 1
        else:
            fails.append({"i": i, "at": round(t0 - start, 3), "rcode": rcode, "answers": an})
    except OSError as e:
        fails.append({"i": i, "at": round(t0 - start, 3), "error": type(e).__name__})
    finally:
        s.close()
    worst = max(worst, time.monotonic() - t0)
    time.sleep(interval)
print(json.dumps({"done": True, "ok": ok, "fails": fails, "worstMs": round(worst * 1000, 1), "seconds": round(time.monotonic() - start, 2)}), flush=True)
`;

interface LoopResult {
  ok: number;
  fails: unknown[];
  worstMs: number;
  seconds: number;
}

async function startQueryLoop(w: PodResolverWorld, name: string): Promise<{ result: Promise<LoopResult>; stop(): void }> {
  const loop = new LineProcess(w.cluster.pods[0]!.spawn('python3', ['-c', QUERY_LOOP, w.resolver.address, String(w.resolver.port), name, String(QUERIES), String(INTERVAL_S)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await loop.waitFor((l) => l['started'] === true, 10_000);
  return { result: loop.waitFor((l) => l['done'] === true, 60_000) as unknown as Promise<LoopResult>, stop: () => loop.stop() };
}

const queries = (p: { stats(): Record<string, number> }): number => p.stats()['dns.queries'] ?? 0;

describe('DNS proxy restart during a query loop in a pod', () => {
  test('a new proxy joins the running one\'s UDP socket and the old one drains and closes: no query of 300 is lost', T, async () => {
    await withPodResolver(async (w) => {
      const agent = await w.startAgent();
      const first = await w.startProxy(agent.observer);
      const loop = await startQueryLoop(w, 'api.allowed.test');
      try {
        await sleep(1500);
        const second = await w.startProxy(agent.observer);
        await sleep(500);
        const firstBeforeClose = queries(first);
        await first.close();
        const result = await loop.result;
        assert.deepEqual(result.fails, [], `lost or failed queries: ${JSON.stringify(result)}`);
        assert.equal(result.ok, QUERIES);
        // Both proxies answered: the old one before the handover, the new one after.
        assert.ok(firstBeforeClose > 50, `the first proxy answered ${firstBeforeClose}`);
        assert.ok(queries(second) > 100, `the second proxy answered ${queries(second)}`);
        assert.ok(queries(first) + queries(second) >= QUERIES, `every query went through a proxy (${queries(first)} + ${queries(second)})`);
      } finally {
        loop.stop();
      }
    });
  });

  test('restarting the learning side and the proxy mid-loop loses no query, the cache is restored before the new proxy answers, and the learned IP stays allowed', T, async () => {
    await withPodResolver(async (w) => {
      const { answer } = w.addresses;
      const pod = w.cluster.pods[0]!;
      const { dp } = w.cluster;
      const firstAgent = await w.startAgent();
      const first = await w.startProxy(firstAgent.observer);
      const loop = await startQueryLoop(w, 'api.allowed.test');
      try {
        await sleep(1000);
        const identity = dp.ipcache.identityOf(answer);
        assert.ok(identity >= 16_777_216, `learned before the restart: ${identity}`);
        // The agent goes away; the running proxy keeps answering (released at once, nothing learned).
        await firstAgent.stop();
        await sleep(300);
        const secondAgent = await w.startAgent();
        assert.equal(secondAgent.manager.identityOf(answer), identity, 'the cache is restored, same identity, before the new proxy answers');
        assert.equal(dp.ipcache.identityOf(answer), identity);
        const second = await w.startProxy(secondAgent.observer);
        await sleep(300);
        await first.close();
        const result = await loop.result;
        assert.deepEqual(result.fails, [], `lost or failed queries: ${JSON.stringify(result)}`);
        assert.equal(result.ok, QUERIES);
        assert.ok(queries(second) > 50, `the new proxy answered ${queries(second)}`);
        assert.ok(secondAgent.observed.some((o) => o.event.queryName === 'api.allowed.test'), 'the restarted learning side learns from the new proxy');
        assert.equal(dp.ipcache.identityOf(answer), identity, 'the IP kept its identity throughout');
        assert.deepEqual((await timedConnect(pod, answer, w.serverPort)).codes, ['OK'], 'a new connection to the learned IP after the restarts');
      } finally {
        loop.stop();
      }
    });
  });
});
