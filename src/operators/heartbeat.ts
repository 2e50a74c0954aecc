import {
  asyncScheduler,
  connect,
  distinctUntilChanged,
  endWith,
  ignoreElements,
  map,
  merge,
  switchMap,
  takeUntil,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { Settings } from '../settings.js';

/**
 * Ticks every `pingInterval` for as long as the source is open: the clock
 * behind a connection's pings.
 *
 * Emits 0, 1, 2, … the first one `pingInterval` after subscription. The
 * source's values are ignored; only its lifetime matters, so a connection's
 * frame stream piped through `heartbeat` yields the moments to send a ping.
 *
 * ```
 * source:     --a------b-------------|     pingInterval = 4 frames
 * heartbeat:  ----0---1---2---3---4--|
 *
 * source:     ---------#
 * heartbeat:  ----0---1#
 * ```
 *
 * - Completes when the source completes, errors with the source's error when
 *   it errors; a tick not yet due is dropped.
 * - A `pingInterval` change restarts the period from the moment of the change:
 *   the next tick comes one new interval later. The counter keeps increasing,
 *   it never resets. An equal value changes nothing.
 * - Unsubscribing stops the clock. The source is subscribed once.
 *
 * @param settings$ - the settings stream; `pingInterval` (ms, default 5000)
 *   is read from it. It must emit its current value on subscription, like a
 *   BehaviorSubject.
 * @param scheduler - drives the ticks; default `asyncScheduler`
 * @returns an operator from any source to its tick count, 0 first
 */
export function heartbeat<T>(
  settings$: Observable<Settings>,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, number> {
  return (source$) =>
    source$.pipe(
      connect((shared$) => {
        const lifetime$ = shared$.pipe(ignoreElements());
        const ticks$ = settings$.pipe(
          map((s) => s.pingInterval),
          distinctUntilChanged(),
          switchMap((interval) => timer(interval, interval, scheduler)),
          map((_, n) => n),
          takeUntil(lifetime$.pipe(endWith(true))),
        );
        return merge(lifetime$, ticks$);
      }),
    );
}
