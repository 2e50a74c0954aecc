import {
  asyncScheduler,
  distinctUntilChanged,
  map,
  merge,
  mergeMap,
  of,
  switchMap,
  take,
  takeUntil,
  throwError,
  timer,
  connect,
  defer,
  ignoreElements,
  endWith,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { RequestError } from '../errors.js';
import { CODES } from '../limits.js';
import type { Settings } from '../settings.js';

/**
 * Fails a request that has not answered in time: mirrors the source, and
 * errors with a {@link RequestError} of code `RXC_ERR_REQUEST_TIMEOUT` when
 * no value arrived within the timeout since subscription.
 *
 * Informally: `timeout` for the first value, the duration read from the
 * settings stream unless the call fixed its own.
 *
 * ```
 * reply:          ------r|           requestTimeout = 4 frames
 * requestTimeout: ----#
 *
 * reply:          --r|
 * requestTimeout: --r|               (in time: no deadline after the first value)
 * ```
 *
 * - Completion or an error of the source before the deadline passes
 *   through at once and cancels it.
 * - With no fixed `timeout`, a `requestTimeout` change while waiting moves
 *   the deadline to (subscription + new value), failing at once if that is
 *   already past.
 * - Unsubscribing cancels the deadline. The source is subscribed once.
 *
 * @param node - the node asked, carried by the error
 * @param settings$ - the settings stream (`requestTimeout`, ms, default 5000); it must emit its current value on subscription
 * @param timeout - ms fixed by the call, or undefined to follow the settings
 * @param scheduler - drives the deadline; default `asyncScheduler`
 * @returns an operator mirroring the reply, or failing it
 */
export function requestTimeout<T>(
  node: string,
  settings$: Observable<Settings>,
  timeout: number | undefined,
  scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<T> {
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout > 0)) {
    throw new TypeError(`requestTimeout: timeout must be a positive whole number of ms, got ${timeout}`);
  }
  return (source$) =>
    defer(() => {
      const start = scheduler.now();
      const limit$ = timeout === undefined ? settings$.pipe(map((s) => s.requestTimeout), distinctUntilChanged()) : of(timeout);
      return source$.pipe(
        connect((shared$) => {
          const settled$ = merge(shared$.pipe(take(1)), shared$.pipe(ignoreElements(), endWith(true)));
          const deadline$ = limit$.pipe(
            switchMap((ms) =>
              timer(Math.max(0, start + ms - scheduler.now()), scheduler).pipe(
                mergeMap(() => throwError(() => new RequestError(CODES.REQUEST_TIMEOUT, node, `${node} did not reply within ${ms} ms`))),
              ),
            ),
            takeUntil(settled$),
          );
          return merge(shared$, deadline$);
        }),
      );
    });
}
