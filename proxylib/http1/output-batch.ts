// What one upstream read produces for the downstream socket (response head, body pieces, chunk
// framing) is collected and written with ONE socket.write: for the common small response, a single
// buffer is cheaper than cork()/uncork() and Node's writev path, which showed up as a large part of
// the per-request cost in profiles (per-call stream machinery, not bytes).
import type { Socket } from 'node:net';

/** Parts up to this many bytes in total are copied into one buffer; larger batches use writev. */
const MAX_COALESCED_BYTES = 8 * 1024;

export class OutputBatch {
  private parts: Array<string | Buffer> = [];
  private bytes = 0;
  private isCollecting = false;

  constructor(private readonly socket: Socket) {}

  /** Starts collecting; writes are held until flush(). */
  begin(): void {
    this.isCollecting = true;
  }

  /** Strings are latin1 byte strings (heads, chunk lines). Returns false when the socket buffer is full. */
  write(part: string | Buffer): boolean {
    if (!this.isCollecting) return typeof part === 'string' ? this.socket.write(part, 'latin1') : this.socket.write(part);
    if (part.length === 0) return true;
    this.parts.push(part);
    this.bytes += part.length;
    return true;
  }

  /** Writes what was collected; false when the socket buffer is full (backpressure). */
  flush(): boolean {
    this.isCollecting = false;
    const parts = this.parts;
    const count = parts.length;
    if (count === 0) return true;
    const bytes = this.bytes;
    this.parts = [];
    this.bytes = 0;
    const socket = this.socket;
    if (count === 1) {
      const only = parts[0]!;
      return typeof only === 'string' ? socket.write(only, 'latin1') : socket.write(only);
    }
    if (bytes <= MAX_COALESCED_BYTES) {
      const out = Buffer.allocUnsafe(bytes);
      let offset = 0;
      for (const part of parts) {
        if (typeof part === 'string') offset += out.write(part, offset, 'latin1');
        else offset += part.copy(out, offset);
      }
      return socket.write(out);
    }
    socket.cork();
    let ok = true;
    for (const part of parts) ok = typeof part === 'string' ? socket.write(part, 'latin1') : socket.write(part);
    socket.uncork();
    return ok;
  }
}
