// Collecting problems and warnings while compiling one resource. Every compile step reports into
// one sink with the proto field path from the resource root, so the xDS client's NACK lists every
// problem at once (grpc-js-xds' validators do the same) instead of stopping at the first.
import type { Duration } from '@bufbuild/protobuf/wkt';
import type { Compiled, ConfigProblem } from './types.js';

export const NOT_IMPLEMENTED = "is not implemented by meshd's built-in proxy";

export class Problems {
  readonly items: ConfigProblem[] = [];
  readonly warnings: string[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }

  notImplemented(path: string, detail?: string): void {
    this.add(path, detail ? `${NOT_IMPLEMENTED} (${detail})` : NOT_IMPLEMENTED);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  /** Takes a sub-compile's result: its value, or undefined after recording its problems. */
  take<T>(result: Compiled<T>): T | undefined {
    if (result.ok) {
      this.warnings.push(...result.warnings);
      return result.value;
    }
    this.items.push(...result.problems);
    return undefined;
  }

  get ok(): boolean {
    return this.items.length === 0;
  }

  /** The compile result: the value when nothing went wrong. */
  result<T>(value: () => T): Compiled<T> {
    if (this.items.length > 0) return { ok: false, problems: this.items };
    return { ok: true, value: value(), warnings: this.warnings };
  }
}

/** `base` + `.field` (or `[i]`), with no leading dot at the root. */
export function at(base: string, rel: string): string {
  if (base === '') return rel;
  return rel.startsWith('[') ? `${base}${rel}` : `${base}.${rel}`;
}

/** A Duration in whole milliseconds (nanos rounded down, as Envoy's DurationUtil::durationToMilliseconds). */
export function durationMs(d: Duration | undefined, fallback: number): number {
  if (d === undefined) return fallback;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000);
}

/** As durationMs, with a problem for negative or absurd values (Envoy's PGV rules reject negatives). */
export function checkedDurationMs(p: Problems, path: string, d: Duration | undefined, fallback: number): number {
  if (d === undefined) return fallback;
  if (d.seconds < 0n || d.nanos < 0) {
    p.add(path, 'must not be negative');
    return fallback;
  }
  // Node timers hold at most 2^31-1 ms (~24.8 days); longer would fire at once.
  const ms = durationMs(d, fallback);
  if (ms > 2_147_483_647) {
    p.add(path, 'is longer than the proxy can time (about 24.8 days)');
    return fallback;
  }
  return ms;
}
