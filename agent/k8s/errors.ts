// Errors of the agent's Kubernetes mode (the API watcher). Codes are append-only; each has a
// section in docs/errors.md. A policy the API server holds but meshd refuses keeps the policy
// loader's MESHD_ERR_POLICY_* problems (in `problems`, with the field path).
import { MeshdError, type PolicyProblem } from '../../policy/index.js';

export const K8S_ERROR_CODES = {
  MESHD_ERR_K8S_CONFIG: 'no usable Kubernetes client configuration (in-cluster service account or --kubeconfig)',
  MESHD_ERR_K8S_INVALID_OBJECT: 'an object from the API server is not what meshd can use (a field is missing or malformed); it was ignored',
  MESHD_ERR_K8S_POLICY_REJECTED: 'a policy object from the API server does not load; the last good version of it (if any) stays applied',
  MESHD_ERR_K8S_API: 'a list or watch request to the API server failed; the watcher retries with backoff',
} as const;

export type K8sErrorCode = keyof typeof K8S_ERROR_CODES;

/** Names the object an error is about: `Kind namespace/name` (or `Kind name` when cluster-scoped). */
export interface K8sObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export class K8sError extends MeshdError {
  override readonly code: K8sErrorCode;
  readonly object: K8sObjectRef | undefined;
  /** The offending field, as a path (`status.podIPs[0].ip`). */
  readonly field: string | undefined;
  readonly problems: PolicyProblem[] | undefined;
  constructor(
    code: K8sErrorCode,
    message: string,
    options: { hint?: string; object?: K8sObjectRef; field?: string; problems?: PolicyProblem[]; cause?: unknown } = {},
  ) {
    super(code, message, options.hint);
    this.name = 'K8sError';
    this.code = code;
    this.object = options.object;
    this.field = options.field;
    this.problems = options.problems;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export function formatObjectRef(ref: K8sObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}
