import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
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

  it('should refuse a timeout that is not a positive whole number of ms when built', () => {
    const settings$ = new TestScheduler(() => undefined).createHotObservable<Settings>('');
    assert.throws(() => requestTimeout('b', settings$, 0), /positive whole number/);
    assert.throws(() => requestTimeout('b', settings$, 1.5), /positive whole number/);
  });
});
