// What a route of the local API is. Paths are exact (no parameters): whatever names a thing goes
// into the query (`GET /v1/bpf/policy?pod=default/web`), so routing is a map lookup.

export type ApiMethod = 'GET' | 'POST' | 'DELETE';

export interface ApiRequest {
  method: ApiMethod;
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** Aborted when the client goes away (or the server closes) before the answer is complete. */
  signal: AbortSignal;
}

/**
 * A plain value → 200 with its JSON (undefined → 204, no body). An AsyncIterable (returned,
 * or resolved by the promise) → 200 NDJSON: one JSON object per line, flushed per item, until it
 * ends or the client goes (then its `return()` is called and `signal` is aborted). A thrown
 * MeshdError → its status (httpStatusOf) and `{error: {code, message, hint}}`; anything else
 * thrown → 500 MESHD_ERR_API_INTERNAL.
 */
export type ApiHandler = (req: ApiRequest) => Promise<unknown> | AsyncIterable<unknown>;

export interface ApiRoute {
  method: ApiMethod;
  /** Exact path, e.g. `/v1/status`. */
  path: string;
  handler: ApiHandler;
}

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
export const JSON_CONTENT_TYPE = 'application/json';

/** Request bodies larger than this are refused with 413 (a policy set of thousands of rules fits). */
export const API_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
