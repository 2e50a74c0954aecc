import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { joinDelay, type Membership } from '../src/operators/joinDelay.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

/** Settings with a short joinDelay, in frames (1 frame = 1 ms inside run()). */
const jd = (delay: number): Settings => ({ ...DEFAULT_SETTINGS, joinDelay: delay });

/** t/f: the peer has / has no live authenticated connection. */
const online = { t: true, f: false };
/** j/l: join/leave. */
const membership: Record<'j' | 'l', Membership> = { j: 'join', l: 'leave' };

describe('joinDelay', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should join once the input has stayed true for joinDelay', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t-----------', online);
      const subs = '         ^------------';
      const expected = '     ------j------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should leave at once when the input turns false after a join', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t------f----', online);
      const expected = '     ------j-l----';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should neither join nor leave for a connection lost within joinDelay', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t--f--------', online);
      const expected = '     -------------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should restart the wait on true, false, true within joinDelay', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t-f-t--------', online);
      const expected = '     ----------j---';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should ignore repeated equal inputs', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t-t-t-t-f-f-f-', online);
      const expected = '     ------j--l-----';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should alternate join and leave over several connections', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t------f---t--f--t---------f-|', online);
      const expected = '     ------j-l--------------j----l-|';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should not leave without a join when the input starts false', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -f---f--------', online);
      const expected = '     --------------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should emit nothing for a never-emitting source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = cold(' -', online);
      const unsub = '        ----------!';
      const subs = '         ^---------!';
      const expected = '     ----------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler)), unsub).toBe(expected, membership);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = cold(' |', online);
      const subs = '         (^!)';
      const expected = '     |';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once and drop a pending join when the source completes while waiting', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t--|', online);
      const subs = '         ^---!';
      const expected = '     ----|';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should complete after a join without a synthetic leave', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t------|', online);
      const expected = '     ------j-|';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should pass an error through at once', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const boom = new Error('pipeline fault');
      const online$ = hot('  -t-#', online, boom);
      const subs = '         ^--!';
      const expected = '     ---#';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership, boom);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should cancel a pending join on early unsubscription', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: jd(5) });
      const online$ = hot('  -t----------', online);
      const unsub = '        ---!';
      const subs = '         ^--!';
      const expected = '     ---';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler)), unsub).toBe(expected, membership);
      expectSubscriptions(online$.subscriptions).toBe(subs);
    });
  });

  it('should join 500 ms after the connection is up, and ignore a 300 ms one, with the default joinDelay', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const online$ = hot('  - t 999ms f 99ms t 299ms f', online);
      const expected = '     - 500ms j 499ms l';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should wait for (time it turned true) + new joinDelay when joinDelay grows mid-wait', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a--b-----------', { a: jd(5), b: jd(8) });
      const online$ = hot('  -t-------------', online);
      const expected = '     ---------j-----';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should join at once when joinDelay shrinks below the time already waited', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a-----b--------', { a: jd(8), b: jd(3) });
      const online$ = hot('  -t-------------', online);
      const expected = '     ------j--------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should not join twice when joinDelay changes after the join', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a-------b-c----', { a: jd(5), b: jd(3), c: jd(9) });
      const online$ = hot('  -t-------------', online);
      const expected = '     ------j--------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should not leave when joinDelay changes while offline', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a----------b---', { a: jd(5), b: jd(3) });
      const online$ = hot('  -t------f------', online);
      const expected = '     ------j-l------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should wait for joinDelay to be known, then join at (time it turned true) + joinDelay', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('---a-----------', { a: jd(5) });
      const online$ = hot('  -t-------------', online);
      const expected = '     ------j--------';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership);
    });
  });

  it('should fail at once, dropping a pending join, when the settings fail', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('a--#', { a: jd(5) }, new Error('settings'));
      const online$ = hot('  -t-------------', online);
      const expected = '     ---#';

      expectObservable(online$.pipe(joinDelay(settings$, testScheduler))).toBe(expected, membership, new Error('settings'));
    });
  });
});
