// Public entry of agent/api: the agent's local API (HTTP/1.1 + JSON over a unix socket) — the
// server the daemon starts with every component's routes, and the client the CLI uses.
export { startApiServer } from './server.js';
export type { ApiServer, ApiServerOptions, ApiLogger } from './server.js';
export { ApiClient, agentNotRunning, withQuery } from './client.js';
export type { ApiClientOptions, ApiCallOptions, ApiQuery } from './client.js';
export { API_BODY_LIMIT_BYTES, JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE, isAsyncIterable } from './routes.js';
export type { ApiHandler, ApiMethod, ApiRequest, ApiRoute } from './routes.js';
export { API_ERROR_CODES, ApiError, httpStatusOf, isApiErrorBody, errorFromBody } from './errors.js';
export type { ApiErrorCode, ApiErrorBody } from './errors.js';
export { defaultStateDir, agentSocketPath, DEFAULT_STATE_DIR, API_SOCKET_FILE } from './socket-path.js';
export { requireQuery } from './query.js';
