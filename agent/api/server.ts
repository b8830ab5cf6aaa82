// The agent's local API: HTTP/1.1 with JSON bodies over a unix socket (mode 0600: the socket's
// permissions are the access control, as with Docker's or Cilium's). Written on node:http
// without a framework: the API is a dozen exact paths, a body limit, NDJSON streaming and one
// error shape, and none of those needs more than http gives.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { chmod, stat, unlink } from 'node:fs/promises';
import { ApiError, httpStatusOf } from './errors.js';
import type { ApiErrorBody } from './errors.js';
import { readJsonBody } from './read-body.js';
import { API_BODY_LIMIT_BYTES, JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE, isAsyncIterable } from './routes.js';
import type { ApiHandler, ApiMethod, ApiRoute } from './routes.js';
import { MAX_SOCKET_PATH_BYTES } from './socket-path.js';
import { removeStaleSocket } from './stale-socket.js';

/** pino's shape, narrowed to what the server writes. */
export interface ApiLogger {
  warn(o: object, msg: string): void;
  debug?(o: object, msg: string): void;
}

export interface ApiServerOptions {
  socketPath: string;
  routes: readonly ApiRoute[];
  logger?: ApiLogger | undefined;
  /** Default 4 MiB (API_BODY_LIMIT_BYTES). */
  bodyLimitBytes?: number;
  /** A client must have sent its headers within this; default 10 s. */
  headersTimeoutMs?: number;
  /** ... and its whole request (body included) within this; default 30 s. Answers, streams
   *  above all, are not limited. */
  requestTimeoutMs?: number;
  /** How long close() lets unfinished plain answers complete before cutting them; default 5 s. */
  drainTimeoutMs?: number;
}

export interface ApiServer {
  readonly socketPath: string;
  /** Stops accepting, ends every stream (their iterables are returned), lets plain answers in
   *  flight finish (bounded), closes every connection and removes the socket file. */
  close(): Promise<void>;
}

const METHODS: ReadonlySet<string> = new Set<ApiMethod>(['GET', 'POST', 'DELETE']);

