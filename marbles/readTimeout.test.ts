import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { ReadTimeoutError } from '../src/errors.js';
import { readTimeout } from '../src/operators/readTimeout.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';
import type { SchedulerLike } from 'rxjs';

/** Settings with a short readTimeout, in frames (1 frame = 1 ms inside run()). */
const rt = (readTimeout: number): Settings => ({ ...DEFAULT_SETTINGS, readTimeout });

describe('readTimeout', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should mirror values and completion while no silence reaches readTimeout', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -a--b---c-|');
      const subs = '         ^---------!';
      const expected = '     -a--b---c-|';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should error when a never-emitting source stays silent for readTimeout from subscription', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = cold(' -');
      const subs = '         ^----!';
      const expected = '     -----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 5));
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should count the silence from subscription, not from the creation of the source', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -------------');
      const sub = '          ---^';
      const subs = '         ---^----!';
      const expected = '     --------#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler)), sub).toBe(expected, undefined, new ReadTimeoutError(5, 5));
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = cold(' |');
      const subs = '         (^!)';
      const expected = '     |';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should error readTimeout after a single value', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = cold(' --a--------');
      const subs = '         ^------!';
      const expected = '     --a----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 5));
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should reset the deadline on every value and error readTimeout after the last one', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -a-b-c----d---------');
      const subs = '         ^--------------!';
      const expected = '     -a-b-c----d----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 5));
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should pass a source error through and cancel the deadline', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const boom = new Error('socket reset');
      const frames$ = cold(' --a-#', undefined, boom);
      const subs = '         ^---!';
      const expected = '     --a-#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, boom);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should cancel the deadline on early unsubscription', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = cold(' --a--------');
      const subs = '         ^--!';
      const unsub = '        ---!';
      const expected = '     --a';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler)), unsub).toBe(expected);
      expectSubscriptions(frames$.subscriptions).toBe(subs);
    });
  });

  it('should drop a peer silent for the default 11 s after its last ping answer', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const frames$ = cold(' 5s p 4999ms p ------------------');
      const expected = '     5s p 4999ms p 10999ms #';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(11000, 11000));
    });
  });

  it('should extend a running wait to lastValue + new readTimeout when readTimeout grows', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a--b-----------', { a: rt(5), b: rt(8) });
      const frames$ = hot('  -x-------------');
      const expected = '     -x-------#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(8, 8));
    });
  });

  it('should fire at once when readTimeout shrinks below the silence so far', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a-----b--------', { a: rt(8), b: rt(3) });
      const frames$ = hot('  -x-------------');
      const expected = '     -x----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 3));
    });
  });

  it('should move a future deadline earlier when readTimeout shrinks but is not yet past', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a--b-----------', { a: rt(8), b: rt(5) });
      const frames$ = hot('  -x-------------');
      const expected = '     -x----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 5));
    });
  });

  it('should keep the deadline when another setting changes', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a---b----------', { a: rt(5), b: { ...rt(5), pingInterval: 1 } });
      const frames$ = hot('  -x-------------');
      const expected = '     -x----#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(5, 5));
    });
  });

  it('should use the new readTimeout for the waits after a change', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a-b------------------', { a: rt(5), b: rt(3) });
      const frames$ = hot('  -x-y--z--------------');
      const expected = '     -x-y--z--#';

      expectObservable(frames$.pipe(readTimeout(settings$, testScheduler))).toBe(expected, undefined, new ReadTimeoutError(3, 3));
    });
  });

  describe('when this process was blocked', () => {
    /**
     * The test clock, jumping `jump` ms ahead from virtual frame `at` on:
     * timers still fire on virtual time, but now() says they fired late,
     * as after a GC pause or a blocked event loop.
     */
    function blockedFrom(at: number, jump: number): SchedulerLike {
      return {
        now: () => testScheduler.now() + (testScheduler.now() >= at ? jump : 0),
        schedule: testScheduler.schedule.bind(testScheduler),
      };
    }

    it('should grant one grace to a late deadline, so a frame read just after the block saves the peer', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const settings$ = cold('s', { s: rt(10) });
        // blocked for 8 ms from frame 5: the deadline fires at frame 10 but the
        // clock says 18; b, waiting in the socket buffer, is read during the
        // 1 ms grace, and the watch starts over from b
        const frames$ = hot('  -a---------b-----------');
        const expected = '     -a---------b---------#';

        expectObservable(frames$.pipe(readTimeout(settings$, blockedFrom(5, 8)))).toBe(expected, undefined, new ReadTimeoutError(10, 10));
      });
    });

    it('should still fail after the grace when nothing was waiting to be read', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const settings$ = cold('s', { s: rt(10) });
        const frames$ = hot('  -a----------------');
        const expected = '     -a---------#';

        expectObservable(frames$.pipe(readTimeout(settings$, blockedFrom(5, 8)))).toBe(expected, undefined, new ReadTimeoutError(18, 10));
      });
    });

    it('should not grant a grace to a deadline that fires on time', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const settings$ = cold('s', { s: rt(10) });
        // the clock jumps only after the deadline: no lateness, no grace
        const frames$ = hot('  -a-----------b----');
        const expected = '     -a---------#';

        expectObservable(frames$.pipe(readTimeout(settings$, blockedFrom(20, 8)))).toBe(expected, undefined, new ReadTimeoutError(10, 10));
      });
    });
  });
});
