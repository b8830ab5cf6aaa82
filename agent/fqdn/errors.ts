// Errors of the FQDN learning side (agent/fqdn). Codes are append-only; each has a section in
// docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const FQDN_ERROR_CODES = {
  MESHD_ERR_FQDN_STATE_CORRUPT: 'the persisted FQDN cache (fqdn-cache.json) is not a valid cache file',
  MESHD_ERR_FQDN_STATE_READ: 'the persisted FQDN cache could not be read (missing file or directory, permissions)',
  MESHD_ERR_FQDN_STATE_WRITE: 'the FQDN cache could not be saved in the state directory',
  MESHD_ERR_FQDN_INVALID_OPTION: 'an FqdnManager option is out of range',
  MESHD_ERR_FQDN_FLOW_ACTIVITY: "the datapath's record of unconnected UDP flows could not be read",
} as const;

export type FqdnErrorCode = keyof typeof FQDN_ERROR_CODES;

export class FqdnError extends MeshdError {
  override readonly code: FqdnErrorCode;
  constructor(code: FqdnErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options.hint);
    this.name = 'FqdnError';
    this.code = code;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** A problem the manager recovered from (it kept running); the agent logs it. */
export interface FqdnWarning {
  /** A MESHD_ERR_ code: FQDN_* from this module, or the failing layer's (identity, datapath). */
  code: string | undefined;
  message: string;
}
