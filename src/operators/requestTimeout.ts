import { asyncScheduler, Observable, Subscription, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { Deadlines, settling, type Deadline } from './deadlines.js';
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
 * @param deadlines - a queue on `scheduler` shared by many requests (one
 *   scheduled action for all of them, not one timer each); default, one of
 *   its own per subscription
 * @returns an operator mirroring the reply, or failing it
 */
export function requestTimeout<T>(
  node: string,
  settings$: Observable<Settings>,
  timeout: number | undefined,
  scheduler: SchedulerLike = asyncScheduler,
  deadlines?: Deadlines,
): MonoTypeOperatorFunction<T> {
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout > 0)) {
    throw new TypeError(`requestTimeout: timeout must be a positive whole number of ms, got ${timeout}`);
  }
  // written out rather than composed (connect, merge, switchMap, timer, takeUntil): one
  // request builds one subscriber and one scheduled action, not a dozen operators
  return (source$) =>
    new Observable<T>((subscriber) => {
      const queue = deadlines ?? new Deadlines(scheduler);
      const start = scheduler.now();
      let settled = false;
      let deadline: Deadline | undefined;
      const limits = new Subscription();
      const settle = (): void => {
        settled = true;
        deadline?.cancel();
        limits.unsubscribe();
      };
      const source = source$.subscribe(settling(subscriber, settle));
      const arm = (ms: number): void => {
        deadline?.cancel();
        deadline = queue.add(start + ms, () => {
          if (settled) return;
          settle();
          source.unsubscribe();
          subscriber.error(new RequestError(CODES.REQUEST_TIMEOUT, node, `${node} did not reply within ${ms} ms`));
        });
      };
      if (!settled && timeout !== undefined) arm(timeout);
      else if (!settled) {
        let current: number | undefined;
        limits.add(
          settings$.subscribe((s) => {
            if (settled || s.requestTimeout === current) return;
            current = s.requestTimeout;
            arm(current);
          }),
        );
      }
      return () => {
        settle();
        source.unsubscribe();
        // a queue of its own has nothing else to wait for
        if (deadlines === undefined) queue.close();
      };
    });
}
