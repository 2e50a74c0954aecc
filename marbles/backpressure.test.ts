import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { backpressure } from '../src/operators/backpressure.js';

const v = { t: true, f: false };

describe('backpressure', () => {
  let testScheduler: TestScheduler;
  /** The unsent bytes the probe reports; specs change it on the virtual clock. */
  let queued: number;
  const probe = (): number => queued;
  const at = (frame: number, bytes: number): void => {
    testScheduler.schedule(() => (queued = bytes), frame);
  };

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
    queued = 0;
  });

  it('should say writable at once, and stay so while nothing goes over the high-water mark', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const over$ = hot('  -------');
      const expected = '   t------';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 2, scheduler: testScheduler }))).toBe(expected, v);
    });
  });

  it('should close the latch on a notification and open it at the first poll at or below lowWater', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 100;
      at(6, 5); //                            drained by frame 6
      const over$ = hot('  --x---------');
      const expected = '   t-f---t-----'; // polls at 4 (100) and 6 (5 <= 10)
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 2, scheduler: testScheduler }))).toBe(expected, v);
    });
  });

  it('should start closed for a subscriber that arrives while the buffers are already full, and open once drained', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 100;
      at(5, 5); //                            drained by frame 5
      const over$ = hot('  ----------');
      const expected = '   f-----t---'; // polls at 2 (100), 4 (100), 6 (5 <= 10)
      const pressed = (): boolean => queued > 50;
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 2, scheduler: testScheduler, pressedAtStart: pressed }))).toBe(expected, v);
    });
  });

  it('should start open when pressedAtStart says the buffers have room', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 20;
      const over$ = hot('  ----');
      const expected = '   t---';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 2, scheduler: testScheduler, pressedAtStart: () => queued > 50 }))).toBe(expected, v);
    });
  });

  it('should ignore notifications while already under pressure, and close again on a later one', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 100;
      at(6, 5);
      at(9, 100);
      at(13, 0);
      const over$ = hot('  --x-x-x--x-----');
      const expected = '   t-f---t--f---t-';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 2, scheduler: testScheduler }))).toBe(expected, v);
    });
  });

  it('should keep polling while the buffers stay full', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 100;
      const over$ = hot('  x----------');
      const unsub = '      ----------!';
      const expected = '   (tf)-------';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 1, scheduler: testScheduler })), unsub).toBe(expected, v);
    });
  });

  it('should complete with the source once no poll is running, and pass errors through', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      queued = 100;
      at(4, 0);
      const over$ = hot('  -x-|');
      const expected = '   tf---(t|)';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 4, scheduler: testScheduler }))).toBe(expected, v);
      const failing$ = cold('--#');
      expectObservable(failing$.pipe(backpressure(probe, { lowWater: 10, scheduler: testScheduler }))).toBe('t-#', v);
    });
  });

  it('should unsubscribe its poll when unsubscribed early', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      queued = 100;
      const over$ = hot('  -x------');
      const unsub = '      ----!';
      const expected = '   tf---';
      expectObservable(over$.pipe(backpressure(probe, { lowWater: 10, pollInterval: 1, scheduler: testScheduler })), unsub).toBe(expected, v);
    });
  });

  it('should refuse a bad lowWater or pollInterval when built', () => {
    assert.throws(() => backpressure(probe, { lowWater: -1 }), /lowWater/);
    assert.throws(() => backpressure(probe, { lowWater: 1, pollInterval: 0 }), /pollInterval/);
  });
});
