// Readers of the benchmarks' environment knobs, shared by bench/http and bench/kafka: a malformed
// value is a usage error naming the variable, never a silent default. Each bench passes its own
// usage-error class, so its entry point can tell a usage error (exit 2) from a failed run.

export type UsageErrorClass = new (message: string) => Error;

export function envFlagReaders(UsageError: UsageErrorClass) {
  /** A comma-separated list; unset or empty = `fallback`; duplicates dropped. */
  function readList<T extends string>(env: NodeJS.ProcessEnv, name: string, fallback: readonly T[]): string[] {
    const raw = env[name];
    if (raw === undefined || raw === '') return [...fallback];
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) throw new UsageError(`${name}=${raw}: expected a comma-separated list of ${fallback.join(', ')}`);
    return [...new Set(list)];
  }

  function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${name}: ${value} is not one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** An integer ≥ min (and ≤ max when given); unset or empty = `fallback`. */
  function readCount(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max?: number): number {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new UsageError(`${name}=${raw}: expected an integer ${max === undefined ? `≥ ${min}` : `in [${min}, ${max}]`}`);
    }
    return n;
  }

  /** NICE: the nice value of the measured processes (default -10). */
  function readNice(env: NodeJS.ProcessEnv): number {
    return readCount(env, 'NICE', -10, -20, 19);
  }

  return { readList, oneOf, readCount, readNice };
}
