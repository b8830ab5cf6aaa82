// Loads build/Release/meshd_bpf.node (built by `make build`) on first use, so that importing the
// bpf layer costs nothing where no BPF call is made (unit tests, `meshd policy validate`).
// The types below describe the C++ side (src/*.cc); only this folder sees them.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfAddonError, BpfSystemError } from './errors.js';
import type { BpfLogger } from './libbpf-logger.js';

export interface NativeMapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  id: number;
  /** Bytes per value as user space reads it: valueSize, or round_up(valueSize, 8) × CPUs for per-CPU maps. */
  valueBytes: number;
}

export interface NativeMap {
  readonly fd: number;
  info(): NativeMapInfo;
  lookup(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  updateBatch(keys: Buffer[], values: Buffer[]): void;
  deleteBatch(keys: Buffer[]): number;
  keys(): Buffer[];
  entries(): Array<[Buffer, Buffer]>;
  setInner(key: Buffer, innerFd: number): void;
  pin(path: string): void;
  unpin(path: string): void;
  close(): void;
}

export interface NativeMapCreateOptions {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number | undefined;
  name?: string | undefined;
  innerMapFd?: number | undefined;
}

export interface NativeProgramInfo {
  name: string;
  sectionName: string;
  id: number;
  type: string;
  attachType: string;
}

export interface NativeTestRunResult {
  retval: number;
  dataOut: Buffer;
  ctxOut?: Buffer;
  durationNs: number;
}

export interface NativeProgram {
  readonly fd: number;
  info(): NativeProgramInfo;
  attachCgroup(cgroupPath: string): NativeLink;
  attachTcx(ifname: string, ingress: boolean): NativeLink;
  attachSockMap(mapFd: number): void;
  detachSockMap(mapFd: number): void;
  testRun(dataIn: Buffer | undefined, ctxIn: Buffer | undefined, repeat: number): NativeTestRunResult;
  close(): void;
}

export interface NativeLinkInfo {
  id: number;
  progId: number;
  type: string;
  cgroupId?: bigint;
  attachType?: number;
}

export interface NativeLink {
  readonly fd: number;
  pin(path: string): void;
  updateProgram(programFd: number): void;
  info(): NativeLinkInfo;
  detach(): void;
  close(): void;
}

export interface NativeObject {
  load(): void;
  mapNames(): string[];
  programNames(): string[];
  map(name: string): NativeMap;
  program(name: string): NativeProgram;
  close(): void;
}

export interface NativeRingBuffer {
  readonly closed: boolean;
  close(): void;
}

export interface NativeAddon {
  NativeObject: {
    open(objectPath: string, pinRoot: string, logger: BpfLogger | undefined, rodata: Array<[string, Buffer]>): NativeObject;
  };
  NativeMap: { openPinned(path: string): NativeMap; create(options: NativeMapCreateOptions): NativeMap; openById(id: number): NativeMap };
  NativeLink: { openPinned(path: string): NativeLink };
  NativeRingBuffer: { open(mapFd: number, onRecords: (records: Buffer[]) => void): NativeRingBuffer };
  setLibbpfLogger(logger: BpfLogger | undefined): void;
  setErrorClass(errorClass: typeof BpfSystemError): void;
  libbpfVersion(): string;
}

// From dist/bpf/addon/native.js (and from bpf/addon/native.ts) the repository root is three
// levels up; node-gyp builds into bpf/addon/build/Release.
const ADDON_PATH = fileURLToPath(new URL('../../../bpf/addon/build/Release/meshd_bpf.node', import.meta.url));

let loaded: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    throw new BpfAddonError(
      'MESHD_ERR_BPF_ADDON_MISSING',
      `the native BPF addon is not built (no ${ADDON_PATH}): run make build`,
      'run `make build`; it needs libbpf-dev, libelf-dev, zlib1g-dev and a C++ compiler (`make setup` installs them)',
    );
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (cause) {
    throw new BpfAddonError(
      'MESHD_ERR_BPF_ADDON_LOAD',
      `cannot load ${ADDON_PATH}: ${cause instanceof Error ? cause.message : String(cause)}`,
      'rebuild it with `make build` (it was built for another Node version or libbpf is missing: apt-get install libbpf1)',
    );
  }
  addon.setErrorClass(BpfSystemError);
  loaded = addon;
  return addon;
}
