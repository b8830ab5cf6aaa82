// Errors of the flow ring and its API (agent/flows). Codes are append-only; each has a section in
// docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const FLOWS_ERROR_CODES = {
  MESHD_ERR_FLOWS_INVALID_FILTER: 'a flow filter (--pod, --verdict, --protocol, --last ...) has a value meshd cannot read',
} as const;

export type FlowsErrorCode = keyof typeof FLOWS_ERROR_CODES;

export class FlowsError extends MeshdError {
  override readonly code: FlowsErrorCode;
  constructor(code: FlowsErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'FlowsError';
    this.code = code;
  }
}
