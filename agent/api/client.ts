// The CLI's side of the local API: JSON requests over the agent's unix socket with a keep-alive
// agent (a command that makes several requests reuses one connection), NDJSON streams as async
// iterables, and errors rebuilt from the response so the CLI prints the agent's code, message
// and hint exactly as if it had thrown them itself.
import { Agent, request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { ApiError, errorFromBody, isApiErrorBody } from './errors.js';
import { JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from './routes.js';
import { agentSocketPath, defaultStateDir } from './socket-path.js';

export type ApiQuery = Record<string, string | readonly string[] | undefined>;

export interface ApiClientOptions {
  socketPath: string;
  /** Per request: how long the agent may stay silent (ms); default 60 s, 0 = no limit. Streams have none. */
  timeoutMs?: number;
}

export interface ApiCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

export class ApiClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(options: ApiClientOptions) {
    this.socketPath = options.socketPath;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The client of the agent that runs on `stateDir` (default $MESHD_STATE_DIR or /var/lib/meshd). */
  static forStateDir(stateDir: string = defaultStateDir(), options: Omit<ApiClientOptions, 'socketPath'> = {}): ApiClient {
    return new ApiClient({ ...options, socketPath: agentSocketPath(stateDir) });
  }

  get<T>(path: string, query?: ApiQuery, options?: ApiCallOptions): Promise<T> {
    return this.#call<T>('GET', path, query, undefined, options);
  }

  post<T>(path: string, body: unknown, options?: ApiCallOptions & { query?: ApiQuery }): Promise<T> {
    return this.#call<T>('POST', path, options?.query, body, options);
  }

  delete<T>(path: string, query?: ApiQuery, options?: ApiCallOptions): Promise<T> {
    return this.#call<T>('DELETE', path, query, undefined, options);
  }

  /**
   * One item per NDJSON line, as it arrives. Ends when the agent ends the stream or `signal`
   * aborts (then quietly); throws the error the agent sent as the last line, or
   * MESHD_ERR_API_CONNECTION_LOST when the connection breaks mid-stream. Breaking out of the
   * loop closes the connection, which tells the agent to stop.
   */
  async *stream<T>(path: string, query?: ApiQuery, signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    if (signal?.aborted) return;
    const req = this.#open('GET', path, query, undefined, 0);
    const onAbort = () => req.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let res: IncomingMessage;
      try {
        res = await responseOf(req, this.socketPath);
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      const contentType = String(res.headers['content-type'] ?? '');
      if (res.statusCode !== 200 || !contentType.startsWith(NDJSON_CONTENT_TYPE)) {
        const raw = { status: res.statusCode ?? 0, contentType, text: await readText(res, this.socketPath) };
        throw res.statusCode !== 200 ? errorOf(raw, path) : badResponse(path, `a stream (${NDJSON_CONTENT_TYPE})`, raw);
      }
      res.setEncoding('utf8');
      let pending = '';
      try {
        for await (const chunk of res as AsyncIterable<string>) {
          pending += chunk;
          for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line === '') continue;
            let value: unknown;
            try {
              value = JSON.parse(line);
            } catch {
              throw badResponse(path, 'one JSON value per line', { status: 200, contentType, text: line });
            }
            if (isApiErrorBody(value)) throw errorFromBody(value, 200);
            yield value as T;
          }
        }
      } catch (err) {
        if (signal?.aborted) return;
        if (err instanceof ApiError) throw err;
        throw connectionLost(this.socketPath, err);
      }
      if (signal?.aborted) return;
      if (!res.complete) throw connectionLost(this.socketPath, undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
    }
  }

  /** Closes the idle keep-alive connections (a CLI command ends without it too: they are unref'd). */
  close(): void {
    this.#agent.destroy();
  }

  async #call<T>(method: string, path: string, query: ApiQuery | undefined, body: unknown, options: ApiCallOptions | undefined): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    let raw: RawResponse;
    try {
      raw = await this.#exchange(method, path, query, payload, timeoutMs, options?.signal);
    } catch (err) {
      // A kept-alive connection the agent closed meanwhile (it restarted): one retry on a new
      // one for requests that change nothing. POSTs are not retried: they may have been done.
      if (method !== 'POST' && (err as { reusedSocket?: boolean }).reusedSocket === true) {
        raw = await this.#exchange(method, path, query, payload, timeoutMs, options?.signal);
      } else {
        throw err;
      }
    }
    if (raw.status === 204) return undefined as T;
    if (raw.status >= 400) throw errorOf(raw, path);
    if (!raw.contentType.startsWith(JSON_CONTENT_TYPE)) throw badResponse(path, 'JSON', raw);
    try {
      return JSON.parse(raw.text) as T;
    } catch {
      throw badResponse(path, 'JSON', raw);
    }
  }

  async #exchange(method: string, path: string, query: ApiQuery | undefined, payload: string | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<RawResponse> {
    const req = this.#open(method, path, query, payload, timeoutMs);
    const onAbort = () => req.destroy(new ApiError('MESHD_ERR_API_CONNECTION_LOST', `request ${method} ${path} was cancelled`));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await responseOf(req, this.socketPath);
      const text = await readText(res, this.socketPath);
      return { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text };
    } catch (err) {
      if (err instanceof ApiError && req.reusedSocket && err.code === 'MESHD_ERR_API_CONNECTION_LOST') {
        Object.assign(err, { reusedSocket: true });
      }
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #open(method: string, path: string, query: ApiQuery | undefined, payload: string | undefined, timeoutMs: number): ClientRequest {
    const headers: Record<string, string | number> = { accept: `${JSON_CONTENT_TYPE}, ${NDJSON_CONTENT_TYPE}` };
    if (payload !== undefined) {
      headers['content-type'] = JSON_CONTENT_TYPE;
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = request({ agent: this.#agent, socketPath: this.socketPath, method, path: withQuery(path, query), headers });
    if (timeoutMs > 0) {
      req.setTimeout(timeoutMs, () => {
        req.destroy(new ApiError('MESHD_ERR_API_TIMEOUT', `the agent did not answer ${method} ${path} within ${timeoutMs} ms`, {
          hint: `the agent may be overloaded or stuck; its log says more (socket ${this.socketPath})`,
        }));
      });
    }
    req.end(payload);
    return req;
  }
}

export function withQuery(path: string, query: ApiQuery | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === 'string') params.append(key, value);
    else for (const v of value) params.append(key, v);
  }
  const qs = params.toString();
  return qs === '' ? path : `${path}?${qs}`;
}

