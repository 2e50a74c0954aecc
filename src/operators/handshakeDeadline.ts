import {
  asyncScheduler,
  connect,
  defer,
  distinctUntilChanged,
  map,
  materialize,
  merge,
  mergeMap,
  switchMap,
  take,
  takeUntil,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { HandshakeTimeoutError } from '../errors.js';
import type { Settings } from '../settings.js';

/**
 * Mirrors the source, and fails it with a {@link HandshakeTimeoutError} if its
 * first value has not arrived within `connectTimeout` of subscription.
 *
 * Meant for the handshake stage of a connection: the source emits once the
 * handshake has finished (and may go on emitting frames). From the first value
 * on there is no deadline any more; silence later on is `readTimeout`'s job.
 *
 * ```
 * source:        -----------a--b--     connectTimeout = 8 frames
 * handshake...:  --------#
 *
 * source:        ----a-----------b-
 * handshake...:  ----a-----------b-    (first value in time: no deadline after it)
 * ```
 *
 * - The source completing or erroring before its first value passes through
 *   at once and cancels the deadline.
 * - A `connectTimeout` change before the first value moves the deadline to
 *   (subscription time + new connectTimeout), firing at once if that is
 *   already past; the error then carries the new value. Changes after the
 *   first value are ignored.
 * - Unsubscribing cancels the deadline. The source is subscribed once.
 *
 * @param settings$ - the settings stream; `connectTimeout` (ms, default 10000)
 *   is read from it. It must emit its current value on subscription, like a
 *   BehaviorSubject.
 * @param scheduler - drives the deadline and `now()`; default `asyncScheduler`
 * @returns an operator mirroring its source, or erroring with
 *   `HandshakeTimeoutError(connectTimeout)` when the first value is late
 */
export function handshakeDeadline<T>(
  settings$: Observable<Settings>,
  scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<T> {
  return (source$) =>
    defer(() => {
      const start = scheduler.now();
      return source$.pipe(
        connect((shared$) => {
          // the first sign of life of the source: a value, completion or error
          const settled$ = shared$.pipe(materialize(), take(1));
          const deadline$ = settings$.pipe(
            map((s) => s.connectTimeout),
            distinctUntilChanged(),
            switchMap((connectTimeout) =>
              timer(Math.max(0, start + connectTimeout - scheduler.now()), scheduler).pipe(
                mergeMap(() => throwError(() => new HandshakeTimeoutError(connectTimeout))),
              ),
            ),
            takeUntil(settled$),
          );
          return merge(shared$, deadline$);
        }),
      );
    });
}
