// An agent restart must not disturb running pods (issue 8): a client pod holds a TCP connection to
// a server pod and runs an HTTP keep-alive loop through the L7 proxy (an HTTP rule redirects it)
// while the agent is stopped with SIGTERM and started again. Not one request may fail, the held
// connection keeps echoing, and the new agent finds everything where the old one left it: the
// same proxy process (adopted), the same BPF maps (same kernel ids), the same pods with the same
// identities and endpoint ids, the same xDS version, the learned DNS names; and it still enforces
// a policy change made after the restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineProcess } from '../datapath/datapath-harness.js';
import { spawnInPod } from '../../agent/index.js';
import type { EndpointInfo } from '../../agent/index.js';
import { withAgent, type AgentWorld } from './agent-harness.js';

const T = { timeout: 240_000 };
const HTTP_PORT = 8080;
const ECHO_PORT = 9000;

/** The server pod: HTTP/1.1 keep-alive on 8080 (200 for every path), a line echo on 9000. */
const SERVER = String.raw`
import socketserver, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("ok " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class TS(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
threading.Thread(target=TS(("0.0.0.0", ${ECHO_PORT}), Echo).serve_forever, daemon=True).start()
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("0.0.0.0", ${HTTP_PORT}), H).serve_forever()
`;

/**
 * The client: one held TCP connection (echoes a line on each "echo" from stdin) and an HTTP
 * keep-alive loop, every 20 ms, on one connection (reopened only when the server closes it).
 * Prints {"requests": n, "failures": [...]} on "report".
 */
const CLIENT = String.raw`
import http.client, json, socket, sys, threading, time
ip = sys.argv[1]
held = socket.create_connection((ip, ${ECHO_PORT}), timeout=5)
print(json.dumps({"held": True}), flush=True)
state = {"requests": 0, "failures": [], "reconnects": 0, "stop": False}
def loop():
    conn = http.client.HTTPConnection(ip, ${HTTP_PORT}, timeout=5)
    while not state["stop"]:
        try:
            conn.request("GET", "/ok")
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                state["failures"].append("status %d %s" % (r.status, body[:80]))
            state["requests"] += 1
        except Exception as e:
            state["failures"].append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection(ip, ${HTTP_PORT}, timeout=5)
            state["reconnects"] += 1
        time.sleep(0.02)
t = threading.Thread(target=loop, daemon=True)
t.start()
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "echo":
        try:
            held.sendall(b"ping\n")
            print(json.dumps({"echo": held.recv(100).decode().strip()}), flush=True)
        except Exception as e:
            print(json.dumps({"echo": None, "error": repr(e)}), flush=True)
    elif cmd == "report":
        print(json.dumps({"requests": state["requests"], "failures": state["failures"][:10], "failed": len(state["failures"]), "reconnects": state["reconnects"]}), flush=True)
    elif cmd == "stop":
        state["stop"] = True
        t.join()
        print(json.dumps({"stopped": True}), flush=True)
        break
`;

