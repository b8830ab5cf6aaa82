// The response side of one pooled upstream connection: A's strict ResponseParser, created once per
// connection (kept as the pooled connection's attachment) and pointed at the exchange using it now.
import { DEFAULT_HTTP1_LIMITS, ResponseParser, type Http1ParseError, type Http1ResponseHead, type ResponseHandler } from '../codec/index.js';
import type { HeaderList } from '../hcm/index.js';
import type { PooledConnection } from '../upstream/http1-pool.js';

/** What the codec drives: the exchange currently holding the connection. */
export interface ResponseSink {
  onResponseHead(head: Http1ResponseHead): void;
  onResponseBody(chunk: Buffer): void;
  onResponseTrailers(trailers: HeaderList): void;
  onResponseComplete(): void;
  onResponseError(error: Http1ParseError): void;
}

/**
 * The response parser of one upstream connection, kept on the pooled connection for its lifetime
 * (one parser per connection, not per request) and pointed at the exchange currently using it.
 */
export class UpstreamCodec implements ResponseHandler {
  readonly parser: ResponseParser;
  exchange: ResponseSink | undefined;
  constructor() {
    this.parser = new ResponseParser(DEFAULT_HTTP1_LIMITS, this);
  }
  onHead(head: Http1ResponseHead): void {
    this.exchange?.onResponseHead(head);
  }
  onBody(chunk: Buffer): void {
    this.exchange?.onResponseBody(chunk);
  }
  onTrailers(trailers: HeaderList): void {
    this.exchange?.onResponseTrailers(trailers);
  }
  onMessageComplete(): boolean {
    this.exchange?.onResponseComplete();
    // Stop right after the response: any byte after it is unsolicited (checked by the caller).
    return true;
  }
  onError(error: Http1ParseError): void {
    this.exchange?.onResponseError(error);
  }
}

export function codecOf(conn: PooledConnection): UpstreamCodec {
  let codec = conn.attachment as UpstreamCodec | undefined;
  if (codec === undefined) {
    codec = new UpstreamCodec();
    conn.attachment = codec;
  }
  return codec;
}
