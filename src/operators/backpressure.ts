import {
  asyncScheduler,
  concat,
  defer,
  distinctUntilChanged,
  exhaustMap,
  filter,
  interval,
  map,
  of,
  startWith,
  take,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** How a backpressure signal measures and polls. */
export interface BackpressureConfig {
  /** Bytes: once `probe()` is at or below this, the buffers have room again. */
  readonly lowWater: number;
  /** Ms between two polls of `probe()` while under pressure. Default 5. */
  readonly pollInterval?: number;
  /** Drives the polls. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /**
   * Asked once per subscription: whether the buffers are already past the
   * high-water mark. If so the signal starts `false` (and polls) instead of
   * `true`, so a late subscriber is never told to write into a full buffer.
   * Default: never.
   */
  readonly pressedAtStart?: () => boolean;
}

/**
 * Turns "a send went past the high-water mark" notifications into a
 * writable signal for producers: `true` at once, `false` when pressure
 * starts, `true` again once `probe()` (the unsent bytes) has fallen to
 * `lowWater`.
 *
 * Informally: a latch that a full buffer closes and a drained one opens.
 *
 * ```
 * over:      --x-x---------x---     pollInterval = 2 frames
 * probe():   high.....low           (drained by frame 7)
 * writable:  t-f-----t-----f--…     (true after the first poll at or below lowWater)
 * ```
 *
 * - Notifications while already under pressure are ignored (one poll loop at a time).
 * - With `pressedAtStart` answering true at subscription, the signal starts
 *   `false` and polls, as if a notification had come at once.
 * - Polling runs only under pressure; an idle producer costs nothing.
 * - Completes when the source completes and no poll loop is running; a
 *   source error passes through.
 *
 * @param probe - current unsent bytes (the most any one peer has queued)
 * @param config - lowWater (bytes), pollInterval (ms, default 5), scheduler
 * @returns an operator from notifications to writable booleans, emitting only changes
 */
export function backpressure(probe: () => number, config: BackpressureConfig): OperatorFunction<unknown, boolean> {
  const { lowWater } = config;
  const pollInterval = config.pollInterval ?? 5;
  const scheduler = config.scheduler ?? asyncScheduler;
  if (!Number.isFinite(lowWater) || lowWater < 0) throw new TypeError(`backpressure: lowWater must be a non-negative number of bytes, got ${lowWater}`);
  if (!Number.isSafeInteger(pollInterval) || pollInterval <= 0) throw new TypeError(`backpressure: pollInterval must be a positive whole number of ms, got ${pollInterval}`);
  return (source$) =>
    defer(() => {
      const pressed = config.pressedAtStart?.() === true;
      const signal$ = (pressed ? concat(of(undefined), source$) : source$).pipe(
        exhaustMap(() =>
          concat(
            of(false),
            interval(pollInterval, scheduler).pipe(
              filter(() => probe() <= lowWater),
              take(1),
              map(() => true),
            ),
          ),
        ),
      );
      return (pressed ? signal$ : signal$.pipe(startWith(true))).pipe(distinctUntilChanged());
    });
}
