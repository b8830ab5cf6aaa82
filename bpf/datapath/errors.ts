// Errors of the kernel datapath (the addon's own system errors pass through as their cause).
// Codes are append-only (see policy/errors.ts); each has a section in docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const DATAPATH_ERROR_CODES = {
  MESHD_ERR_DATAPATH_OBJECT_MISSING: 'a compiled eBPF object is missing (make build)',
  MESHD_ERR_DATAPATH_NO_BPFFS: 'the BPF filesystem is not mounted where the pins live',
  MESHD_ERR_DATAPATH_LOAD: 'the kernel refused to load an eBPF object',
  MESHD_ERR_DATAPATH_ATTACH: 'a program could not be attached to a cgroup or a network device',
  MESHD_ERR_DATAPATH_BAD_ADDRESS: 'an IP address or prefix the datapath cannot parse',
  MESHD_ERR_DATAPATH_UNKNOWN_ENDPOINT: 'no attached endpoint has this id',
  MESHD_ERR_DATAPATH_CLOSED: 'the Datapath was closed',
  MESHD_ERR_DATAPATH_MAP_UPDATE: 'the kernel refused a map update (full map, bad entry)',
  MESHD_ERR_DATAPATH_ROUTING: 'the policy-routing rule of BPF TPROXY (ip rule / ip route) could not be installed or removed',
  MESHD_ERR_DATAPATH_NOT_LOADED: 'a pinned datapath map a reader needs is not there (or not readable, or of another layout)',
} as const;

export type DatapathErrorCode = keyof typeof DATAPATH_ERROR_CODES;

export class DatapathError extends MeshdError {
  declare readonly code: DatapathErrorCode;
  constructor(code: DatapathErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, options?.hint);
    this.name = 'DatapathError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
