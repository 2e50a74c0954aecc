import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { ReadTimeoutError } from '../src/errors.js';
import { readTimeout } from '../src/operators/readTimeout.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

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
});
