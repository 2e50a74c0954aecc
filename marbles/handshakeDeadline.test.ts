import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { HandshakeTimeoutError } from '../src/errors.js';
import { handshakeDeadline } from '../src/operators/handshakeDeadline.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

/** Settings with a short connectTimeout, in frames (1 frame = 1 ms inside run()). */
const ct = (connectTimeout: number): Settings => ({ ...DEFAULT_SETTINGS, connectTimeout });

describe('handshakeDeadline', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should mirror the source and drop the deadline once the first value is in', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = hot('    ----a------------b--|');
      const subs = '         ^-------------------!';
      const expected = '     ----a------------b--|';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should error connectTimeout after subscription for a never-emitting source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = cold('   -');
      const subs = '         ^-------!';
      const expected = '     --------#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, new HandshakeTimeoutError(8));
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should error and unsubscribe when the first value comes too late', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = cold('   ----------a--|');
      const subs = '         ^-------!';
      const expected = '     --------#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, new HandshakeTimeoutError(8));
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should count connectTimeout from subscription', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = hot('    ---------a---');
      const sub = '          ---^';
      const subs = '         ---^---------';
      const expected = '     ---------a---';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler)), sub).toBe(expected);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = cold('   |');
      const subs = '         (^!)';
      const expected = '     |';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should pass a completion before the first value through and cancel the deadline', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = cold('   ---|');
      const subs = '         ^--!';
      const expected = '     ---|';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should pass an error before the first value through', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const refused = new Error('wrong secret');
      const conn$ = cold('   --#', undefined, refused);
      const subs = '         ^-!';
      const expected = '     --#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, refused);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should pass many values and a later error through', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const settings$ = cold('s', { s: ct(8) });
      const reset = new Error('socket reset');
      const conn$ = cold('   -a-b-c--------d-#', undefined, reset);
      const expected = '     -a-b-c--------d-#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, reset);
    });
  });

  it('should cancel the deadline on early unsubscription', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const settings$ = cold('s', { s: ct(8) });
      const conn$ = cold('   -');
      const unsub = '        -----!';
      const subs = '         ^----!';
      const expected = '     ------';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler)), unsub).toBe(expected);
      expectSubscriptions(conn$.subscriptions).toBe(subs);
    });
  });

  it('should give a handshake the default 10 s', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const slow$ = cold('   9999ms a');
      const stuck$ = cold('  -');
      const expectedSlow = ' 9999ms a';
      const expectedStuck = '10s #';

      expectObservable(slow$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expectedSlow);
      expectObservable(stuck$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expectedStuck, undefined, new HandshakeTimeoutError(10000));
    });
  });

  it('should move the deadline to subscription + new connectTimeout when connectTimeout grows', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a---b----------', { a: ct(8), b: ct(12) });
      const conn$ = cold('   ----------a----');
      const expected = '     ----------a----';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected);
    });
  });

  it('should error at the new deadline, carrying the new connectTimeout', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a---b----------', { a: ct(8), b: ct(12) });
      const conn$ = cold('   -');
      const expected = '     ------------#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, new HandshakeTimeoutError(12));
    });
  });

  it('should error at once when connectTimeout shrinks below the time already waited', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a-----b--------', { a: ct(8), b: ct(3) });
      const conn$ = cold('   -');
      const expected = '     ------#';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected, undefined, new HandshakeTimeoutError(3));
    });
  });

  it('should ignore a connectTimeout change after the first value', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = hot('a-----b--------', { a: ct(8), b: ct(1) });
      const conn$ = cold('   --a------------');
      const expected = '     --a------------';

      expectObservable(conn$.pipe(handshakeDeadline(settings$, testScheduler))).toBe(expected);
    });
  });
});
