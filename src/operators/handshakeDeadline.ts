import { asyncScheduler, Observable, Subscription, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { HandshakeTimeoutError } from '../errors.js';
import { settling } from './deadlines.js';
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
  // written out rather than composed (defer, connect, materialize, take, map, distinctUntilChanged,
  // switchMap, timer, mergeMap, throwError, takeUntil, merge): every connection runs it, refused
  // ones too, and the composition cost each about fifteen subscriptions; here it is two and the deadline
  return (source$) =>
    new Observable<T>((subscriber) => {
      const start = scheduler.now();
      let connectTimeout: number | undefined;
      let deadline: Subscription | undefined;
      /** Whether the source has given its first sign of life (a value, completion or error): no deadline from then on. */
      let settled = false;
      const settings = new Subscription();
      const settle = (): void => {
        settled = true;
        deadline?.unsubscribe();
        deadline = undefined;
        settings.unsubscribe();
      };
      settings.add(
        settings$.subscribe({
          next: (s) => {
            if (settled || s.connectTimeout === connectTimeout) return;
            const timeout = (connectTimeout = s.connectTimeout);
            deadline?.unsubscribe();
            deadline = scheduler.schedule(() => {
              settle();
              subscriber.error(new HandshakeTimeoutError(timeout));
            }, Math.max(0, start + timeout - scheduler.now()));
          },
          error: (error: unknown) => {
            if (settled) return;
            settle();
            subscriber.error(error);
          },
        }),
      );
      const source = source$.subscribe(settling(subscriber, settle));
      return () => {
        settle();
        source.unsubscribe();
      };
    });
}
