import {
  asyncScheduler,
  combineLatest,
  connect,
  defer,
  distinctUntilChanged,
  endWith,
  ignoreElements,
  map,
  merge,
  mergeMap,
  startWith,
  switchMap,
  takeUntil,
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
      const subscribedAt = scheduler.now();
      return source$.pipe(
        connect((shared$) => {
          const lastRead$ = shared$.pipe(
            map(() => scheduler.now()),
            startWith(subscribedAt),
          );
          const timeout$ = settings$.pipe(
            map((s) => s.readTimeout),
            distinctUntilChanged(),
          );
          const ended$ = shared$.pipe(ignoreElements(), endWith(true));
          const deadline$ = combineLatest([lastRead$, timeout$]).pipe(
            switchMap(([lastRead, timeout]) =>
              timer(Math.max(0, lastRead + timeout - scheduler.now()), scheduler).pipe(
                mergeMap(() => throwError(() => new ReadTimeoutError(scheduler.now() - lastRead, timeout))),
              ),
            ),
            takeUntil(ended$),
          );
          return merge(shared$, deadline$);
        }),
      );
    });
}
