import type { BpfMap } from './bpf-map.js';
import { nativeAddon, type NativeRingBuffer } from './native.js';

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map from the event loop: when the kernel has records, `onRecords`
 * gets all of them (up to 4096 per call; more follow in the next turn of the loop), each a Buffer
 * copy, in kernel order. Nothing runs while the ring is empty.
 *
 * Like a socket, an open reader keeps the process alive and is not garbage-collected; close() it.
 * An exception thrown by `onRecords` is an uncaught exception, as in any event callback.
 */
export class RingBufferReader {
  readonly #native: NativeRingBuffer;

  constructor(map: BpfMap, onRecords: (records: Buffer[]) => void) {
    this.#native = nativeAddon().NativeRingBuffer.open(map.fd, onRecords);
  }

  get closed(): boolean {
    return this.#native.closed;
  }

  /** Stops reading and frees the ring; safe twice and from inside `onRecords`. */
  close(): void {
    this.#native.close();
  }
}