function responseOf(req: ClientRequest, socketPath: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', (err: NodeJS.ErrnoException) => reject(connectError(err, socketPath, req)));
  });
}

function readText(res: IncomingMessage, socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', (err) => reject(err instanceof ApiError ? err : connectionLost(socketPath, err)));
    res.once('aborted', () => reject(connectionLost(socketPath, undefined)));
    // After 'end' this settles nothing; without it, it is the one sign the answer was cut.
    res.once('close', () => reject(connectionLost(socketPath, undefined)));
  });
}

/** Socket-level failures, as the user should read them. */
function connectError(err: NodeJS.ErrnoException, socketPath: string, req: ClientRequest): ApiError {
  if (err instanceof ApiError) return err;
  // Before the request reached the agent, the socket is absent or dead: no agent runs.
  if (!req.reusedSocket && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTDIR')) {
    return agentNotRunning(socketPath, err);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new ApiError('MESHD_ERR_API_SOCKET_ACCESS', `permission denied connecting to the agent at ${socketPath}`, {
      hint: 'the API socket is readable by its owner only (mode 0600): run the command as the user that runs the agent (usually root)',
      cause: err,
    });
  }
  return connectionLost(socketPath, err);
}

export function agentNotRunning(socketPath: string, cause?: unknown): ApiError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const why = code === 'ECONNREFUSED' ? `nothing answers on ${socketPath} (a socket left by an agent that stopped)` : `there is no agent socket at ${socketPath}`;
  return new ApiError('MESHD_ERR_API_AGENT_NOT_RUNNING', `the meshd agent is not running: ${why}`, {
    hint: `start it with \`meshd agent\`, which listens on ${socketPath}; if your agent uses another state directory, pass --state-dir DIR or set MESHD_STATE_DIR`,
    cause,
  });
}

function connectionLost(socketPath: string, cause: unknown): ApiError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new ApiError('MESHD_ERR_API_CONNECTION_LOST', `the connection to the agent at ${socketPath} broke before the answer was complete${detail}`, {
    hint: 'the agent may have stopped or restarted; check `meshd status` and the agent\'s log',
    cause,
  });
}

function errorOf(raw: RawResponse, path: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(raw.text);
  } catch {
    body = undefined;
  }
  if (isApiErrorBody(body)) return errorFromBody(body, raw.status);
  return badResponse(path, `an error object (HTTP ${raw.status})`, raw);
}

function badResponse(path: string, expected: string, raw: RawResponse): ApiError {
  const snippet = raw.text.length > 200 ? `${raw.text.slice(0, 200)}…` : raw.text;
  return new ApiError('MESHD_ERR_API_BAD_RESPONSE', `the agent answered ${path} with HTTP ${raw.status} (${raw.contentType || 'no content type'}), not ${expected}: ${JSON.stringify(snippet)}`, {
    hint: 'the socket may belong to another program, or the CLI and agent are different meshd versions',
    httpStatus: raw.status,
  });
}