interface InFlight {
  abort: AbortController;
  streaming: boolean;
  done: Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { socketPath, logger } = options;
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new ApiError('MESHD_ERR_API_SOCKET_PATH', `the API socket path is ${Buffer.byteLength(socketPath)} bytes long, more than the ${MAX_SOCKET_PATH_BYTES} a unix socket allows: ${socketPath}`, {
      hint: 'use a shorter --state-dir',
    });
  }
  const table = routeTable(options.routes);
  const bodyLimit = options.bodyLimitBytes ?? API_BODY_LIMIT_BYTES;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000;
  const inFlight = new Set<InFlight>();
  let closing = false;

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server: Server = createServer({
    headersTimeout,
    // node requires requestTimeout ≥ headersTimeout (or 0).
    requestTimeout: Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout),
    // How often node looks for clients past those timeouts.
    connectionsCheckingInterval: Math.max(50, Math.min(headersTimeout, 1000)),
    keepAliveTimeout: 5000,
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const entry: InFlight = { abort: new AbortController(), streaming: false, done: Promise.resolve() };
    inFlight.add(entry);
    res.once('close', () => entry.abort.abort());
    if (closing) res.setHeader('connection', 'close');
    entry.done = handle(req, res, entry)
      .catch((err: unknown) => {
        // handle() answers every failure itself; reaching here is a failure to write at all.
        logger?.warn({ err, method: req.method, url: req.url }, 'API request failed while answering');
        res.destroy();
      })
      .finally(() => inFlight.delete(entry));
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed HTTP, or a client too slow with its request: answer if the socket still
    // takes data, never let it reach the process's error handler.
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const body = JSON.stringify(errorBody(new ApiError('MESHD_ERR_API_BAD_REQUEST', timedOut ? 'the request did not arrive in time' : `malformed HTTP request (${err.code ?? err.message})`)));
    socket.end(
      `HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\ncontent-type: ${JSON_CONTENT_TYPE}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  async function handle(req: IncomingMessage, res: ServerResponse, entry: InFlight): Promise<void> {
    const signal = entry.abort.signal;
    try {
      const url = new URL(req.url ?? '/', 'http://meshd.invalid');
      const methods = table.get(url.pathname);
      if (!methods) {
        throw new ApiError('MESHD_ERR_API_NOT_FOUND', `the agent API has no path ${url.pathname}`, {
          hint: 'the CLI and the agent may be different meshd versions: compare `meshd version` with the agent\'s `meshd status`',
        });
      }
      const method = req.method ?? '';
      const handler = METHODS.has(method) ? methods.get(method as ApiMethod) : undefined;
      if (!handler) {
        res.setHeader('allow', [...methods.keys()].join(', '));
        throw new ApiError('MESHD_ERR_API_METHOD_NOT_ALLOWED', `${url.pathname} does not take ${method}; it takes ${[...methods.keys()].join(', ')}`);
      }
      const body = await readJsonBody(req, bodyLimit);
      let result: unknown = handler({ method: method as ApiMethod, path: url.pathname, query: url.searchParams, body, signal });
      if (!isAsyncIterable(result)) result = await result;
      if (isAsyncIterable(result)) {
        entry.streaming = true;
        await streamNdjson(result, res, signal);
        return;
      }
      if (res.headersSent || res.destroyed) return;
      if (result === undefined) {
        res.writeHead(204).end();
        return;
      }
      sendJson(res, 200, result);
    } catch (err) {
      sendError(req, res, err);
    }
  }

  function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const coded = toCodedError(err);
    const status = httpStatusOf(coded);
    if (status === 500 && coded.code === 'MESHD_ERR_API_INTERNAL') {
      logger?.warn({ err, method: req.method, url: req.url }, 'API handler failed');
    }
    if (res.headersSent || res.destroyed) return;
    // A request refused before its body was read may still be sending it: close after answering
    // rather than read megabytes only to throw them away.
    if (status === 413 || !req.complete) res.setHeader('connection', 'close');
    sendJson(res, status, errorBody(coded));
  }

  await removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new ApiError('MESHD_ERR_API_SOCKET_IN_USE', `another process is serving ${socketPath}`, { hint: 'an agent already runs on this state directory', cause: err })
          : new ApiError('MESHD_ERR_API_SOCKET_PATH', `cannot listen on ${socketPath}: ${err.message}`, { hint: 'check that the state directory exists and is writable', cause: err }),
      );
    };
    server.once('error', onError);
    // The socket is created by listen(): a umask closes the window in which it would exist with
    // the default mode. process.umask cannot be set in worker threads; chmod below still runs.
    let previousUmask: number | undefined;
    try {
      previousUmask = process.umask(0o177);
    } catch {
      previousUmask = undefined;
    }
    try {
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask);
    }
  });
  await chmod(socketPath, 0o600);
  const { ino } = await stat(socketPath);
  server.on('error', (err) => logger?.warn({ err }, 'API server error'));

  return {
    socketPath,
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const entry of inFlight) if (entry.streaming) entry.abort.abort();
      server.closeIdleConnections();
      const drained = Promise.allSettled([...inFlight].map((e) => e.done));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, drainTimeoutMs)))]);
      clearTimeout(timer);
      for (const entry of inFlight) entry.abort.abort();
      server.closeAllConnections();
      await closed;
      // node removes the socket file on close; a file that is not ours any more stays.
      const st = await stat(socketPath).catch(() => undefined);
      if (st && st.ino === ino) await unlink(socketPath).catch(() => undefined);
    },
  };
}

function routeTable(routes: readonly ApiRoute[]): Map<string, Map<ApiMethod, ApiHandler>> {
  const table = new Map<string, Map<ApiMethod, ApiHandler>>();
  for (const r of routes) {
    if (!r.path.startsWith('/')) throw new TypeError(`API route path must start with '/': ${r.path}`);
    let methods = table.get(r.path);
    if (!methods) table.set(r.path, (methods = new Map()));
    if (methods.has(r.method)) throw new TypeError(`API route ${r.method} ${r.path} is registered twice`);
    methods.set(r.method, r.handler);
  }
  return table;
}

const CLOSED = Symbol('closed');

/** Writes each item as one line as soon as it comes; stops when the iterable ends or the
 *  client goes, and then returns the iterator so its resources are released. */
async function streamNdjson(iterable: AsyncIterable<unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const iterator = iterable[Symbol.asyncIterator]();
  const gone = new Promise<typeof CLOSED>((resolve) => {
    if (signal.aborted) resolve(CLOSED);
    else signal.addEventListener('abort', () => resolve(CLOSED), { once: true });
  });
  res.writeHead(200, { 'content-type': NDJSON_CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.flushHeaders();
  let iteratorFinished = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown> | typeof CLOSED;
      try {
        // race() subscribes to next(): a rejection that comes after the client left is handled.
        step = await Promise.race([iterator.next(), gone]);
      } catch (err) {
        iteratorFinished = true;
        writeLine(res, errorBody(toCodedError(err)));
        return;
      }
      if (step === CLOSED) return;
      if (step.done) {
        iteratorFinished = true;
        return;
      }
      let line: string;
      try {
        line = JSON.stringify(step.value ?? null) + '\n';
      } catch (err) {
        writeLine(res, errorBody(toCodedError(err)));
        return;
      }
      if (!res.write(line)) {
        await Promise.race([new Promise((r) => res.once('drain', r)), gone]);
      }
    }
  } finally {
    if (!iteratorFinished) {
      // Not awaited: a generator suspended in an await only returns once that await settles,
      // which is what the aborted signal is for.
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => undefined);
    }
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}

function writeLine(res: ServerResponse, value: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(value) + '\n');
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    status = 500;
    text = JSON.stringify(errorBody(toCodedError(err)));
  }
  res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

interface CodedError {
  code: string;
  message: string;
  hint?: string | undefined;
  httpStatus?: unknown;
  problems?: unknown;
}

/** A MeshdError (anything with a MESHD_ERR_ code) keeps what it says; anything else is a bug,
 *  reported without its internals (the agent's log has the stack). */
function toCodedError(err: unknown): CodedError {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown; hint?: unknown; httpStatus?: unknown; problems?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('MESHD_ERR_') && typeof e.message === 'string') {
      return { code: e.code, message: e.message, hint: typeof e.hint === 'string' ? e.hint : undefined, httpStatus: e.httpStatus, problems: e.problems };
    }
  }
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return {
    code: 'MESHD_ERR_API_INTERNAL',
    message: `the agent failed to answer: ${what}`,
    hint: "a bug in meshd: the agent's log has the stack; please report it with the command you ran",
  };
}

function errorBody(err: CodedError): ApiErrorBody {
  const body: ApiErrorBody = { error: { code: err.code, message: err.message, hint: err.hint ?? null } };
  if (Array.isArray(err.problems)) body.error.problems = toPlain(err.problems);
  return body;
}

/** Problems may hold class instances or cycles; send what JSON can carry. */
function toPlain(problems: unknown[]): unknown[] {
  try {
    return JSON.parse(JSON.stringify(problems)) as unknown[];
  } catch {
    return problems.map((p) => String(p));
  }
}
