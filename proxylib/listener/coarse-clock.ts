// One interval drives every per-connection timeout of the proxy (idle, header, drain, route), as
// undici's lib/util/timers.js does: a keep-alive connection refreshes its idle timer on every chunk,
// and re-arming a native setTimeout per chunk costs more than the chunk's parsing. Here a refresh is
// one field write; the tick scans the live timers. Precision is one tick, which is fine for timeouts
// measured in seconds. The interval runs only while timers exist and is unref'd, so an idle proxy
// (or a test) never stays alive because of it.
import type { CoarseClock, CoarseTimer } from './types.js';

class Timer implements CoarseTimer {
  deadline: number;
  constructor(
    private readonly clock: TickingClock,
    private readonly ms: number,
    readonly onTimeout: () => void,
  ) {
    this.deadline = clock.now() + ms;
  }
  refresh(): void {
    this.deadline = this.clock.now() + this.ms;
  }
  cancel(): void {
    this.clock.remove(this);
  }
}

const NEVER: CoarseTimer = { refresh() {}, cancel() {} };

class TickingClock implements CoarseClock {
  private readonly timers = new Set<Timer>();
  private interval: NodeJS.Timeout | undefined;
  private current = performance.now();

  constructor(readonly tickMs: number) {}

  now(): number {
    // Between ticks (or with no interval running) the cached value may be stale; a timer armed while
    // the clock is idle must not start from an old time.
    if (this.interval === undefined) this.current = performance.now();
    return this.current;
  }

  timeout(ms: number, onTimeout: () => void): CoarseTimer {
    if (!(ms > 0) || !Number.isFinite(ms)) return NEVER;
    if (this.interval === undefined) {
      this.current = performance.now();
      this.interval = setInterval(() => this.tick(), this.tickMs);
      this.interval.unref();
    }
    const timer = new Timer(this, ms, onTimeout);
    this.timers.add(timer);
    return timer;
  }

  remove(timer: Timer): void {
    this.timers.delete(timer);
    if (this.timers.size === 0 && this.interval !== undefined) {
      clearInterval(this.interval);
      this.interval = undefined;
    }
  }

  private tick(): void {
    this.current = performance.now();
    const now = this.current;
    for (const timer of this.timers) {
      if (timer.deadline > now) continue;
      this.remove(timer);
      try {
        timer.onTimeout();
      } catch (err) {
        // A throwing callback must not stop the other timers of this tick; surface it as Node would.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/** A clock with its own interval (tests use a short tick; the proxy uses `coarseClock`). */
export function createCoarseClock(tickMs: number): CoarseClock {
  if (!(tickMs > 0)) throw new RangeError(`tickMs must be positive, got ${tickMs}`);
  return new TickingClock(tickMs);
}

/** The process-wide clock: 100 ms ticks, so a timeout fires at most 100 ms late. */
export const coarseClock: CoarseClock = createCoarseClock(100);
