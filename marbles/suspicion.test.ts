import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { suspicion } from '../src/operators/suspicion.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

/** Settings with a short readTimeout, in frames (1 frame = 1 ms inside run()). */
const rt = (readTimeout: number): Settings => ({ ...DEFAULT_SETTINGS, readTimeout });
const marks = { t: true, f: false };

describe('suspicion', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should emit nothing while frames keep coming, and complete with the source', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -a--b---c---d-|');
      const expected = '     --------------|';

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler))).toBe(expected, marks);
    });
  });

  it('should suspect after readTimeout of silence, and clear at the next frame', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -a--b----------c--|');
      const expected = '     ---------t-----f--|';

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler))).toBe(expected, marks);
    });
  });

  it('should suspect a source that never emits readTimeout after subscription, once', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const settings$ = cold('s', { s: rt(4) });
      const frames$ = cold(' -');
      const expected = '     ----t';

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler)), '^--------!').toBe(expected, marks);
    });
  });

  it('should suspect again after a second silence', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: rt(3) });
      const frames$ = hot('  -a------b-------|');
      const expected = '     ----t---f--t----|';

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler))).toBe(expected, marks);
    });
  });

  it('should move the pending deadline when readTimeout changes', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const settings$ = hot('s---l', { s: rt(6), l: rt(2) });
      const frames$ = hot('  -a---------|');
      // from a (frame 1): 6 frames would be frame 7; the change at frame 4 makes it 1 + 2 = 3, already past: at once
      const expected = '     ----t------|';

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler))).toBe(expected, marks);
    });
  });

  it('should pass errors through at once', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: rt(5) });
      const frames$ = hot('  -a-#');

      expectObservable(frames$.pipe(suspicion(settings$, testScheduler))).toBe('---#', marks);
    });
  });
});
