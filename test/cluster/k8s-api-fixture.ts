// A Kubernetes API server made of recorded responses, for the agent's watcher tests. It serves list
// responses and watch streams (chunked JSON lines, as the real API server does) from the files in
// test/cluster/k8s-fixtures/, scripted per collection path: the n-th list request gets the n-th list
// file (the last one repeats), the n-th watch request the n-th watch session, which ends as the
// script says: held open (like a real watch before its timeout), closed cleanly, or dropped
// (the socket destroyed mid-stream). Every request is recorded with its query, so tests can check
// the resourceVersion a watch resumed from. It is the API server, not the thing under test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';

/** test/cluster/k8s-fixtures in the source tree (tests run from dist/test/cluster/). */
export const K8S_FIXTURE_DIR = fileURLToPath(new URL('../../../test/cluster/k8s-fixtures/', import.meta.url));

export interface WatchSession {
  /** A .jsonl file of events; none: a session without events. */
  events?: string;
  /** After the events: keep the stream open (default), end it cleanly, or destroy the connection. */
  end?: 'hold' | 'close' | 'drop';
  /** Wait this long after the headers before the events (so a test can order them after other kinds' sync). */
  delayMs?: number;
  /** Answer the watch request with this HTTP status and a metav1.Status body instead (e.g. 410). */
  status?: number;
}

export interface FixtureRoute {
  /** The collection path, e.g. /api/v1/pods. */
  path: string;
  /** List files, served in order; the last repeats. No files: 404 (the resource does not exist, like a CRD not installed). */
  lists: string[];
  /** Watch sessions, in order; after the last one every watch is held open without events. */
  watches?: WatchSession[];
}

/** The collections `meshd agent --k8s` lists and watches, each with one list file and no watch events. */
export function agentRoutes(podsList = 'pods-list.json'): FixtureRoute[] {
  return [
    { path: '/api/v1/namespaces', lists: ['namespaces-list.json'] },
    { path: '/api/v1/pods', lists: [podsList] },
    { path: '/api/v1/services', lists: ['services-list.json'] },
    { path: '/apis/networking.k8s.io/v1/networkpolicies', lists: ['netpol-list.json'] },
    { path: '/apis/cilium.io/v2/ciliumnetworkpolicies', lists: ['cnp-list.json'] },
    { path: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies', lists: ['ccnp-list.json'] },
  ];
}

/** A kubeconfig file for a fixture server, as `kubectl config view --raw` would write it; returns its path. */
export function writeKubeconfig(dir: string, server: string, fileName = 'kubeconfig'): string {
  const file = join(dir, fileName);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: fixture
  # Plain HTTP on 127.0.0.1: the client library allows http:// only with TLS verification off.
  cluster: { server: "${server}", insecure-skip-tls-verify: true }
users:
- name: meshd
  user: { token: fixture-token }
contexts:
- name: fixture
  context: { cluster: fixture, user: meshd }
current-context: fixture
`,
  );
  return file;
}

export interface RecordedRequest {
  path: string;
  watch: boolean;
  query: URLSearchParams;
}

export class K8sApiFixture {
  readonly requests: RecordedRequest[] = [];
  readonly #routes = new Map<string, { route: FixtureRoute; lists: number; watches: number }>();
  readonly #open = new Set<ServerResponse>();
  readonly #sockets = new Set<Socket>();
  readonly #waiters = new Set<() => void>();
  readonly #server: Server;
  readonly #dir: string;

  private constructor(routes: FixtureRoute[], dir: string) {
    this.#dir = dir;
    for (const route of routes) this.#routes.set(route.path, { route, lists: 0, watches: 0 });
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(routes: FixtureRoute[], dir = K8S_FIXTURE_DIR): Promise<K8sApiFixture> {
    const f = new K8sApiFixture(routes, dir);
    await new Promise<void>((resolve) => f.#server.listen(0, '127.0.0.1', resolve));
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** A client configuration pointing at this server (no TLS, a bearer token the server ignores). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fixture', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'meshd', token: 'fixture-token' }],
      contexts: [{ name: 'fixture', cluster: 'fixture', user: 'meshd' }],
      currentContext: 'fixture',
    });
    return kc;
  }

  /** Resolves when `pred` holds for the recorded requests; fails after timeoutMs. */
  async waitForRequests(pred: (r: RecordedRequest[]) => boolean, timeoutMs = 5000, what = 'requests'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.requests)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the fixture API server did not see the expected ${what} in ${timeoutMs} ms; it saw: ${this.requests.map((r) => `${r.watch ? 'WATCH' : 'LIST'} ${r.path}?${r.query}`).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 100));
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fixture');
    const watch = url.searchParams.get('watch') === 'true';
    this.requests.push({ path: url.pathname, watch, query: url.searchParams });
    for (const w of [...this.#waiters]) {
      this.#waiters.delete(w);
      w();
    }
    const entry = this.#routes.get(url.pathname);
    if (req.method !== 'GET' || !entry || entry.route.lists.length === 0) {
      status(res, 404, 'NotFound', `the server could not find the requested resource (get ${url.pathname})`);
      return;
    }
    if (!watch) {
      const file = entry.route.lists[Math.min(entry.lists, entry.route.lists.length - 1)]!;
      entry.lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(readFileSync(this.#dir + file));
      return;
    }
    const session: WatchSession = entry.route.watches?.[entry.watches] ?? {};
    entry.watches++;
    if (session.status !== undefined) {
      status(res, session.status, session.status === 410 ? 'Expired' : 'InternalError', session.status === 410 ? `too old resource version: ${url.searchParams.get('resourceVersion')}` : 'scripted failure');
      return;
    }
    // Like the API server: headers first, then one event per line, flushed as it happens.
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    const lines = session.events ? readFileSync(this.#dir + session.events, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
    const send = (): void => {
      if (res.destroyed) return;
      for (const line of lines) res.write(`${line}\n`);
      const end = session.end ?? 'hold';
      // A moment later, so the client has read the events before the stream ends.
      if (end === 'close') setTimeout(() => res.end(), 50);
      else if (end === 'drop') setTimeout(() => res.socket?.destroy(), 50);
    };
    if (session.delayMs) setTimeout(send, session.delayMs);
    else send();
  }
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}
