// The proxy's admin HTTP server (`meshd proxy --admin HOST:PORT`), modelled on Envoy's admin
// endpoints so operators find what they know: /ready, /config_dump, /listeners, /stats.
// node:http is fine here: admin traffic is a few requests a minute, not the data path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyError } from '../errors.js';
import { splitHostPort } from '../xds-client/index.js';

/** What the admin server shows; BuiltinProxy provides it. Each call builds a fresh answer. */
export interface AdminSources {
  /** ready: the first complete configuration was applied; reason says what is missing otherwise. */
  readiness(): { ready: boolean; reason: string };
  configDump(): unknown;
  listeners(): unknown;
  /** Counter name → value (Envoy-style dotted names). */
  stats(): Record<string, number>;
}

export interface AdminServer {
  /** `host:port` actually bound (port 0 resolved). */
  readonly address: string;
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0 → ephemeral; IPv6 as `[addr]:port`). */
export async function startAdminServer(address: string, sources: AdminSources): Promise<AdminServer> {
  const hp = splitHostPort(address);
  if (!hp || hp.port > 65535) {
    throw new ProxyError('MESHD_ERR_PROXY_BAD_ADDRESS', `bad admin address "${address}": expected host:port or [ipv6]:port`, 'e.g. --admin 127.0.0.1:9901');
  }
  const { host, port } = hp;
  const server = http.createServer((req, res) => handle(req, res, sources));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new ProxyError('MESHD_ERR_PROXY_BIND', `the admin server cannot listen on ${address}: ${err.message}`, 'is the port in use? pick another --admin address'));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const bound = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(req: http.IncomingMessage, res: http.ServerResponse, sources: AdminSources): void {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET is served\n');
  try {
    switch (url.pathname) {
      case '/ready': {
        const r = sources.readiness();
        return send(res, r.ready ? 200 : 503, 'text/plain', r.ready ? 'LIVE\n' : `NOT READY: ${r.reason}\n`);
      }
      case '/config_dump':
        return json(res, sources.configDump());
      case '/listeners':
        return json(res, sources.listeners());
      case '/stats': {
        const stats = sources.stats();
        const filter = url.searchParams.get('filter');
        const names = Object.keys(stats)
          .filter((n) => !filter || n.includes(filter))
          .sort();
        if (url.searchParams.get('format') === 'json') return json(res, { stats: names.map((name) => ({ name, value: stats[name] })) });
        return send(res, 200, 'text/plain', names.map((n) => `${n}: ${stats[n]}\n`).join(''));
      }
      case '/':
        return send(res, 200, 'text/plain', 'meshd proxy admin: /ready /config_dump /listeners /stats[?format=json&filter=…]\n');
      default:
        return send(res, 404, 'text/plain', `no admin endpoint ${url.pathname}\n`);
    }
  } catch (err) {
    return send(res, 500, 'text/plain', `admin: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function json(res: http.ServerResponse, body: unknown): void {
  send(res, 200, 'application/json', `${JSON.stringify(body, null, 2)}\n`);
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
  res.end(body);
}
