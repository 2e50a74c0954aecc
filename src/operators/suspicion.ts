import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Settings } from '../settings.js';
import { LATE_GRACE, lateTolerance } from './readTimeout.js';

/**
 * Watches a peer's frames for silence: emits `true` (suspect) once no
 * frame has arrived for `readTimeout`, and `false` (alive) at the first
 * frame after that. Emits nothing while frames keep coming. The source's
 * values themselves are not passed on.
 *
 * ```
 * frames:     -a--b-----------c--|    readTimeout = 5 frames
 * suspicion:  ---------t------f--|
 * ```
 *
 * - Silence counts from subscription, then from the last frame.
 * - A deadline that fires late (by more than a tenth of readTimeout, at
 *   most 50 ms) means this process was blocked and frames may wait unread:
 *   it looks again one millisecond later, once per silence, before
 *   suspecting anyone (local health first).
 * - A `readTimeout` change moves the pending deadline.
 * - Completion and errors of the source pass through at once. One timer per
 *   readTimeout period, not one per frame. Time only from `scheduler`.
 *
 * @param settings$ - the settings stream (`readTimeout`); emits its current value on subscription
 * @param scheduler - drives the deadline; default asyncScheduler
 * @returns an operator from frames to suspicion changes
 */
export function suspicion<T>(settings$: Observable<Settings>, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<T, boolean> {
  return (source$) =>
    new Observable<boolean>((subscriber) => {
      let lastRead = scheduler.now();
      let timeout = Infinity;
      let suspect = false;
      let gracedFor: number | undefined;
      let deadline: Subscription | undefined;

      const arm = (): void => {
        deadline?.unsubscribe();
        deadline = undefined;
        if (suspect || !Number.isFinite(timeout)) return;
        const expected = Math.max(lastRead + timeout, scheduler.now());
        deadline = scheduler.schedule(() => fire(expected), expected - scheduler.now());
      };
      const fire = (expected: number): void => {
        deadline = undefined;
        const now = scheduler.now();
        if (now - lastRead < timeout) return arm();
        if (now - expected > lateTolerance(timeout) && gracedFor !== lastRead) {
          gracedFor = lastRead;
          deadline = scheduler.schedule(() => fire(now + LATE_GRACE), LATE_GRACE);
          return;
        }
        suspect = true;
        subscriber.next(true);
      };

      const settings = settings$.subscribe(({ readTimeout }) => {
        if (readTimeout === timeout) return;
        timeout = readTimeout;
        arm();
      });
      const frames = source$.subscribe({
        next: () => {
          lastRead = scheduler.now();
          if (suspect) {
            suspect = false;
            subscriber.next(false);
            arm();
          } else if (deadline === undefined) {
            arm();
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        deadline?.unsubscribe();
        settings.unsubscribe();
        frames.unsubscribe();
      };
    });
}
