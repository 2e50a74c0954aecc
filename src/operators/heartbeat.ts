import { asyncScheduler, Observable, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
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
  // one subscriber and one scheduled action per connection (it runs for every link of every node):
  // the same ticks as timer(interval, interval) restarted by each new interval, counted across restarts
  return (source$) =>
    new Observable<number>((subscriber) => {
      let count = 0;
      let interval: number | undefined;
      let ticks: Subscription | undefined;
      const settings = settings$.subscribe({
        next: ({ pingInterval }) => {
          if (pingInterval === interval) return;
          interval = pingInterval;
          ticks?.unsubscribe();
          ticks = scheduler.schedule(function (this: SchedulerAction<undefined>) {
            subscriber.next(count++);
            this.schedule(undefined, pingInterval);
          }, pingInterval);
        },
        error: (error: unknown) => subscriber.error(error),
      });
      const lifetime = source$.subscribe({
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        ticks?.unsubscribe();
        settings.unsubscribe();
        lifetime.unsubscribe();
      };
    });
}
