import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { reconnectBackoff } from '../src/operators/reconnectBackoff.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

/** Settings with a short back-off, in frames (1 frame = 1 ms inside run()). */
const backoff = (connectInterval: number, maxConnectInterval: number): Settings => ({
  ...DEFAULT_SETTINGS,
  connectInterval,
  maxConnectInterval,
});

/** Jitter pinned to its top: every wait is the full ceiling. */
const noJitter = () => 0.999999;
/** Jitter pinned to its middle: every wait is 87.5 % of the ceiling. */
const halfJitter = () => 0.5;
/** Jitter pinned to its bottom: every wait is 75 % of the ceiling. */
const fullJitter = () => 0;

describe('reconnectBackoff', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should subscribe at once and mirror the values of a living connection', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   -a--b--------');
      const unsub = '        -----------!';
      const subs = '         ^----------!';
      const expected = '     -a--b-------';

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should subscribe once and emit nothing for a never-ending silent source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   -');
      const unsub = '        ----------!';
      const subs = '         ^---------!';
      const expected = '     ----------';

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should wait connectInterval after an error, then double each wait up to maxConnectInterval', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a#');
      const unsub = '        ------------------------------!';
      const expected = '     a--a----a--------a--------a---';
      const subs = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!',
        '                    -----------------^!',
        '                    --------------------------^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should treat completion like an error', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a|');
      const unsub = '        ------------------------------!';
      const expected = '     a--a----a--------a--------a---';
      const subs = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!',
        '                    -----------------^!',
        '                    --------------------------^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should keep resubscribing an empty source with back-off', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   |');
      const unsub = '        -------------------------!';
      const expected = '     -------------------------';
      const subs = [
        '                    (^!)',
        '                    --(^!)',
        '                    ------(^!)',
        '                    --------------(^!)',
        '                    ----------------------(^!)',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should cancel a pending wait on early unsubscription', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a#');
      const unsub = '        ------!';
      const expected = '     a--a--';
      const subs = [
        '                    ^!',
        '                    ---^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should unsubscribe a living connection on early unsubscription', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a---#');
      const unsub = '        --------!';
      const expected = '     a-----a-';
      const subs = [
        '                    ^---!',
        '                    ------^-!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should go back to connectInterval after reset$ (the peer joined)', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a---#');
      const reset$ = hot('   ----------------r-------------');
      const unsub = '        ------------------------------!';
      const expected = '     a-----a-------a-----a-------a-';
      const subs = [
        '                    ^---!',
        '                    ------^---!',
        '                    --------------^---!', // joined here: the next wait is 2 again, not 8
        '                    --------------------^---!',
        '                    ----------------------------^-!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { reset$, scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should not shorten a pending wait on reset$, only the next ones', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a#');
      const reset$ = hot('   -----r--------------');
      const unsub = '        --------------------!';
      const expected = '     a--a----a--a----a---';
      const subs = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!',
        '                    -----------^!',
        '                    ----------------^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { reset$, scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should take up to 25 % off each wait as jitter', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(4, 16) });
      const dial$ = cold('   a#');
      const unsub = '        ------------------------------!';
      const expected = '     a---a------a------------a-----';
      const subs = [
        '                    ^!', //                  waits 3, 6, 12, 12 instead of 4, 8, 16, 16
        '                    ----^!',
        '                    -----------^!',
        '                    ------------------------^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: fullJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should double from 2 s to the 30 s cap with the default settings', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const dial$ = cold('   #');
      const unsub = '        100s !';
      const subs = [
        '                    (^!)',
        '                    2s (^!)',
        '                    6s (^!)',
        '                    14s (^!)',
        '                    30s (^!)',
        '                    60s (^!)',
        '                    90s (^!)',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe('');
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should wait 1750 ms, 3.5 s, 7 s, 14 s, then 26.25 s with the defaults and random() = 0.5', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const dial$ = cold('   #');
      const unsub = '        100s !';
      const subs = [
        '                    (^!)',
        '                    1750ms (^!)',
        '                    5250ms (^!)',
        '                    12250ms (^!)',
        '                    26250ms (^!)',
        '                    52500ms (^!)',
        '                    78750ms (^!)',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: halfJitter })), unsub).toBe('');
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should apply a settings change mid-wait from the next wait on', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = hot('a-----b----------', { a: backoff(2, 8), b: backoff(1, 1) });
      const dial$ = cold('   a#');
      const unsub = '        -----------------!';
      const expected = '     a--a----a-a-a-a-a';
      const subs = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!', // this wait started under a: 4, not cut short by b
        '                    ----------^!', // the waits from here on use b: 1
        '                    ------------^!',
        '                    --------------^!',
        '                    ----------------^!',
      ];

      expectObservable(dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter })), unsub).toBe(expected);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });

  it('should not let two peers delay each other', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = hot('s-----------------------------', { s: backoff(2, 8) });
      const peer1$ = cold('  a#');
      const peer2$ = cold('  b------#');
      const unsub = '        ------------------------------!';
      const expected1 = '    a--a----a--------a--------a---';
      const expected2 = '    b--------b----------b---------';
      const subs1 = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!',
        '                    -----------------^!',
        '                    --------------------------^!',
      ];
      const subs2 = [
        '                    ^------!', //  peer1 has failed 3 times by now; peer2 still waits 2
        '                    ---------^------!',
        '                    --------------------^------!',
      ];

      const options = { scheduler: testScheduler, random: noJitter };
      expectObservable(peer1$.pipe(reconnectBackoff(settings$, options)), unsub).toBe(expected1);
      expectObservable(peer2$.pipe(reconnectBackoff(settings$, options)), unsub).toBe(expected2);
      expectSubscriptions(peer1$.subscriptions).toBe(subs1);
      expectSubscriptions(peer2$.subscriptions).toBe(subs2);
    });
  });

  it('should give each subscriber its own attempt count', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: backoff(2, 8) });
      const dial$ = cold('   a#');
      const first = '        ^-----------------------!';
      const second = '       ----------^-------------!';
      const expected1 = '    a--a----a--------a------';
      const expected2 = '    ----------a--a----a-----';
      const subs = [
        '                    ^!',
        '                    ---^!',
        '                    --------^!',
        '                    ----------^!', // the second subscriber starts at attempt 0
        '                    -------------^!',
        '                    -----------------^!',
        '                    ------------------^!',
      ];

      const redial$ = dial$.pipe(reconnectBackoff(settings$, { scheduler: testScheduler, random: noJitter }));
      expectObservable(redial$, first).toBe(expected1);
      expectObservable(redial$, second).toBe(expected2);
      expectSubscriptions(dial$.subscriptions).toBe(subs);
    });
  });
});
