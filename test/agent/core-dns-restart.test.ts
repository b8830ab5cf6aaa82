// toFQDNs through the whole agent, across a restart: a pod resolves a name through the built-in
// DNS proxy (the kernel redirects its queries, the proxy asks dnsmasq and reports the answer to
// the agent over --agent-socket, the agent learns it before the answer is released), then connects
// to the answer's IP. The agent is restarted while the pod keeps querying and holds a connection
// to the learned IP: no query fails, the connection keeps working, and the new agent has the
// learned name with the same identity (from fqdn-cache.json) before the proxy answers again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineProcess } from '../datapath/datapath-harness.js';
import { Cleanup } from '../xds/real-client-setup.js';
import { requireTools, startDnsmasq } from '../dns/dns-harness.js';
import { spawnInPod } from '../../agent/index.js';
import type { EndpointInfo } from '../../agent/index.js';
import type { FqdnListing } from '../../agent/index.js';
import { applyClientEgress, connectOnce, withAgent } from './agent-harness.js';

const T = { timeout: 240_000 };
const NAME = 'api.allowed.test';

/** A test address on the node's loopback (RFC 2544's benchmark range), one per test process. */
const ANSWER_IP = `198.18.${process.pid % 250}.40`;

/**
 * In the pod: a query loop (one A query every 50 ms over UDP, 2 s timeout each, against the
 * resolver the pod knows) and a held TCP connection to the answer's IP. Commands on stdin:
 * connect, echo, report, stop.
 */
const CLIENT = String.raw`
import json, random, socket, struct, sys, threading, time
server, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def query():
    qid = random.randint(0, 65535)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, (server, port))
        data, _ = s.recvfrom(4096)
        rid, flags, _, an = struct.unpack(">HHHH", data[:8])
        if rid != qid:
            return "wrong id"
        if flags & 0xF != 0:
            return "rcode %d" % (flags & 0xF)
        if an == 0:
            return "no answer"
        return None
    except Exception as e:
        return repr(e)
    finally:
        s.close()
state = {"queries": 0, "failures": [], "stop": False}
def loop():
    while not state["stop"]:
        err = query()
        state["queries"] += 1
        if err:
            state["failures"].append(err)
        time.sleep(0.05)
t = threading.Thread(target=loop, daemon=True)
t.start()
held = None
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "connect":
        try:
            held = socket.create_connection((cmd[1], int(cmd[2])), timeout=3)
            print(json.dumps({"connect": "OK"}), flush=True)
        except OSError as e:
            print(json.dumps({"connect": repr(e)}), flush=True)
    elif cmd[0] == "echo":
        try:
            held.sendall(b"ping\n")
            print(json.dumps({"echo": held.recv(100).decode().strip()}), flush=True)
        except Exception as e:
            print(json.dumps({"echo": repr(e)}), flush=True)
    elif cmd[0] == "report":
        print(json.dumps({"queries": state["queries"], "failed": len(state["failures"]), "failures": state["failures"][:10]}), flush=True)
    elif cmd[0] == "stop":
        state["stop"] = True
        t.join()
        print(json.dumps({"stopped": True}), flush=True)
        break
`;