function policy(paths: string[]): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: client-egress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts:
        - ports: [{ port: "${HTTP_PORT}", protocol: TCP }]
          rules: { http: [${paths.map((p) => `{ method: GET, path: "${p}" }`).join(', ')}] }
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "${ECHO_PORT}", protocol: TCP }] }]
`;
}

async function runPod(w: AgentWorld, name: string, command: string[]): Promise<EndpointInfo> {
  return w.api.post<EndpointInfo>('/v1/pods', { name, labels: { app: name }, command });
}

async function applyPolicy(w: AgentWorld, text: string): Promise<void> {
  await w.api.post('/v1/policies', { sources: [{ file: 'client-egress.yaml', text }] });
}

/** One HTTP GET from the client pod (a fresh process): the status line, or the error. */
async function getOnce(client: EndpointInfo, ip: string, path: string): Promise<string> {
  const script = `import http.client,sys\nc=http.client.HTTPConnection(sys.argv[1], ${HTTP_PORT}, timeout=5)\nc.request("GET", sys.argv[2])\nr=c.getresponse()\nprint(r.status)`;
  const child = spawnInPod(client, ['python3', '-c', script, ip, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  return out.trim().split('\n').pop() ?? '';
}

describe('agent restart', () => {
  test('a restarted agent adopts the proxy, reuses the pinned maps, restores pods, identities and the xDS version, and no request of a running loop fails', T, async () => {
    await withAgent({}, async (w) => {
      const server = await runPod(w, 'server', ['python3', '-c', SERVER]);
      const client = await runPod(w, 'client', ['sleep', '100000']);
      await applyPolicy(w, policy(['/ok']));
      await w.api.post('/v1/agent/reconcile', {});
      // The server needs a moment to listen; the kernel allows only what the policy says.
      const deadline = Date.now() + 20_000;
      let first = '';
      while (Date.now() < deadline && (first = await getOnce(client, server.ipv4, '/ok')) !== '200') await sleep(200);
      assert.equal(first, '200', 'the allowed path through the proxy');
      assert.equal(await getOnce(client, server.ipv4, '/denied'), '403', 'the proxy enforces the HTTP rule');

      const before = await w.info();
      const podsBefore = (await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods;

      const loop = new LineProcess(spawnInPod(client, ['python3', '-c', CLIENT, server.ipv4], { stdio: ['pipe', 'pipe', 'pipe'] }));
      try {
        await loop.waitFor((l) => 'held' in l, 10_000);
        const command = (text: string) => loop.child.stdin!.write(`${text}\n`);
        const next = async <T extends Record<string, unknown>>(key: string): Promise<T> => {
          const seen = loop.lines.filter((l) => key in l).length;
          return (await loop.waitFor((l) => key in l && loop.lines.filter((x) => key in x).indexOf(l) === seen, 10_000)) as T;
        };
        // On a busy machine the first requests take a while: wait (bounded) for the loop to run.
        let warm = { requests: 0, failed: 0 };
        for (const until = Date.now() + 15_000; warm.requests <= 10 && Date.now() < until; ) {
          await sleep(250);
          command('report');
          warm = await next<typeof warm>('requests');
        }
        assert.ok(warm.requests > 10, `the loop runs (${warm.requests} requests)`);
        assert.equal(warm.failed, 0);

        await w.restart();
        command('echo');
        assert.deepEqual(await next('echo'), { echo: 'ping' }, 'the held connection works after the restart');
        await sleep(1000);
        command('report');
        const after = await next<{ requests: number; failed: number; failures: string[]; reconnects: number }>('requests');
        assert.equal(after.failed, 0, `failed requests across the restart: ${JSON.stringify(after.failures)}`);
        assert.ok(after.requests > warm.requests + 10, `the loop kept running (${warm.requests} → ${after.requests})`);
        command('stop');
        await next('stopped');
      } finally {
        loop.stop();
      }

      const info = await w.info();
      assert.equal(info.proxy?.adopted, true, 'the proxy was adopted');
      assert.equal(info.proxy?.pid, before.proxy?.pid, 'the same proxy process');
      assert.deepEqual(info.bpf.mapIds, before.bpf.mapIds, 'the pinned maps were reused');
      assert.equal(info.xds.version, before.xds.version, 'an unchanged configuration keeps its xDS version');
      const podsAfter = (await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods;
      const key = (p: EndpointInfo) => ({ id: p.id, endpointId: p.endpointId, identity: p.identity, ipv4: p.ipv4, pid: p.pid });
      assert.deepEqual(podsAfter.map(key), podsBefore.map(key), 'the same pods, endpoint ids and identities');

      // The restarted agent still changes what the adopted proxy enforces.
      await applyPolicy(w, policy(['/ok', '/denied']));
      await w.api.post('/v1/agent/reconcile', {});
      const changed = await w.info();
      assert.equal(changed.xds.version, before.xds.version + 1, 'a change is the next version');
      const until = Date.now() + 10_000;
      let now = '';
      while (Date.now() < until && (now = await getOnce(client, server.ipv4, '/denied')) !== '200') await sleep(100);
      assert.equal(now, '200', 'the new rule reached the adopted proxy');
    });
  });
});
