// Errors of the agent's endpoints (pods run through the agent). Codes are append-only; each has a
// section in docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const ENDPOINT_ERROR_CODES = {
  MESHD_ERR_ENDPOINT_INVALID_REQUEST: 'a pod run request is malformed: name, namespace, labels or command',
  MESHD_ERR_ENDPOINT_EXISTS: 'a pod with that namespace and name already runs on this node',
  MESHD_ERR_ENDPOINT_NOT_FOUND: 'no pod with that namespace and name runs on this node',
  MESHD_ERR_ENDPOINT_START: 'the pod was created but its command could not be started',
  MESHD_ERR_ENDPOINT_STATE_CORRUPT: 'endpoints.json in the state directory is not a valid endpoints file',
  MESHD_ERR_ENDPOINT_STATE_WRITE: 'endpoints.json could not be written in the state directory',
  MESHD_ERR_ENDPOINT_IDS_EXHAUSTED: 'every numeric endpoint id is taken by a running pod',
} as const;

export type EndpointErrorCode = keyof typeof ENDPOINT_ERROR_CODES;

export class EndpointError extends MeshdError {
  override readonly code: EndpointErrorCode;
  constructor(code: EndpointErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options.hint);
    this.name = 'EndpointError';
    this.code = code;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}
