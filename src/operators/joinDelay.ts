import {
  asyncScheduler,
  combineLatest,
  connect,
  distinctUntilChanged,
  endWith,
  ignoreElements,
  map,
  of,
  skip,
  startWith,
  switchMap,
  takeUntil,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { Settings } from '../settings.js';

/** What a peer's membership just did. */
export type Membership = 'join' | 'leave';

/**
 * Turns "this peer has a live authenticated connection" into membership
 * events: `'join'` once the connection has survived `joinDelay`, `'leave'` as
 * soon as it is lost after a join.
 *
 * Repeated equal inputs are ignored. A connection that dies inside `joinDelay`
 * produces neither join nor leave, which absorbs simultaneous dials and
 * flapping links; `true → false → true` inside the delay restarts the wait
 * from the last `true`.
 *
 * ```
 * online:     -t------f---t--f--t---------f-|    joinDelay = 5 frames
 * joinDelay:  ------j-l--------------j----l-|    (j = join, l = leave)
 * ```
 *
 * - A `'leave'` is emitted at once, with no delay, and only after a `'join'`.
 * - Completion of the source completes at once: a pending join is dropped and
 *   no leave is made up. Errors pass through at once.
 * - A `joinDelay` change while waiting moves the deadline to (time the input
 *   turned true + new joinDelay), firing at once if that is already past. A
 *   change after the join, or while offline, changes nothing.
 * - Unsubscribing cancels a pending join. The source is subscribed once.
 *
 * @param settings$ - the settings stream; `joinDelay` (ms, default 500) is
 *   read from it. It must emit its current value on subscription, like a
 *   BehaviorSubject.
 * @param scheduler - drives the wait and `now()`; default `asyncScheduler`
 * @returns an operator from online/offline to `'join'`/`'leave'`, alternating
 *   and starting with `'join'`
 */
export function joinDelay(
  settings$: Observable<Settings>,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<boolean, Membership> {
  return (online$) =>
    online$.pipe(
      connect((shared$) => {
        const since$ = shared$.pipe(
          distinctUntilChanged(),
          map((online) => ({ online, since: scheduler.now() })),
        );
        const delay$ = settings$.pipe(
          map((s) => s.joinDelay),
          distinctUntilChanged(),
        );
        return combineLatest([since$, delay$]).pipe(
          switchMap(([{ online, since }, delay]) =>
            online
              ? timer(Math.max(0, since + delay - scheduler.now()), scheduler).pipe(map((): Membership => 'join'))
              : of<Membership>('leave'),
          ),
          // start out as left and report changes only: a leave needs a join
          // before it, and a recomputed deadline does not join twice
          startWith<Membership>('leave'),
          distinctUntilChanged(),
          skip(1),
          takeUntil(shared$.pipe(ignoreElements(), endWith(true))),
        );
      }),
    );
}
