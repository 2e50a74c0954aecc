import {
  asyncScheduler,
  connect,
  defer,
  distinctUntilChanged,
  EMPTY,
  endWith,
  ignoreElements,
  map,
  merge,
  mergeMap,
  repeat,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { ReadTimeoutError } from '../errors.js';

/** How late (ms) a deadline may fire before it counts as a blocked event loop: at most 50, and a tenth of readTimeout. */
const LATE_TOLERANCE = 50;
/** The grace (ms) a late deadline grants, one turn of the event loop for pending reads. */
const LATE_GRACE = 1;

function lateTolerance(timeout: number): number {
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
  return (source$) =>
    defer(() => {
      // the time of the last value: a field, not a timer per value, so a busy
      // connection costs one timer per readTimeout period, not one per frame
      let lastRead = scheduler.now();
      return source$.pipe(
        connect((shared$) => {
          const reads$ = shared$.pipe(tap(() => (lastRead = scheduler.now())));
          const ended$ = shared$.pipe(ignoreElements(), endWith(true));
          // sleep until the deadline the last read implies; if a read came
          // meanwhile, sleep again for the rest, else fail. If the deadline
          // fired late, this process was blocked and frames may wait unread in
          // its socket buffers: grant one short grace, so pending reads land
          // first and no peer is accused of a silence we could not observe
          const watch$ = (timeout: number): Observable<never> => {
            let gracedFor: number | undefined;
            return defer(() => {
              // when the timer should fire: the deadline, or now if that is past
              const expected = Math.max(lastRead + timeout, scheduler.now());
              return timer(expected - scheduler.now(), scheduler).pipe(map(() => expected));
            }).pipe(
              mergeMap((expected) => {
                const now = scheduler.now();
                const silence = now - lastRead;
                if (silence < timeout) return EMPTY;
                if (now - expected > lateTolerance(timeout) && gracedFor !== lastRead) {
                  gracedFor = lastRead;
                  return timer(LATE_GRACE, scheduler).pipe(ignoreElements());
                }
                return throwError(() => new ReadTimeoutError(silence, timeout));
              }),
              repeat(),
            );
          };
          const deadline$ = settings$.pipe(
            map((s) => s.readTimeout),
            distinctUntilChanged(),
            switchMap(watch$),
            takeUntil(ended$),
          );
          return merge(reads$, deadline$);
        }),
      );
    });
}
