// The one open cache watch of a stream's type, shared by SotW and Delta. The cache may answer
// synchronously, inside createWatch, and the answer may open the next watch at once; a token tells
// the live watch from one that was replaced or cancelled, whose late answer must be ignored.
import type { CancelWatch, Respond, WatchResponse } from '../cache/index.js';

export class WatchSlot {
  private cancel: CancelWatch | undefined;
  private token: object | undefined;

  /** Cancels the open watch (if any) and opens one with `register`; `onResponse` gets its answer once. */
  open(register: (respond: Respond) => CancelWatch, onResponse: (resp: WatchResponse) => void): void {
    this.close();
    const token = {};
    this.token = token;
    const cancel = register((resp) => {
      if (this.token !== token) return;
      this.token = undefined;
      this.cancel = undefined;
      onResponse(resp);
    });
    // Not when the watch was answered synchronously (it has ended, and may have opened the next one).
    if (this.token === token) this.cancel = cancel;
  }

  close(): void {
    this.token = undefined;
    this.cancel?.();
    this.cancel = undefined;
  }
}
