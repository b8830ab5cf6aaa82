// The logger the cache and server write to: pino-shaped (object first, message second), injected by
// the agent (`log.child({ component: 'xds' })`); lower layers never import a global logger.

export interface XdsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const NOOP_LOGGER: XdsLogger = { debug: noop, info: noop, warn: noop, error: noop };
