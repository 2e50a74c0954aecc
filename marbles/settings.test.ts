import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ReadTimeoutError } from '../src/errors.js';
import { heartbeat } from '../src/operators/heartbeat.js';
import { readTimeout } from '../src/operators/readTimeout.js';
import { DEFAULT_SETTINGS, mergeSettings, type Settings } from '../src/settings.js';

/** Marble digits stand for the tick counts themselves. */
const ticks = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7 };

/** Settings in frames (1 frame = 1 ms inside run()), built the way updateSettings validates them. */
const fast = mergeSettings(DEFAULT_SETTINGS, { pingInterval: 3, joinDelay: 2, readTimeout: 8 });

describe('settings', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  /** One connection's clock: pings while its frames keep coming, dropped after readTimeout of silence. */
  function connection(frames$: Observable<string>, settings$: Observable<Settings>): Observable<number> {
    return frames$.pipe(readTimeout(settings$, testScheduler), heartbeat(settings$, testScheduler));
  }

  it('should ping every pingInterval and drop the peer readTimeout after its last frame when nothing changes', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a--------------------', { a: fast });
      const frames$ = hot('  -x------x------------');
      const expected = '     ---0--1--2--3--4#';

      expectObservable(connection(frames$, settings$)).toBe(expected, ticks, new ReadTimeoutError(8, 8));
    });
  });

  it('should carry one update to readTimeout and heartbeat of a running connection together', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a---------b----------', { a: fast, b: mergeSettings(fast, { pingInterval: 4, readTimeout: 12 }) });
      const frames$ = hot('  -x------x------------');
      const expected = '     ---0--1--2----3---4-#';

      expectObservable(connection(frames$, settings$)).toBe(expected, ticks, new ReadTimeoutError(12, 12));
    });
  });

  it('should drop a silent peer after 11 s with the defaults while pinging every 5 s', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a', { a: DEFAULT_SETTINGS });
      const frames$ = hot('  1s x');
      const expected = '     5s 0 4999ms 1 1999ms #';

      expectObservable(connection(frames$, settings$)).toBe(expected, ticks, new ReadTimeoutError(11000, 11000));
    });
  });

  it('should apply updateSettings({ pingInterval: 2000, readTimeout: 20000 }) 6 s in to the running connection', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const update = mergeSettings(DEFAULT_SETTINGS, { pingInterval: 2000, readTimeout: 20000 });
      const settings$ = hot('a 5999ms b', { a: DEFAULT_SETTINGS, b: update });
      const frames$ = hot('  1s x');
      const expected = '     5s 0 2999ms 1 1999ms 2 1999ms 3 1999ms 4 1999ms 5 1999ms 6 1999ms 7 999ms #';

      expectObservable(connection(frames$, settings$)).toBe(expected, ticks, new ReadTimeoutError(20000, 20000));
    });
  });
});
