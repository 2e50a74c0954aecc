import { asyncScheduler, Observable, Subscription, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { ReadTimeoutError } from '../errors.js';

/** How late (ms) a deadline may fire before it counts as a blocked event loop: at most 50, and a tenth of readTimeout. */
const LATE_TOLERANCE = 50;
/** The grace (ms) a late deadline grants, one turn of the event loop for pending reads (suspicion grants the same). */
export const LATE_GRACE = 1;

/** How late (ms) a deadline for `timeout` may fire before this process counts as blocked (readTimeout and suspicion alike). */
export function lateTolerance(timeout: number): number {
  return Math.min(LATE_TOLERANCE, timeout / 10);
}
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
 * - A deadline that fires late (by more than a tenth of readTimeout, at most
 *   50 ms) means this process itself was blocked (a GC pause, a busy event
 *   loop): frames may be waiting unread. It then waits one more millisecond,
 *   once per silence, so those reads land first; only a silence that
 *   outlives the grace fails. A blocked node never accuses its peers of a
 *   silence it could not have observed.
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
  // written out rather than composed (connect, switchMap, timer, repeat): a frame costs
  // one field write, not a pass through a subject and three operators; the time of
  // the last value is a field, so a busy connection costs one scheduled action per
  // readTimeout period, not one per frame
  return (source$) =>
    new Observable<T>((subscriber) => {
      let lastRead = scheduler.now();
      let timeout: number | undefined;
      let deadline: Subscription | undefined;
      /** The silence (its last read) already granted a grace under the current readTimeout. */
      let gracedFor: number | undefined;
      let done = false;
      const finish = (): void => {
        done = true;
        deadline?.unsubscribe();
        deadline = undefined;
        settings.unsubscribe();
      };
      // sleep until the deadline the last read implies; if a read came meanwhile, sleep again
      // for the rest, else fail. If the deadline fired late, this process was blocked and
      // frames may wait unread in its socket buffers: grant one short grace, so pending reads
      // land first and no peer is accused of a silence we could not observe
      const sleep = (): void => {
        if (done || timeout === undefined) return;
        const expected = Math.max(lastRead + timeout, scheduler.now());
        deadline?.unsubscribe();
        deadline = scheduler.schedule(() => wake(expected), expected - scheduler.now());
      };
      const wake = (expected: number): void => {
        deadline = undefined;
        if (done || timeout === undefined) return;
        const now = scheduler.now();
        const silence = now - lastRead;
        if (silence < timeout) return sleep();
        if (now - expected > lateTolerance(timeout) && gracedFor !== lastRead) {
          gracedFor = lastRead;
          deadline = scheduler.schedule(() => {
            deadline = undefined;
            sleep();
          }, LATE_GRACE);
          return;
        }
        finish();
        source?.unsubscribe();
        subscriber.error(new ReadTimeoutError(silence, timeout));
      };
      const settings = new Subscription();
      settings.add(
        settings$.subscribe({
          next: (s) => {
            if (done || s.readTimeout === timeout) return;
            timeout = s.readTimeout;
            gracedFor = undefined;
            sleep();
          },
          error: (error: unknown) => {
            if (done) return;
            finish();
            source?.unsubscribe();
            subscriber.error(error);
          },
        }),
      );
      // eslint-disable-next-line prefer-const -- assigned once, read by callbacks that may run before it is
      let source: Subscription | undefined;
      source = source$.subscribe({
        next: (value) => {
          lastRead = scheduler.now();
          subscriber.next(value);
        },
        error: (error: unknown) => {
          finish();
          subscriber.error(error);
        },
        complete: () => {
          finish();
          subscriber.complete();
        },
      });
      return () => {
        finish();
        source?.unsubscribe();
      };
    });
}
