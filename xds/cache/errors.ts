// Errors of the xDS cache and server ("xds-server"). Codes are append-only; callers match on `code`.
import { MeshdError } from '../../policy/index.js';

export const XDS_SERVER_ERROR_CODES = {
  MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT: 'a snapshot whose resources refer to missing ones, or hold unreferenced route configurations or endpoint sets',
  MESHD_ERR_XDS_INVALID_RESOURCE: 'a snapshot resource without a name, named twice, or whose message is not of its type URL',
  MESHD_ERR_XDS_BIND: 'the xDS server could not listen on the address',
  MESHD_ERR_XDS_BAD_ADDRESS: 'a listen address that is neither unix:/path nor host:port',
  MESHD_ERR_XDS_RESPONSE_TOO_LARGE: 'a response that cannot be split under the client message size limit',
  MESHD_ERR_XDS_BAD_REQUEST: 'a discovery request the protocol does not allow',
  MESHD_ERR_XDS_SERVER_CLOSED: 'the xDS server was used after close()',
} as const;

export type XdsServerErrorCode = keyof typeof XDS_SERVER_ERROR_CODES;

/** A snapshot the cache refuses; `problems` lists every problem found, not just the first. */
export class XdsSnapshotError extends MeshdError {
  readonly problems: string[];
  constructor(code: 'MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT' | 'MESHD_ERR_XDS_INVALID_RESOURCE', problems: string[], where?: string) {
    const head = where ? `${where}: ` : '';
    super(
      code,
      problems.length === 1 ? `${head}${problems[0]}` : `${head}${problems.length} problems: ${problems.join('; ')}`,
      code === 'MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT'
        ? 'every RDS, EDS, SDS and cluster name a resource refers to must be in the snapshot, and every route configuration and endpoint set must be referred to'
        : undefined,
    );
    this.name = 'XdsSnapshotError';
    this.problems = problems;
  }
}

export class XdsServerError extends MeshdError {
  constructor(code: Exclude<XdsServerErrorCode, 'MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT' | 'MESHD_ERR_XDS_INVALID_RESOURCE'>, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'XdsServerError';
  }
}
