import { BpfMap } from './bpf-map.js';
import { BpfProgram } from './bpf-program.js';
import type { BpfLogger } from './libbpf-logger.js';
import { nativeAddon, type NativeObject } from './native.js';

/** Where maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are pinned and found again. */
export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/meshd';

export interface BpfObjectOpenOptions {
  /** Directory in bpffs for LIBBPF_PIN_BY_NAME maps (created if missing, one level). */
  pinRoot?: string;
  /** Receives libbpf's output while this object is opened and loaded. */
  logger?: BpfLogger;
  /** `const volatile` globals to set before load: name → Buffer of exactly the variable's size. */
  rodata?: Record<string, Buffer>;
}

/**
 * An eBPF object file through its life: open (set rodata), load, take maps and programs, close.
 * Maps declared with LIBBPF_PIN_BY_NAME are reused from `pinRoot/<name>` when pinned there (so
 * their contents survive an agent restart) and pinned there when new; a pinned map whose type or
 * sizes differ from the object's fails the load with EINVAL.
 */
export class BpfObject {
  /** Names of the object's maps as declared in C; the globals' sections (.rodata, .bss) are left
   *  out, but map('.rodata') opens one. */
  readonly maps: string[];
  /** Names of the object's programs: their C function names. */
  readonly programs: string[];
  readonly #native: NativeObject;
  readonly #openMaps = new Map<string, BpfMap>();
  readonly #openPrograms = new Map<string, BpfProgram>();

  private constructor(native: NativeObject) {
    this.#native = native;
    this.maps = native.mapNames();
    this.programs = native.programNames();
  }

  /** bpf_object__open_file with opts.pin_root_path = pinRoot; throws ENOENT for a missing file. */
  static open(objectPath: string, opts: BpfObjectOpenOptions = {}): BpfObject {
    const native = nativeAddon().NativeObject.open(
      objectPath,
      opts.pinRoot ?? DEFAULT_PIN_ROOT,
      opts.logger,
      Object.entries(opts.rodata ?? {}),
    );
    return new BpfObject(native);
  }

  /** bpf_object__load: creates (or reuses pinned) maps and loads every program, or none. */
  load(): void {
    this.#native.load();
  }

  /** The map with this name (after load); the same BpfMap until it or the object is closed. */
  map(name: string): BpfMap {
    const open = this.#openMaps.get(name);
    if (open && open.fd >= 0) return open;
    const map = new BpfMap(this.#native.map(name));
    this.#openMaps.set(name, map);
    return map;
  }

  /** The program whose C function is `name` (after load). */
  program(name: string): BpfProgram {
    const open = this.#openPrograms.get(name);
    if (open && open.fd >= 0) return open;
    const program = new BpfProgram(this.#native.program(name));
    this.#openPrograms.set(name, program);
    return program;
  }

  /**
   * Closes every fd of the object, including the BpfMaps and BpfPrograms it handed out. Pinned maps
   * and links stay in bpffs; unpinned links made from its programs keep working while open.
   */
  close(): void {
    for (const map of this.#openMaps.values()) map.close();
    for (const program of this.#openPrograms.values()) program.close();
    this.#openMaps.clear();
    this.#openPrograms.clear();
    this.#native.close();
  }
}
