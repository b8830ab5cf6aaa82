// Errors of the etcd-backed cluster state. Codes are stable (append-only).
import { MeshdError } from '../../policy/index.js';

export const CLUSTER_ERROR_CODES = {
  MESHD_ERR_CLUSTER_ETCD_UNREACHABLE: 'etcd did not answer when the agent joined the cluster',
  MESHD_ERR_CLUSTER_ALLOCATION_CONFLICT: 'an identity could not be allocated after repeated concurrent conflicts',
  MESHD_ERR_CLUSTER_IDENTITY_EXHAUSTED: 'every cluster-wide identity id is in use',
  MESHD_ERR_CLUSTER_BAD_RECORD: 'a record in etcd could not be decoded and was ignored',
  MESHD_ERR_CLUSTER_CLOSED: 'the cluster state was used after close()',
} as const;

export type ClusterErrorCode = keyof typeof CLUSTER_ERROR_CODES;

export class ClusterError extends MeshdError {
  constructor(code: ClusterErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options.hint);
    this.name = 'ClusterError';
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
