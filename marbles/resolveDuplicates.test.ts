import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { joinDelay, type Membership } from '../src/operators/joinDelay.js';
import { resolveDuplicates, type ConnectionDecision, type ConnectionEvent } from '../src/operators/resolveDuplicates.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

/** One node's view of a connection: who dialed it, its local sequence, and which link it is. */
interface Conn {
  readonly dialer: string;
  readonly seq: number;
  /** The same string on both nodes for the same socket: "<dialer>→<acceptor>". */
  readonly link: string;
}

const up = (conn: Conn): ConnectionEvent<Conn> => ({ type: 'up', conn });
const down = (conn: Conn): ConnectionEvent<Conn> => ({ type: 'down', conn });
const decision = (active: Conn | undefined, ...close: Conn[]): ConnectionDecision<Conn> => ({ active, close });
/** No values: types the never and empty sources. */
const noEvents: Record<string, ConnectionEvent<Conn>> = {};

// node a's view: it dialed b (seq 1) while b dialed it (seq 2)
const aToB = { dialer: 'a', seq: 1, link: 'a→b' };
const bToA = { dialer: 'b', seq: 2, link: 'b→a' };
// node b's view of the same two sockets: it dialed a first (seq 1), then accepted a's (seq 2)
const bToAatB = { dialer: 'b', seq: 1, link: 'b→a' };
const aToBatB = { dialer: 'a', seq: 2, link: 'a→b' };

describe('resolveDuplicates', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });

  it('should make the first connection up the active one, closing nothing', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--|', { u: up(aToB) });
      const expected = '     -A--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB) });
    });
  });

  it('should keep the connection dialed by the node whose name sorts first, closing the other', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--v--|', { u: up(bToA), v: up(aToB) });
      const expected = '     -B--A--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { B: decision(bToA), A: decision(aToB, bToA) });
    });
  });

  it('should keep the incumbent when the newcomer loses', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--v--|', { u: up(aToB), v: up(bToA) });
      const expected = '     -A--X--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB), X: decision(aToB, bToA) });
    });
  });

  it('should replace a stale connection by a newer one from the same dialer', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const old = { dialer: 'a', seq: 1, link: 'a→b (old)' };
      const fresh = { dialer: 'a', seq: 7, link: 'a→b (new)' };
      const events$ = hot('  -u--v--|', { u: up(old), v: up(fresh) });
      const expected = '     -O--N--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { O: decision(old), N: decision(fresh, old) });
    });
  });

  it('should drop the active connection when it goes down', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--d--u--|', { u: up(aToB), d: down(aToB) });
      const expected = '     -A--_--A--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB), _: decision(undefined) });
    });
  });

  it('should change nothing, and still emit, when a non-active connection goes down', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--v--d--e--|', { u: up(aToB), v: up(bToA), d: down(bToA), e: down({ dialer: 'c', seq: 9, link: 'c→a' }) });
      const expected = '     -A--X--A--A--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB), X: decision(aToB, bToA) });
    });
  });

  it('should change nothing when the active connection is reported up again', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const events$ = hot('  -u--u--|', { u: up(aToB) });
      const expected = '     -A--A--|';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB) });
    });
  });

  it('should end with the same link on both nodes when they dial each other at once, never without one', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // each side sees both sockets come up, in opposite orders, then closes the loser
      const atA$ = hot('     -u-v---d---|', { u: up(aToB), v: up(bToA), d: down(bToA) });
      const atB$ = hot('     -u-v---d---|', { u: up(bToAatB), v: up(aToBatB), d: down(bToAatB) });
      const expectedA = '    -A-X---A---|';
      const expectedB = '    -B-Y---Z---|';
      const linkA = '        -k-k---k---|';
      const linkB = '        -o-k---k---|';

      expectObservable(atA$.pipe(resolveDuplicates())).toBe(expectedA, {
        A: decision(aToB),
        X: decision(aToB, bToA),
      });
      expectObservable(atB$.pipe(resolveDuplicates())).toBe(expectedB, {
        B: decision(bToAatB),
        Y: decision(aToBatB, bToAatB),
        Z: decision(aToBatB),
      });
      // the same socket is kept on both sides, and `active` is never undefined on the way
      const links = { k: 'a→b', o: 'b→a' };
      expectObservable(atA$.pipe(resolveDuplicates(), map((d) => d.active?.link))).toBe(linkA, links);
      expectObservable(atB$.pipe(resolveDuplicates(), map((d) => d.active?.link))).toBe(linkB, links);
    });
  });

  it('should announce exactly one join per side when composed with joinDelay', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const settings$ = cold('s', { s: DEFAULT_SETTINGS });
      const atA$ = hot('     -u 9ms v 99ms d 2s |', { u: up(aToB), v: up(bToA), d: down(bToA) });
      const atB$ = hot('     -u 9ms v 99ms d 2s |', { u: up(bToAatB), v: up(aToBatB), d: down(bToAatB) });
      const expected = '     - 500ms j 1610ms |';

      function joins(events$: typeof atA$): Observable<Membership> {
        return events$.pipe(
          resolveDuplicates(),
          map((d) => d.active !== undefined),
          joinDelay(settings$, testScheduler),
        );
      }
      expectObservable(joins(atA$)).toBe(expected, { j: 'join' });
      expectObservable(joins(atB$)).toBe(expected, { j: 'join' });
    });
  });

  it('should emit nothing for a never-emitting source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events$ = cold('-', noEvents);
      const unsub = '       -----!';
      const subs = '        ^----!';
      const expected = '    ------';

      expectObservable(events$.pipe(resolveDuplicates()), unsub).toBe(expected);
      expectSubscriptions(events$.subscriptions).toBe(subs);
    });
  });

  it('should complete at once for an empty source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const events$ = cold('|', noEvents);
      const subs = '        (^!)';
      const expected = '    |';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected);
      expectSubscriptions(events$.subscriptions).toBe(subs);
    });
  });

  it('should pass an error through', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const boom = new Error('transport fault');
      const events$ = hot('  -u--#', { u: up(aToB) }, boom);
      const subs = '         ^---!';
      const expected = '     -A--#';

      expectObservable(events$.pipe(resolveDuplicates())).toBe(expected, { A: decision(aToB) }, boom);
      expectSubscriptions(events$.subscriptions).toBe(subs);
    });
  });

  it('should release the source on early unsubscription', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const events$ = hot('  -u--v--d--|', { u: up(aToB), v: up(bToA), d: down(aToB) });
      const unsub = '        -----!';
      const subs = '         ^----!';
      const expected = '     -A--X-';

      expectObservable(events$.pipe(resolveDuplicates()), unsub).toBe(expected, { A: decision(aToB), X: decision(aToB, bToA) });
      expectSubscriptions(events$.subscriptions).toBe(subs);
    });
  });

  it('should give each subscriber its own fold', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const events$ = cold(' -u--v--|', { u: up(bToA), v: up(aToB) });
      const expected = '     -B--A--|';
      const values = { B: decision(bToA), A: decision(aToB, bToA) };

      const resolved$ = events$.pipe(resolveDuplicates());
      expectObservable(resolved$).toBe(expected, values);
      expectObservable(resolved$).toBe(expected, values);
    });
  });
});
