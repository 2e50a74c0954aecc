import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { heartbeat } from '../src/operators/heartbeat.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

/** Settings with a short pingInterval, in frames (1 frame = 1 ms inside run()). */
const ping = (pingInterval: number): Settings => ({ ...DEFAULT_SETTINGS, pingInterval });

/** Marble digits stand for the tick counts themselves. */
const ticks = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6 };

describe('heartbeat', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should tick every pingInterval while the source is open, ignoring its values, and complete with it', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const frames$ = hot('  --a------b-abc---------|');
      const subs = '         ^----------------------!';
      const expected = '     ----0---1---2---3---4--|';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler))).toBe(expected, ticks);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should keep ticking for a never-ending silent source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const frames$ = cold(' -');
      const unsub = '        --------------------!';
      const subs = '         ^-------------------!';
      const expected = '     ----0---1---2---3---';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler)), unsub).toBe(expected, ticks);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once without a tick for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const frames$ = cold(' |');
      const subs = '         (^!)';
      const expected = '     |';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler))).toBe(expected, ticks);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should tick after a single value until the source completes, dropping the tick not yet due', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const frames$ = cold(' -a-------|');
      const subs = '         ^--------!';
      const expected = '     ----0---1|';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler))).toBe(expected, ticks);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should error with the source error and stop ticking', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const boom = new Error('socket reset');
      const frames$ = cold(' ------#', undefined, boom);
      const subs = '         ^-----!';
      const expected = '     ----0-#';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler))).toBe(expected, ticks, boom);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should stop ticking and release the source on early unsubscription', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ping(4) });
      const frames$ = hot('  -a--b--c--d--|');
      const unsub = '        ------!';
      const subs = '         ^-----!';
      const expected = '     ----0-';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler)), unsub).toBe(expected, ticks);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should tick every 5 s with the default pingInterval', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const frames$ = cold(' 16s |');
      const expected = '     5s 0 4999ms 1 4999ms 2 999ms |';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler))).toBe(expected, ticks);
    });
  });

  it('should restart the period from a pingInterval change, with the counter still increasing', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a-----b--------------', { a: ping(4), b: ping(3) });
      const frames$ = cold(' ---------------------');
      const unsub = '        ---------------------!';
      const expected = '     ----0----1--2--3--4--';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler)), unsub).toBe(expected, ticks);
    });
  });

  it('should take a longer pingInterval from the moment of the change', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a----b----------------', { a: ping(2), b: ping(6) });
      const frames$ = cold(' ---------------------');
      const unsub = '        ---------------------!';
      const expected = '     --0-1------2-----3---';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler)), unsub).toBe(expected, ticks);
    });
  });

  it('should keep the period when another setting changes', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a-----b---------', { a: ping(4), b: { ...ping(4), readTimeout: 9 } });
      const frames$ = cold(' ----------------');
      const unsub = '        ---------------!';
      const expected = '     ----0---1---2--';

      expectObservable(frames$.pipe(heartbeat(settings$, testScheduler)), unsub).toBe(expected, ticks);
    });
  });
});
