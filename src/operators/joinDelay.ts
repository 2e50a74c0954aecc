import { asyncScheduler, Observable, Subscription, type OperatorFunction, type SchedulerLike } from 'rxjs';
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
  // written out rather than composed (connect, combineLatest, switchMap, timer, startWith,
  // distinctUntilChanged, skip, takeUntil): every connection runs it, and the composition
  // cost each one about thirty subscriptions; here it is two and the pending wait
  return (online$) =>
    new Observable<Membership>((subscriber) => {
      /** The last input, once there was one. */
      let online: boolean | undefined;
      /** When the input last turned true. */
      let since = 0;
      let delay: number | undefined;
      let joined = false;
      let pending: Subscription | undefined;
      const cancel = (): void => {
        pending?.unsubscribe();
        pending = undefined;
      };
      // (re)start the wait for the join: from the time the input turned true, for joinDelay as it is now
      const arm = (): void => {
        cancel();
        if (online !== true || joined || delay === undefined) return;
        pending = scheduler.schedule(() => {
          pending = undefined;
          joined = true;
          subscriber.next('join');
        }, Math.max(0, since + delay - scheduler.now()));
      };
      const inputs = new Subscription();
      inputs.add(
        settings$.subscribe({
          next: (s) => {
            if (s.joinDelay === delay) return;
            delay = s.joinDelay;
            arm();
          },
          error: (error: unknown) => subscriber.error(error),
        }),
      );
      inputs.add(
        online$.subscribe({
          next: (value) => {
            if (value === online) return;
            online = value;
            if (value) {
              since = scheduler.now();
              arm();
              return;
            }
            cancel();
            if (joined) {
              joined = false;
              subscriber.next('leave');
            }
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      );
      return () => {
        cancel();
        inputs.unsubscribe();
      };
    });
}
