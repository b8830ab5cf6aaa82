import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCoarseClock } from './coarse-clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('coarse clock', () => {
  test('a timer fires once, no earlier than its duration and within one tick after it', async () => {
    const clock = createCoarseClock(10);
    const started = performance.now();
    let fired = 0;
    let at = 0;
    clock.timeout(50, () => {
      fired++;
      at = performance.now() - started;
    });
    await sleep(150);
    assert.equal(fired, 1);
    assert.ok(at >= 49 && at < 100, `fired after ${at} ms`);
  });

  test('refresh pushes the deadline and cancel stops the timer', async () => {
    const clock = createCoarseClock(10);
    let refreshedFired = false;
    let cancelledFired = false;
    const refreshed = clock.timeout(60, () => (refreshedFired = true));
    const cancelled = clock.timeout(30, () => (cancelledFired = true));
    cancelled.cancel();
    cancelled.cancel();
    for (let i = 0; i < 5; i++) {
      await sleep(25);
      refreshed.refresh();
    }
    assert.equal(refreshedFired, false, 'kept alive by refreshes');
    await sleep(120);
    assert.equal(refreshedFired, true);
    assert.equal(cancelledFired, false);
  });

  test('a zero or negative duration never fires', async () => {
    const clock = createCoarseClock(10);
    let fired = false;
    clock.timeout(0, () => (fired = true)).refresh();
    clock.timeout(-5, () => (fired = true));
    await sleep(40);
    assert.equal(fired, false);
  });
});
