import { nativeAddon } from './native.js';

/** Where libbpf's output goes: its debug, info and warning levels. A pino logger fits as is. */
export interface BpfLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Sends libbpf's output (libbpf_set_print) to `logger`, one call per line, for every libbpf call
 * not made on behalf of an object opened with its own `logger`. `undefined` makes libbpf silent
 * again (the default). A failed load still reports libbpf's warnings in the error message.
 */
export function setLibbpfLogger(logger: BpfLogger | undefined): void {
  nativeAddon().setLibbpfLogger(logger);
}
