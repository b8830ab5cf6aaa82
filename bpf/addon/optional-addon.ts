// Loader shared by the small native modules without libbpf (meshd_reuseport.node,
// meshd_transparent.node): each is loaded on first use from build/Release/, and callers can ask
// whether it was built before using it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface OptionalAddon<T> {
  /** Whether the module was built (`make build`). */
  available(): boolean;
  /** The module; throws a plain Error naming `make build` when it was not built. */
  require(): T;
}

export function optionalAddon<T>(fileName: string): OptionalAddon<T> {
  const path = fileURLToPath(new URL(`../../../bpf/addon/build/Release/${fileName}`, import.meta.url));
  let addon: T | null | undefined;
  const load = (): T | null => {
    if (addon === undefined) addon = existsSync(path) ? (createRequire(import.meta.url)(path) as T) : null;
    return addon;
  };
  return {
    available: () => load() !== null,
    require: () => {
      const a = load();
      if (a === null) throw new Error(`${fileName} is missing at ${path}: run make build`);
      return a;
    },
  };
}
