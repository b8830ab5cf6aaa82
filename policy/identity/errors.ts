// Failures of identity allocation. Codes are append-only (see policy/errors.ts).
import { MeshdError } from '../errors.js';

export const IDENTITY_ERROR_CODES = {
  MESHD_ERR_IDENTITY_NO_LABELS: 'an identity needs at least one label',
  MESHD_ERR_IDENTITY_EXHAUSTED: 'every numeric identity of the scope is taken',
  MESHD_ERR_IDENTITY_STATE_WRITE: 'the identity state file could not be written',
} as const;

export type IdentityErrorCode = keyof typeof IDENTITY_ERROR_CODES;

export class IdentityError extends MeshdError {
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, options?.hint);
    this.name = 'IdentityError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Problems that do not stop the agent: the allocator starts empty and says why. */
export interface IdentityWarning {
  code: 'MESHD_WARN_IDENTITY_STATE_CORRUPT' | 'MESHD_WARN_IDENTITY_STATE_UNREADABLE';
  message: string;
  /** The state file, or where a corrupt one was moved. */
  path: string;
}