describe('toFQDNs through the agent across a restart', () => {
  test('a learned name allows its IP, and an agent restart during a query loop loses no query, keeps the connection and restores the name with its identity', T, async () => {
    await requireTools();
    const cleanup = new Cleanup();
    const sockets = new Set<Socket>();
    let echo: Server | undefined;
    try {
      execFileSync('ip', ['addr', 'add', `${ANSWER_IP}/32`, 'dev', 'lo']);
      cleanup.add(async () => void execFileSync('ip', ['addr', 'del', `${ANSWER_IP}/32`, 'dev', 'lo']));
      echo = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
        s.on('data', (d) => s.write(d));
      });
      await new Promise<void>((resolve, reject) => echo!.once('error', reject).listen(0, ANSWER_IP, resolve));
      const echoPort = (echo.address() as { port: number }).port;

      await withAgent({}, async (w) => {
        const info = await w.info();
        const dnsmasq = await startDnsmasq(cleanup, [`--host-record=${NAME},${ANSWER_IP},300`], info.node.gateway4);
        const client = await w.api.post<EndpointInfo>('/v1/pods', { name: 'client', labels: { app: 'client' }, command: ['sleep', '100000'] });
        await applyClientEgress(
          w,
          'fqdn.yaml',
          'client-fqdn',
          `    - toEntities: [host]
      toPorts: [{ ports: [{ port: "${dnsmasq.port}", protocol: UDP }], rules: { dns: [{ matchPattern: "*" }] } }]
    - toFQDNs: [{ matchName: ${NAME} }]
      toPorts: [{ ports: [{ port: "${echoPort}", protocol: TCP }] }]
`,
        );
        assert.equal(await connectOnce(client, ANSWER_IP, echoPort), 'EPERM', 'nothing learned yet: the kernel denies the IP');

        const pod = new LineProcess(spawnInPod(client, ['python3', '-c', CLIENT, dnsmasq.address, String(dnsmasq.port), NAME], { stdio: ['pipe', 'pipe', 'pipe'] }));
        try {
          const send = (text: string) => pod.child.stdin!.write(`${text}\n`);
          const next = async <R extends Record<string, unknown>>(key: string): Promise<R> => {
            const seen = pod.lines.filter((l) => key in l).length;
            return (await pod.waitFor((l) => key in l && pod.lines.filter((x) => key in x).indexOf(l) === seen, 15_000)) as R;
          };
          // The first answers teach the agent the IP before the pod sees them.
          let warm = { queries: 0, failed: 0, failures: [] as string[] };
          for (const until = Date.now() + 10_000; warm.queries <= 3 && Date.now() < until; ) {
            await sleep(250);
            send('report');
            warm = await next<typeof warm>('queries');
          }
          assert.ok(warm.queries > 3, `queries run (${warm.queries}): ${JSON.stringify(warm.failures)}`);
          assert.equal(warm.failed, 0, JSON.stringify(warm.failures));
          send(`connect ${ANSWER_IP} ${echoPort}`);
          assert.deepEqual(await next('connect'), { connect: 'OK' }, 'the learned IP is allowed');
          const learned = await w.api.get<FqdnListing>('/v1/fqdn/cache');
          const entry = learned.names.find((n) => n.name === NAME)?.ips.find((i) => i.ip === ANSWER_IP);
          assert.ok(entry?.identity !== undefined && entry.identity >= 16_777_216, `a local identity for ${ANSWER_IP}: ${JSON.stringify(learned)}`);

          await w.restart();

          const restored = await w.api.get<FqdnListing>('/v1/fqdn/cache');
          const again = restored.names.find((n) => n.name === NAME)?.ips.find((i) => i.ip === ANSWER_IP);
          assert.equal(again?.identity, entry.identity, 'the restarted agent has the name with the same identity');
          send('echo');
          assert.deepEqual(await next('echo'), { echo: 'ping' }, 'the connection to the learned IP survived');
          await sleep(1000);
          send('report');
          const after = await next<{ queries: number; failed: number; failures: string[] }>('queries');
          assert.equal(after.failed, 0, `failed queries across the restart: ${JSON.stringify(after.failures)}`);
          assert.ok(after.queries > warm.queries + 10, `the loop kept querying (${warm.queries} → ${after.queries})`);
          assert.equal(await connectOnce(client, ANSWER_IP, echoPort), 'OK', 'a new connection after the restart');
          send('stop');
          await next('stopped');
        } finally {
          pod.stop();
        }
      });
    } finally {
      for (const s of sockets) s.destroy();
      if (echo) await new Promise<void>((resolve) => echo!.close(() => resolve()));
      await cleanup.run();
    }
  });
});
