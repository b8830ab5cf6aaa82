import { nativeAddon, type NativeLink } from './native.js';
import type { BpfProgram } from './bpf-program.js';

export interface BpfLinkInfo {
  id: number;
  progId: number;
  /** libbpf's name of the link type: 'cgroup', 'netns', … */
  type: string;
  /** For cgroup links: the inode number of the cgroup directory (0 once detached). */
  cgroupId?: bigint;
  /** enum bpf_attach_type, for cgroup and netns links. */
  attachType?: number;
}

/**
 * A BPF link: the program stays attached while any fd or pin of the link exists. Keep the
 * BpfLink reachable or pin it: a link that is closed (or collected, since its finalizer closes
 * the fd) and not pinned detaches its program.
 */
export class BpfLink {
  readonly id: number;
  readonly #native: NativeLink;

  /** Not for direct use: links come from BpfProgram.attachCgroup() and BpfLink.openPinned(). */
  constructor(native: NativeLink) {
    this.#native = native;
    this.id = native.info().id;
  }

  /** bpf_obj_get of a pinned link (e.g. after an agent restart): the attachment it names is live. */
  static openPinned(path: string): BpfLink {
    return new BpfLink(nativeAddon().NativeLink.openPinned(path));
  }

  /** The link's fd while open, -1 after close(). */
  get fd(): number {
    return this.#native.fd;
  }

  /** bpf_obj_pin: the attachment survives this process. Remove the pin with fs.rmSync(path). */
  pin(path: string): void {
    this.#native.pin(path);
  }

  /** bpf_link_update: swaps the program behind the live link in one step — no unenforced moment. */
  updateProgram(prog: BpfProgram): void {
    this.#native.updateProgram(prog.fd);
  }

  info(): BpfLinkInfo {
    return this.#native.info();
  }

  /** bpf_link_detach: detaches the program for every holder of the link, pinned ones included. */
  detach(): void {
    this.#native.detach();
  }

  /** Closes the fd; a pinned link stays attached. Harmless when already closed. */
  close(): void {
    this.#native.close();
  }
}
