// meshd's native BPF addon: libbpf 1.1 through node-addon-api (src/*.cc), with this API fixed by
// /tmp/meshd-notes/bpf-contract.md so the datapath can be written against it. Every call is
// synchronous and short; only load and attach take noticeable time. Every object closes its fds
// in close() (twice is harmless), and a finalizer closes what was forgotten. Failures throw
// BpfSystemError: code ('EPERM'), errno (-1), syscall, path.
export { BpfObject, DEFAULT_PIN_ROOT, type BpfObjectOpenOptions } from './bpf-object.js';
export { BpfMap, type BpfMapType, type BpfUpdateFlag, type BpfMapCreateOptions } from './bpf-map.js';
export { BpfProgram, type BpfTestRunOptions, type BpfTestRunResult } from './bpf-program.js';
export { BpfLink, type BpfLinkInfo } from './bpf-link.js';
export { RingBufferReader } from './ring-buffer-reader.js';
export { setLibbpfLogger, type BpfLogger } from './libbpf-logger.js';
export { probeKernel, type KernelFacts } from './probe-kernel.js';
export { BpfSystemError, BpfAddonError, BPF_ADDON_ERROR_CODES, type BpfAddonErrorCode } from './errors.js';
export { bindReusePort, reusePortAvailable } from './reuseport-socket.js';
export { bindTransparent, transparentAvailable } from './transparent-socket.js';
