import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { stableQuorum, type QuorumInput } from '../src/operators/stableQuorum.js';

const answers = { T: true, F: false };
/** Quorum granted on views x, y, z, w; n: not granted (view n). */
const inputs: Record<string, QuorumInput> = {
  x: { quorum: true, view: 'x' },
  y: { quorum: true, view: 'y' },
  z: { quorum: true, view: 'z' },
  w: { quorum: true, view: 'w' },
  n: { quorum: false, view: 'n' },
};

describe('stableQuorum', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should pass every answer at once when stableAfter is 0', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const input$ = hot('  -x--n--y--|', inputs);
      const expected = '    -T--F--T--|';

      expectObservable(input$.pipe(stableQuorum(0, testScheduler))).toBe(expected, answers);
    });
  });

  it('should claim quorum only once the view has held stableAfter', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const input$ = hot('  -x---------|', inputs);
      const expected = '    -F--T------|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should restart the wait on each view change before quorum is claimed', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const input$ = hot('  -x-y-z------|', inputs);
      const expected = '    -F------T---|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should give quorum up at once', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const input$ = hot('  -x-----n---|', inputs);
      const expected = '    -F--T--F---|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should keep quorum through one view change that still grants it', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const input$ = hot('  -x-----y------|', inputs);
      const expected = '    -F--T---------|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should give quorum up when the view keeps changing for 2 x stableAfter (down-all-when-unstable), and claim it again once stable', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // the run of changes starts at y (frame 7); changes 2 frames apart never let the view hold 3;
      // at frame 13 the run has lasted 2 x 3: quorum is given up; w (frame 13) then holds 3 frames
      const input$ = hot('  -x-----y-z-x-w--------|', inputs);
      const expected = '    -F--T--------F--T-----|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should start a new run of changes after a pause of exactly stableAfter', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // y (frame 7) holds exactly 3 frames: a stableAfter-long pause, so the run starts again at z (frame 10);
      // z, w, x, y 2 frames apart then keep it unstable: given up at frame 16 (10 + 2 x 3), not 13 (7 + 2 x 3)
      const input$ = hot('  -x-----y--z-w-x-y---------|', inputs);
      const expected = '    -F--T-----------F--T------|';

      expectObservable(input$.pipe(stableQuorum(3, testScheduler))).toBe(expected, answers);
    });
  });

  it('should pass errors and completion through and cancel the pending check', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const done$ = hot('   -x-|', inputs);
      const failed$ = hot(' -x-#', inputs);

      expectObservable(done$.pipe(stableQuorum(3, testScheduler))).toBe('-F-|', answers);
      expectObservable(failed$.pipe(stableQuorum(3, testScheduler))).toBe('-F-#', answers);
    });
  });
});
