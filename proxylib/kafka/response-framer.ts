// Upstream responses, as the Kafka filter passes them back: it needs each response's size and
// correlation id (to check it answers the oldest pending request) and then only forwards bytes, so
// a multi-MiB Fetch response streams through chunk by chunk instead of being held whole. Only the
// responses the filter learns topic ids from are collected (bounded by the caller's limit).
// Hand-written because it is a few lines of state around the size prefix; the codec's frame
// splitter collects whole frames, which is what must not happen here.

/** Size field + correlation id: the part of every response header the filter reads. */
export const RESPONSE_PREFIX_BYTES = 8;

/**
 * stream: forward as it comes; collect: hold the whole response; peek: hold at least its first
 * `peek` bytes after the prefix (all, if shorter; the rest of a chunk in hand comes along), show
 * them to the sink, then stream.
 */
export type ResponseHandling = 'stream' | 'collect' | { peek: number } | { error: string };

export interface ResponseSink {
  /** A response starts: `size` bytes follow the size field (correlation id included). */
  begin(size: number, correlationId: number): ResponseHandling;
  /** 'stream': the response's bytes in order, its 8-byte prefix first; each chunk may be forwarded as is. */
  bytes(chunk: Buffer): void;
  /** 'peek': the first bytes after the size and correlation id, before they are streamed. */
  peeked(head: Buffer): void;
  /** The response is complete; 'collect': the whole response with its size field. */
  end(whole: Buffer | undefined): void;
  /** The bytes are not a Kafka response (nothing more is read). */
  invalid(detail: string): void;
}

export class KafkaResponseFramer {
  private prefix = Buffer.alloc(RESPONSE_PREFIX_BYTES);
  private prefixLength = 0;
  /** Bytes of the current response still to come after the prefix; -1 between responses. */
  private remaining = -1;
  private mode: 'stream' | 'collect' | 'peek' = 'stream';
  /** 'peek': collected bytes (prefix included) after which the response streams. */
  private peekUntil = 0;
  private collected: Buffer[] = [];
  private collectedBytes = 0;
  private failed = false;

  constructor(private readonly sink: ResponseSink) {}

  /** Bytes held (a partial prefix, or a response being collected). */
  get buffered(): number {
    return this.prefixLength + this.collectedBytes;
  }

  /** Feeds upstream bytes; false once the sink refused a response (nothing more is read). */
  push(chunk: Buffer): boolean {
    let off = 0;
    while (off < chunk.length && !this.failed) {
      /** Where this response starts in the chunk when its whole prefix is in it, else -1. */
      let startInChunk = -1;
      if (this.remaining < 0) {
        if (this.prefixLength === 0 && chunk.length - off >= RESPONSE_PREFIX_BYTES) startInChunk = off;
        const take = Math.min(RESPONSE_PREFIX_BYTES - this.prefixLength, chunk.length - off);
        chunk.copy(this.prefix, this.prefixLength, off, off + take);
        this.prefixLength += take;
        off += take;
        if (this.prefixLength < RESPONSE_PREFIX_BYTES) break;
        this.prefixLength = 0;
        const size = this.prefix.readInt32BE(0);
        if (size < 4) {
          this.failed = true;
          this.sink.invalid(`response size ${size} cannot hold a correlation id`);
          return false;
        }
        const handling = this.sink.begin(size, this.prefix.readInt32BE(4));
        if (typeof handling === 'object' && 'error' in handling) {
          this.failed = true;
          return false;
        }
        if (typeof handling === 'object') {
          this.mode = 'peek';
          this.peekUntil = RESPONSE_PREFIX_BYTES + Math.min(handling.peek, size - 4);
        } else this.mode = handling;
        this.remaining = size - 4;
        if (startInChunk < 0) {
          // The prefix buffer is reused for the next response: hand out a copy.
          const head = Buffer.from(this.prefix);
          if (this.mode === 'stream') this.sink.bytes(head);
          else this.collect(head);
        } else if (this.mode !== 'stream') this.collect(chunk.subarray(startInChunk, off));
      }
      const take = Math.min(this.remaining, chunk.length - off);
      if (startInChunk >= 0 && this.mode === 'stream') {
        // Prefix and what follows of the response in one view: one write for a small answer.
        this.sink.bytes(startInChunk === 0 && off + take === chunk.length ? chunk : chunk.subarray(startInChunk, off + take));
        off += take;
        this.remaining -= take;
      } else if (take > 0) {
        const piece = take === chunk.length && off === 0 ? chunk : chunk.subarray(off, off + take);
        if (this.mode === 'stream') this.sink.bytes(piece);
        else this.collect(piece);
        off += take;
        this.remaining -= take;
      }
      if (this.mode === 'peek' && this.collectedBytes >= this.peekUntil) {
        const head = Buffer.concat(this.collected, this.collectedBytes);
        this.collected = [];
        this.collectedBytes = 0;
        this.mode = 'stream';
        this.sink.peeked(head.subarray(RESPONSE_PREFIX_BYTES));
        this.sink.bytes(head);
      }
      if (this.remaining === 0) {
        this.remaining = -1;
        if (this.mode === 'collect') {
          const whole = Buffer.concat(this.collected, this.collectedBytes);
          this.collected = [];
          this.collectedBytes = 0;
          this.sink.end(whole);
        } else this.sink.end(undefined);
      }
    }
    return !this.failed;
  }

  /** True between responses (nothing of a response has arrived). */
  get idle(): boolean {
    return this.remaining < 0 && this.prefixLength === 0;
  }

  private collect(piece: Buffer): void {
    this.collected.push(piece);
    this.collectedBytes += piece.length;
  }
}
