import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Deadlines, type Deadline } from '../src/operators/deadlines.js';
import { RequestError } from '../src/errors.js';
import { requestTimeout } from '../src/operators/requestTimeout.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

const s = (requestTimeout: number): Settings => ({ ...DEFAULT_SETTINGS, requestTimeout });

describe('requestTimeout', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });
  const timeoutError = (ms: number): RequestError => new RequestError('RXC_ERR_REQUEST_TIMEOUT', 'b', `b did not reply within ${ms} ms`);

  it('should pass a reply that comes in time, and complete with it', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const settings$ = hot('s', { s: s(4) });
      const reply$ = cold('  --r|');
      const sub = '         ^--!';
      expectObservable(reply$.pipe(requestTimeout('b', settings$, undefined, testScheduler))).toBe('--r|');
      expectSubscriptions(reply$.subscriptions).toBe(sub);
    });
  });

  it('should fail with RXC_ERR_REQUEST_TIMEOUT when no reply came within requestTimeout, and unsubscribe the request', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const settings$ = hot('s', { s: s(4) });
      const reply$ = cold('  ------r|');
      const sub = '         ^---!';
      expectObservable(reply$.pipe(requestTimeout('b', settings$, undefined, testScheduler))).toBe('----#', undefined, timeoutError(4));
      expectSubscriptions(reply$.subscriptions).toBe(sub);
    });
  });

  it('should draw the contract default: 5 s', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const settings$ = hot('s', { s: DEFAULT_SETTINGS });
      const reply$ = cold('  -');
      expectObservable(reply$.pipe(requestTimeout('b', settings$, undefined, testScheduler))).toBe('5s #', undefined, timeoutError(5000));
    });
  });

  it("should take the call's own timeout over the setting, and ignore setting changes then", () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const settings$ = hot('s-t', { s: s(10), t: s(1) });
      const reply$ = cold('  -');
      expectObservable(reply$.pipe(requestTimeout('b', settings$, 3, testScheduler))).toBe('---#', undefined, timeoutError(3));
    });
  });

  it('should move the deadline when requestTimeout changes mid-wait, failing at once if it is already past', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const longer$ = hot('s-t', { s: s(4), t: s(6) });
      expectObservable(cold('-').pipe(requestTimeout('b', longer$, undefined, testScheduler))).toBe('------#', undefined, timeoutError(6));
    });
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const shorter$ = hot('s--t', { s: s(8), t: s(2) });
      expectObservable(cold('-').pipe(requestTimeout('b', shorter$, undefined, testScheduler))).toBe('---#', undefined, timeoutError(2));
    });
  });

  it('should pass an error or completion of the request through at once', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const settings$ = hot('s', { s: s(4) });
      expectObservable(cold('-#', undefined, new Error('left')).pipe(requestTimeout('b', settings$, undefined, testScheduler))).toBe('-#', undefined, new Error('left'));
      expectObservable(cold('--|').pipe(requestTimeout('b', settings$, undefined, testScheduler))).toBe('--|');
    });
  });

  it('should cancel the deadline when unsubscribed early', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const settings$ = hot('s', { s: s(4) });
      const reply$ = cold('  -----');
      expectObservable(reply$.pipe(requestTimeout('b', settings$, undefined, testScheduler)), '^-!').toBe('---');
      expectSubscriptions(reply$.subscriptions).toBe('^-!');
    });
  });

  /** The test scheduler, counting the actions scheduled on it. */
  const counting = (): SchedulerLike & { scheduled: number } => {
    const wrapper = {
      scheduled: 0,
      now: () => testScheduler.now(),
      schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delay?: number, state?: S): Subscription {
        wrapper.scheduled++;
        return testScheduler.schedule(work, delay, state);
      },
    };
    return wrapper;
  };

  it('should serve requests sharing one queue of deadlines: each fails at its own deadline, answered ones pass, a cancelled one never fires', () => {
    const scheduler = counting();
    const queue = new Deadlines(scheduler);
    testScheduler.run(({ cold, expectObservable }) => {
      // the settings as a manager's: the current value at subscription (cold), then a change 2 frames later
      const settings$ = cold('s-t', { s: s(4), t: s(8) });
      // a: answered at 2 (its deadline at 4 is dropped); b: subscribed at 1, fails at 5;
      // c: its own timeout of 1, subscribed at 2, fails at 3, before the armed deadline;
      // d: subscribed at 1 with a deadline at 5, moved at 3 by the change to 1 + 8: the old one never fires
      expectObservable(cold('--r|').pipe(requestTimeout('b', settings$, undefined, scheduler, queue))).toBe('--r|');
      expectObservable(cold('-').pipe(requestTimeout('b', settings$, 4, scheduler, queue)), '-^').toBe('-----#', undefined, timeoutError(4));
      expectObservable(cold('-').pipe(requestTimeout('b', settings$, 1, scheduler, queue)), '--^').toBe('---#', undefined, timeoutError(1));
      expectObservable(cold('-').pipe(requestTimeout('b', settings$, undefined, scheduler, queue)), '-^').toBe('---------#', undefined, timeoutError(8));
    });
    assert.equal(queue.size, 0, 'nothing left waiting');
  });

  it('should arm one scheduled action for many requests answered in time, not one timer each', () => {
    const scheduler = counting();
    const queue = new Deadlines(scheduler);
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const settings$ = hot('s', { s: s(10) });
      for (let i = 0; i < 20; i++) expectObservable(cold('-r|').pipe(requestTimeout('b', settings$, undefined, scheduler, queue))).toBe('-r|');
    });
    assert.equal(scheduler.scheduled, 1, 'one action for twenty deadlines');
    assert.equal(queue.size, 0);
  });

  it('should never fire a deadline that an earlier one of the same moment cancelled, and fire the rest when one throws', () => {
    const queue = new Deadlines(testScheduler);
    const fired: string[] = [];
    queue.add(5, () => {
      fired.push('first');
      second.cancel();
    });
    const second: Deadline = queue.add(5, () => fired.push('second'));
    queue.add(5, () => {
      fired.push('third');
      throw new Error('a callback failed');
    });
    queue.add(5, () => fired.push('fourth'));
    assert.throws(() => testScheduler.flush(), /a callback failed/, 'the failure is not swallowed');
    assert.deepEqual(fired, ['first', 'third', 'fourth'], 'the cancelled one never fires; the one after the failure does');
    assert.equal(queue.size, 0);
  });

  it('should refuse a timeout that is not a positive whole number of ms when built', () => {
    const settings$ = new TestScheduler(() => undefined).createHotObservable<Settings>('');
    assert.throws(() => requestTimeout('b', settings$, 0), /positive whole number/);
    assert.throws(() => requestTimeout('b', settings$, 1.5), /positive whole number/);
  });
});
