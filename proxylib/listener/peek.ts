// Reads the first bytes of a connection without consuming them: listener filters (tls_inspector) and
// codec detection (the HTTP/2 preface) decide from a prefix, then every byte read is put back with
// socket.unshift so whoever takes the socket next (TLS, a codec, tcp_proxy) reads from byte one.
import type { Socket } from 'node:net';
import type { CoarseClock } from './types.js';

export type PeekVerdict<T> = { done: true; value: T } | { done: false };

export type PeekOutcome<T> =
  | { kind: 'decided'; value: T }
  /** The peer closed (or reset) before a decision; `bytes` is what it sent. */
  | { kind: 'closed'; bytes: Buffer }
  | { kind: 'timeout' }
  /** More than maxBytes without a decision. */
  | { kind: 'too_large' };

/**
 * Feeds the bytes received so far (from the first) to `decide` after every read until it decides.
 * Bytes an earlier peek put back arrive again first. On a decision the socket is left paused with
 * everything unshifted.
 */
export function peekSocket<T>(
  socket: Socket,
  decide: (bytes: Buffer) => PeekVerdict<T>,
  limits: { maxBytes: number; timeoutMs: number; clock: CoarseClock },
): Promise<PeekOutcome<T>> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let finished = false;
    const timer = limits.clock.timeout(limits.timeoutMs, () => finish({ kind: 'timeout' }));
    const finish = (outcome: PeekOutcome<T>): void => {
      if (finished) return;
      finished = true;
      timer.cancel();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      // Everything read goes back, also on a timeout (continue_on_listener_filters_timeout goes on
      // with the connection); after 'end' unshift is not allowed, and nothing follows anyway.
      if (outcome.kind !== 'closed' && buffered.length > 0) socket.unshift(buffered);
      resolve(outcome);
    };
    const evaluate = (): void => {
      const verdict = decide(buffered);
      if (verdict.done) finish({ kind: 'decided', value: verdict.value });
      else if (buffered.length >= limits.maxBytes) finish({ kind: 'too_large' });
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      evaluate();
    };
    // No decision after EOF: the bytes could not be put back (unshift after 'end' throws), and a
    // prefix that needed more bytes will never get them.
    const onEnd = (): void => finish({ kind: 'closed', bytes: buffered });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** HTTP/2 prior knowledge (RFC 9113 §3.3): the client preface; any divergence → HTTP/1.x. */
export function detectH2Preface(bytes: Buffer): PeekVerdict<'http2' | 'http1'> {
  const n = Math.min(bytes.length, H2_PREFACE.length);
  if (bytes.compare(H2_PREFACE, 0, n, 0, n) !== 0) return { done: true, value: 'http1' };
  if (n === H2_PREFACE.length) return { done: true, value: 'http2' };
  return { done: false };
}

export const H2_PREFACE_LENGTH = H2_PREFACE.length;
