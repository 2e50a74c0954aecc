import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { quorum, type QuorumCounts } from '../src/operators/quorum.js';

const counts = (configured: number, online: number): QuorumCounts => ({ configured, online });
const answers = { T: true, F: false };
/** No values: types the never and empty sources. */
const noCounts: Record<string, QuorumCounts> = {};

describe('quorum', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should follow a majority of the cluster, this node counted as online', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const counts$ = hot('  -a----b----c----d--|', { a: counts(2, 0), b: counts(2, 1), c: counts(3, 1), d: counts(3, 2) });
      const subs = '         ^------------------!';
      const expected = '     -F----T----F----T--|';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
      expectSubscriptions(counts$.subscriptions).toBe(subs);
    });
  });

  it('should always have quorum with 0 or 1 configured peers', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const counts$ = hot('  -a----b----c--|', { a: counts(0, 0), b: counts(1, 0), c: counts(1, 1) });
      const expected = '     -T------------|';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
    });
  });

  it('should emit only when the answer changes, the first one always', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const counts$ = hot('  -a--b--c--d--e--|', { a: counts(4, 1), b: counts(4, 0), c: counts(4, 2), d: counts(5, 3), e: counts(5, 2) });
      const expected = '     -F-----T-----F--|';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
    });
  });

  it('should need more than half of an even-sized cluster', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // 3 peers + this node = 4: two nodes are exactly half, not a majority
      const counts$ = hot('  -a--b--c--|', { a: counts(3, 1), b: counts(3, 2), c: counts(3, 3) });
      const expected = '     -F--T-----|';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
    });
  });

  it('should emit the first answer for a single value', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const counts$ = cold(' --a--|', { a: counts(2, 2) });
      const expected = '     --T--|';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
    });
  });

  it('should emit nothing for a never-emitting source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const counts$ = cold('-', noCounts);
      const unsub = '       -----!';
      const subs = '        ^----!';
      const expected = '    ------';

      expectObservable(counts$.pipe(quorum()), unsub).toBe(expected, answers);
      expectSubscriptions(counts$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const counts$ = cold('|', noCounts);
      const subs = '        (^!)';
      const expected = '    |';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers);
      expectSubscriptions(counts$.subscriptions).toBe(subs);
    });
  });

  it('should pass an error through', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const boom = new Error('membership fold failed');
      const counts$ = hot('  -a--#', { a: counts(2, 1) }, boom);
      const subs = '         ^---!';
      const expected = '     -T--#';

      expectObservable(counts$.pipe(quorum())).toBe(expected, answers, boom);
      expectSubscriptions(counts$.subscriptions).toBe(subs);
    });
  });

  it('should release the source on early unsubscription', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const counts$ = hot('  -a--b--c--|', { a: counts(2, 0), b: counts(2, 1), c: counts(2, 0) });
      const unsub = '        -----!';
      const subs = '         ^----!';
      const expected = '     -F--T-';

      expectObservable(counts$.pipe(quorum()), unsub).toBe(expected, answers);
      expectSubscriptions(counts$.subscriptions).toBe(subs);
    });
  });
});
