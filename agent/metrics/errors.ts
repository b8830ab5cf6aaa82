// Errors of the Prometheus endpoint (agent/metrics). Codes are append-only; each has a section in
// docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const METRICS_ERROR_CODES = {
  MESHD_ERR_METRICS_INVALID_ADDRESS: 'the --metrics address is not HOST:PORT',
  MESHD_ERR_METRICS_NOT_LOOPBACK: 'the --metrics address is not a loopback address and exposing metrics was not explicitly allowed',
  MESHD_ERR_METRICS_LISTEN: 'the metrics endpoint could not listen on its address (in use, or not permitted)',
} as const;

export type MetricsErrorCode = keyof typeof METRICS_ERROR_CODES;

export class MetricsError extends MeshdError {
  override readonly code: MetricsErrorCode;
  constructor(code: MetricsErrorCode, message: string, hint?: string, cause?: unknown) {
    super(code, message, hint);
    this.name = 'MetricsError';
    this.code = code;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}
