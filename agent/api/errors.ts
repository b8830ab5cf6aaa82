// Errors of the local API (the agent's unix socket and the CLI's client of it). Codes are
// append-only and each has a section in docs/errors.md; callers match on `code`, never on the
// class: an error thrown by a handler in the agent reaches the CLI as JSON and is rebuilt there.

import { MeshdError } from '../../policy/index.js';

export const API_ERROR_CODES = {
  MESHD_ERR_API_AGENT_NOT_RUNNING: 'no agent answers on the API socket of the state directory',
  MESHD_ERR_API_SOCKET_ACCESS: 'the API socket exists but this user may not connect to it',
  MESHD_ERR_API_SOCKET_IN_USE: 'another process already serves the API socket path',
  MESHD_ERR_API_SOCKET_PATH: 'the API socket path cannot be used (too long, or not a socket)',
  MESHD_ERR_API_NOT_FOUND: 'the request names a path the API does not have',
  MESHD_ERR_API_METHOD_NOT_ALLOWED: 'the path exists but not with that HTTP method',
  MESHD_ERR_API_BAD_REQUEST: 'the request body is not valid JSON, or a query parameter is missing or malformed',
  MESHD_ERR_API_BODY_TOO_LARGE: 'the request body is larger than the API accepts',
  MESHD_ERR_API_INTERNAL: 'a handler failed unexpectedly (a bug in the agent)',
  MESHD_ERR_API_BAD_RESPONSE: 'the agent answered with something that is not the API protocol',
  MESHD_ERR_API_CONNECTION_LOST: 'the connection to the agent broke before the answer was complete',
  MESHD_ERR_API_TIMEOUT: 'the agent did not answer in time',
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/**
 * An API failure. `httpStatus` is the status the server answers with (or the client received);
 * `problems` travels with errors that carry every problem found (policy validation).
 */
export class ApiError extends MeshdError {
  readonly httpStatus: number | undefined;
  readonly problems: unknown[] | undefined;
  constructor(code: string, message: string, o: { hint?: string | undefined; httpStatus?: number | undefined; problems?: unknown[] | undefined; cause?: unknown } = {}) {
    super(code, message, o.hint);
    this.name = 'ApiError';
    this.httpStatus = o.httpStatus;
    this.problems = o.problems;
    if (o.cause !== undefined) (this as { cause?: unknown }).cause = o.cause;
  }
}

/** Codes that say "your input is wrong", beyond the *_INVALID / *_BAD_* / *_MISSING_* shapes. */
const VALIDATION_CODE = /_(INVALID|SYNTAX|BAD|USAGE|MISSING|WRONG_TYPE|UNKNOWN_FIELD|REMOVED_FIELD|TEMPLATE|CONFLICT|EMPTY_RULE|DUPLICATE_NAME|L7_MERGE|UNSUPPORTED)(_|$)/;

/**
 * The HTTP status of a coded error: 404 for *_NOT_FOUND (and *_UNKNOWN_*), 409 for *_EXISTS and
 * *_ALREADY_*, 413 for a too-large body, 400 for validation codes, else 500. A MeshdError may
 * choose its own with a numeric `httpStatus` (4xx/5xx) property.
 */
export function httpStatusOf(err: { code: string; httpStatus?: unknown }): number {
  const chosen = err.httpStatus;
  if (typeof chosen === 'number' && Number.isInteger(chosen) && chosen >= 400 && chosen <= 599) return chosen;
  const code = err.code;
  if (code === 'MESHD_ERR_API_METHOD_NOT_ALLOWED') return 405;
  if (code === 'MESHD_ERR_API_BODY_TOO_LARGE') return 413;
  if (/_NOT_FOUND(_|$)/.test(code) || /_UNKNOWN_(?!FIELD)/.test(code)) return 404;
  if (/_EXISTS(_|$)/.test(code) || /_ALREADY_/.test(code)) return 409;
  if (VALIDATION_CODE.test(code) || code.startsWith('MESHD_ERR_POLICY_') && !code.startsWith('MESHD_ERR_POLICY_STORE_')) return 400;
  return 500;
}

/** The wire shape of an error: `{error: {code, message, hint, problems?}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string; hint: string | null; problems?: unknown[] };
}

export function isApiErrorBody(value: unknown): value is ApiErrorBody {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'error') return false;
  const e = (value as { error: unknown }).error;
  if (typeof e !== 'object' || e === null) return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  return typeof code === 'string' && code.startsWith('MESHD_ERR_') && typeof message === 'string';
}

/** Rebuilds the error a response carried, keeping code, message, hint and problems. */
export function errorFromBody(body: ApiErrorBody, httpStatus: number | undefined): ApiError {
  const { code, message, hint, problems } = body.error;
  return new ApiError(code, message, { hint: typeof hint === 'string' && hint !== '' ? hint : undefined, httpStatus, problems: Array.isArray(problems) ? problems : undefined });
}
