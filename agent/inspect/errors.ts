// Errors of the inspect routes. Codes are append-only and each has a section in docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const INSPECT_ERROR_CODES = {
  MESHD_ERR_INSPECT_BAD_POD_REF: 'a pod reference that is not NAME or NAMESPACE/NAME',
  MESHD_ERR_INSPECT_POD_NOT_FOUND: 'the pod named is not an endpoint of this agent',
} as const;

export type InspectErrorCode = keyof typeof INSPECT_ERROR_CODES;

export class InspectError extends MeshdError {
  override readonly code: InspectErrorCode;
  constructor(code: InspectErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'InspectError';
    this.code = code;
  }
}
