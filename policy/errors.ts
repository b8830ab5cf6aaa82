// Errors of the policy layer. Every failure has a stable `code` (append-only: a code that
// leaves the process is never renamed or reused) and, where it comes from a file, the place.
// Callers match on `code`, never on `instanceof`: errors cross the agent → CLI boundary as JSON.

export interface SourcePosition {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

export const POLICY_ERROR_CODES = {
  MESHD_ERR_POLICY_FILE_READ: 'the file or directory could not be read',
  MESHD_ERR_POLICY_SYNTAX: 'the file is not well-formed YAML or JSON',
  MESHD_ERR_POLICY_TEMPLATE: 'the file holds template placeholders, not a policy',
  MESHD_ERR_POLICY_UNKNOWN_FIELD: 'a field the schema does not have',
  MESHD_ERR_POLICY_REMOVED_FIELD: 'a field that Cilium removed',
  MESHD_ERR_POLICY_WRONG_TYPE: 'a value of the wrong type',
  MESHD_ERR_POLICY_MISSING_FIELD: 'a required field is absent',
  MESHD_ERR_POLICY_INVALID_VALUE: 'a value outside what the field accepts',
  MESHD_ERR_POLICY_INVALID_REGEX: 'a regular expression RE2 does not accept',
  MESHD_ERR_POLICY_INVALID_CIDR: 'a malformed CIDR, or an except outside its CIDR',
  MESHD_ERR_POLICY_INVALID_SELECTOR: 'a malformed label selector',
  MESHD_ERR_POLICY_CONFLICT: 'fields that cannot be combined',
  MESHD_ERR_POLICY_UNSUPPORTED: 'a valid construct meshd does not support in that place',
  MESHD_ERR_POLICY_EMPTY_RULE: 'a rule with no ingress or egress section',
  MESHD_ERR_POLICY_DUPLICATE_NAME: 'two policies with the same kind, namespace and name',
  MESHD_ERR_POLICY_L7_MERGE: 'two rules put different L7 protocols on the same port and peers',
} as const;

export type PolicyErrorCode = keyof typeof POLICY_ERROR_CODES;

export interface PolicyProblem {
  code: PolicyErrorCode;
  message: string;
  /** Dotted field path inside the document, e.g. `spec.ingress[0].toPorts[0].rules.http[1].path`. */
  path: string;
  position: SourcePosition;
  hint?: string;
}

/** Base of every meshd error (each layer has its own subclasses). */
export class MeshdError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, hint?: string) {
    super(message);
    this.name = 'MeshdError';
    this.code = code;
    this.hint = hint;
  }
}

/** A policy source that failed to load: carries every problem found, not just the first. */
export class PolicyValidationError extends MeshdError {
  readonly problems: PolicyProblem[];
  constructor(problems: PolicyProblem[]) {
    const first = problems[0];
    super(
      first?.code ?? 'MESHD_ERR_POLICY_INVALID_VALUE',
      problems.length === 1 && first
        ? `${formatPosition(first.position)}: ${first.message}`
        : `${problems.length} problems in policy sources`,
      first?.hint,
    );
    this.name = 'PolicyValidationError';
    this.problems = problems;
  }
}

/** Raised for invalid arguments to the engine itself (an unknown endpoint in a trace, a bad ref). */
export class PolicyUsageError extends MeshdError {
  constructor(code: 'MESHD_ERR_TRACE_BAD_REF' | 'MESHD_ERR_TRACE_BAD_ARGUMENT' | 'MESHD_ERR_ENDPOINTS_INVALID', message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'PolicyUsageError';
  }
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.col}`;
}
