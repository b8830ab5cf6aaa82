// Errors of the agent's policy store (applied policies, --policy-dir). Codes are append-only;
// each has a section in docs/errors.md. Validation problems of the documents themselves keep the
// policy loader's MESHD_ERR_POLICY_* codes (in `problems`, each with file:line:col).
import { MeshdError, type PolicyProblem } from '../../policy/index.js';

export const POLICY_STORE_ERROR_CODES = {
  MESHD_ERR_POLICY_STORE_INVALID: 'an apply was refused: at least one document of the set has a problem, and nothing was changed',
  MESHD_ERR_POLICY_STORE_BAD_REQUEST: 'a policy API request is malformed (no sources, a missing name, an unknown kind)',
  MESHD_ERR_POLICY_STORE_NOT_FOUND: 'no applied policy has that kind, namespace and name',
  MESHD_ERR_POLICY_STORE_AMBIGUOUS: 'the reference matches more than one applied policy; give the kind and namespace',
  MESHD_ERR_POLICY_STORE_WRITE: 'the policy could not be saved in the state directory; nothing was changed',
  MESHD_ERR_POLICY_STORE_CORRUPT: 'a file in the state directory\'s policies/ does not load any more; it was moved aside',
} as const;

export type PolicyStoreErrorCode = keyof typeof POLICY_STORE_ERROR_CODES;

export class PolicyStoreError extends MeshdError {
  override readonly code: PolicyStoreErrorCode;
  /** Every problem of a refused apply (the API sends them to the CLI, which prints each). */
  readonly problems: PolicyProblem[] | undefined;
  /** The HTTP status the API answers with (agent/api reads it). */
  readonly httpStatus: number | undefined;
  constructor(code: PolicyStoreErrorCode, message: string, options: { hint?: string; cause?: unknown; problems?: PolicyProblem[]; httpStatus?: number } = {}) {
    super(code, message, options.hint);
    this.name = 'PolicyStoreError';
    this.code = code;
    this.problems = options.problems;
    this.httpStatus = options.httpStatus;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}
