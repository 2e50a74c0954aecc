import {
  asyncScheduler,
  defer,
  ignoreElements,
  merge,
  NEVER,
  repeat,
  retry,
  shareReplay,
  switchMap,
  take,
  tap,
  timer,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { backoffDelay } from '../protocol/backoff.js';
import type { Settings } from '../settings.js';

/** Options of {@link reconnectBackoff}. */
export interface ReconnectBackoffConfig {
  /**
   * Each emission sets the attempt count back to 0, so the next wait is
   * `connectInterval` again. The manager emits here when the peer joins.
   * Default: never.
   */
  readonly reset$?: Observable<unknown>;
  /** Drives the waits. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** The jitter source, a value in [0, 1) per wait. Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Keeps a connection alive: resubscribes the source whenever it ends, after a
 * back-off that doubles from `connectInterval` up to `maxConnectInterval`,
 * with jitter.
 *
 * Meant for a cold "dial one connection and live until it ends" observable. Its
 * first subscription happens at once. Whenever it errors *or* completes, the
 * wait before the next subscription is `backoffDelay(attempt, settings,
 * random())`: attempt 0 first, one more per resubscription, back to 0 on each
 * `reset$`. Jitter takes up to 25 % off each wait so peers that lost the same
 * node do not redial it in lockstep.
 *
 * ```
 * dial:              a#                             (each subscription: a value, then an error)
 * reconnectBackoff:  a--a----a--------a--------a---…   connectInterval = 2, cap = 8, random() ≈ 1
 * subscriptions:     ^!
 *                    ---^!                          waited 2
 *                    --------^!                     waited 4
 *                    -----------------^!            waited 8
 *                    --------------------------^!   waited 8: the cap
 * ```
 *
 * - Never errors or completes on its own (errors of `settings$` or `reset$`
 *   do pass through): it ends only when unsubscribed, which also cancels a
 *   pending wait.
 * - Each wait uses the settings in force when it starts. A change mid-wait
 *   does not restart that wait; it applies from the next one.
 * - A `reset$` mid-wait does not shorten that wait either; it resets the
 *   count for the next one.
 * - Each subscriber has its own attempt count, so two peers never delay each
 *   other.
 *
 * @param settings$ - the settings stream; `connectInterval` (ms, default
 *   2000) and `maxConnectInterval` (ms, default 30000) are read from it. It
 *   is subscribed once per subscriber, for that subscriber's lifetime.
 * @param config - `reset$`, `scheduler` and `random`; see {@link ReconnectBackoffConfig}
 * @returns an operator that mirrors every subscription of its source, forever
 */
export function reconnectBackoff<T>(
  settings$: Observable<Settings>,
  config: ReconnectBackoffConfig = {},
): MonoTypeOperatorFunction<T> {
  // the one place Math.random may appear in src/operators: the documented
  // default, for callers that do not inject their own jitter source
  // eslint-disable-next-line no-restricted-properties
  const { reset$ = NEVER, scheduler = asyncScheduler, random = Math.random } = config;
  return (source$) =>
    defer(() => {
      let attempt = 0;
      // the latest settings, held for this subscriber's lifetime
      const current$ = settings$.pipe(shareReplay({ bufferSize: 1, refCount: true }));
      function wait(): Observable<unknown> {
        return current$.pipe(
          take(1),
          switchMap((settings) => timer(backoffDelay(attempt++, settings, random()), scheduler)),
        );
      }
      return merge(
        current$.pipe(ignoreElements()),
        reset$.pipe(
          tap(() => {
            attempt = 0;
          }),
          ignoreElements(),
        ),
        source$.pipe(repeat({ delay: wait }), retry({ delay: wait })),
      );
    });
}
