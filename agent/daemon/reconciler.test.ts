import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Reconciler, type ReconcileScope } from './reconciler.js';

const logger = pino({ level: 'silent' });

test('changes close together are reconciled in one run, and every caller waits for that run', async () => {
  const runs: ReconcileScope[] = [];
  const r = new Reconciler({ debounceMs: 20, logger, run: (s) => void runs.push(s) });
  r.resume();
  const waits = [r.request({ endpoints: ['default/a'] }), r.request({ endpoints: ['default/b'] }), r.request({ selectorKeys: ['k'] })];
  await Promise.all(waits);
  assert.equal(runs.length, 1);
  assert.deepEqual([...runs[0]!.endpoints], ['default/a', 'default/b']);
  assert.deepEqual([...runs[0]!.selectorKeys], ['k']);
  assert.equal(runs[0]!.all, false);
  assert.equal(r.stats.runs, 1);
  await r.close();
});

test('runs never overlap: a change during a run gets a run of its own afterwards', async () => {
  let active = 0;
  let maxActive = 0;
  const scopes: ReconcileScope[] = [];
  const r = new Reconciler({
    debounceMs: 1,
    logger,
    run: async (s) => {
      active++;
      maxActive = Math.max(maxActive, active);
      scopes.push(s);
      await sleep(30);
      active--;
    },
  });
  r.resume();
  const first = r.request({ all: true, policies: true });
  await sleep(10); // the first run is in progress
  const second = r.request({ endpoints: ['default/x'] });
  await Promise.all([first, second]);
  assert.equal(maxActive, 1);
  assert.equal(scopes.length, 2);
  assert.equal(scopes[0]!.all, true);
  assert.deepEqual([...scopes[1]!.endpoints], ['default/x']);
  await r.close();
});

test('while paused, changes only queue; resume runs them; a failed run rejects its callers and the next run still happens', async () => {
  let fail = true;
  let runs = 0;
  const r = new Reconciler({
    debounceMs: 1,
    logger,
    run: () => {
      runs++;
      if (fail) throw new Error('boom');
    },
  });
  const queued = r.request({ all: true });
  await sleep(20);
  assert.equal(runs, 0, 'nothing runs before resume');
  r.resume();
  await assert.rejects(queued, /boom/);
  assert.equal(r.stats.failures, 1);
  fail = false;
  await r.request({});
  assert.equal(runs, 2);
  await r.close();
});

test('selector keys handled elsewhere are taken out of the queue', async () => {
  const scopes: ReconcileScope[] = [];
  const r = new Reconciler({ debounceMs: 10, logger, run: (s) => void scopes.push(s) });
  r.resume();
  const p = r.request({ selectorKeys: ['a', 'b'] });
  r.forgetSelectorKeys(['a']);
  await p;
  assert.deepEqual([...scopes[0]!.selectorKeys], ['b']);
  await r.close();
});
