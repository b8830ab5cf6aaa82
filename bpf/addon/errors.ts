// Errors of the native addon. Two kinds:
// - BpfSystemError: a failed libbpf or bpf() call, shaped like Node's system errors so callers
//   switch on `code` ('EPERM', 'ENOENT', 'ENOTSUPP', …) exactly as they do for fs or net errors.
//   Its codes are errno names, not MESHD_ERR_* codes: they come from the kernel (bpf-contract.md).
// - MESHD_ERR_BPF_ADDON_*: the addon itself is not there or does not load.
import { MeshdError } from '../../policy/index.js';

export const BPF_ADDON_ERROR_CODES = {
  MESHD_ERR_BPF_ADDON_MISSING: 'the native BPF addon has not been built',
  MESHD_ERR_BPF_ADDON_LOAD: 'the native BPF addon exists but cannot be loaded',
} as const;

export type BpfAddonErrorCode = keyof typeof BPF_ADDON_ERROR_CODES;

export class BpfAddonError extends MeshdError {
  constructor(code: BpfAddonErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'BpfAddonError';
  }
}

/**
 * A libbpf or bpf() call that failed. `errno` is negative like Node's (-1 for EPERM); `syscall`
 * names the call ('bpf_object__load', 'bpf_link_create', 'bpf_obj_get'); `path` is the pin, cgroup
 * or object file involved, when there is one. A rejected load ends its message with libbpf's last
 * log lines, i.e. the verifier's verdict.
 */
export class BpfSystemError extends MeshdError {
  readonly errno: number;
  readonly syscall: string;
  readonly path: string | undefined;
  constructor(message: string, code: string, errno: number, syscall: string, path?: string) {
    super(code, message);
    this.name = 'BpfSystemError';
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
  }
}
