import {
  asyncScheduler,
  connect,
  defer,
  distinctUntilChanged,
  EMPTY,
  endWith,
  ignoreElements,
  map,
  merge,
  mergeMap,
  repeat,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { ReadTimeoutError } from '../errors.js';
import type { Settings } from '../settings.js';

/**
 * Mirrors the source, and fails it with a {@link ReadTimeoutError} once no
 * value has arrived for `readTimeout` since subscription or since the last
 * value.
 *
 * The source is a peer's incoming frames; any value, a pong included, resets
 * the deadline. The error carries how long the peer was silent and the
 * setting in force, so the connection boundary can log it precisely.
 *
 * ```
 * frames:        -a--b-------------    readTimeout = 6 frames
 * readTimeout:   -a--b-----#           (6 frames after b)
 *
 * frames:        -a--b---|
 * readTimeout:   -a--b---|             (complete passes through, timer cancelled)
 * ```
 *
 * - The source completing or erroring passes through at once and cancels the
 *   deadline.
 * - A `readTimeout` change mid-wait moves the deadline to (time of the last
 *   value, or of subscription, + new readTimeout); if that is already past,
 *   the error fires at once and its `silence` exceeds the new setting.
 * - Unsubscribing cancels the deadline. The source is subscribed once.
 * - Elapsed time comes only from `scheduler.now()`.
 *
 * @param settings$ - the settings stream; `readTimeout` (ms, default 11000)
 *   is read from it. It must emit its current value on subscription, like a
 *   BehaviorSubject.
 * @param scheduler - drives the deadline and `now()`; default `asyncScheduler`
 * @returns an operator mirroring its source, or erroring with
 *   `ReadTimeoutError(silence, readTimeout)` after too long a silence
 */
export function readTimeout<T>(
  settings$: Observable<Settings>,
  scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<T> {
  return (source$) =>
    defer(() => {
      // the time of the last value: a field, not a timer per value, so a busy
      // connection costs one timer per readTimeout period, not one per frame
      let lastRead = scheduler.now();
      return source$.pipe(
        connect((shared$) => {
          const reads$ = shared$.pipe(tap(() => (lastRead = scheduler.now())));
          const ended$ = shared$.pipe(ignoreElements(), endWith(true));
          // sleep until the deadline the last read implies; if a read came
          // meanwhile, sleep again for the rest, else fail
          const watch$ = (timeout: number): Observable<never> =>
            defer(() => timer(Math.max(0, lastRead + timeout - scheduler.now()), scheduler)).pipe(
              mergeMap(() => {
                const silence = scheduler.now() - lastRead;
                return silence >= timeout ? throwError(() => new ReadTimeoutError(silence, timeout)) : EMPTY;
              }),
              repeat(),
            );
          const deadline$ = settings$.pipe(
            map((s) => s.readTimeout),
            distinctUntilChanged(),
            switchMap(watch$),
            takeUntil(ended$),
          );
          return merge(reads$, deadline$);
        }),
      );
    });
}
