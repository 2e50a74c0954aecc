import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/** A quorum decision and the view it was taken on. */
export interface QuorumInput {
  /** Whether the strategy grants quorum on this view. */
  readonly quorum: boolean;
  /** The view's id. */
  readonly view: string;
}

/**
 * Holds quorum decisions until the view is stable: quorum is claimed only
 * once the view has been unchanged for `stableAfter`, and given up at once.
 * A node that has quorum keeps it through view changes that keep granting
 * it, unless the view keeps changing with no `stableAfter`-long pause for
 * 2 × stableAfter (down-all-when-unstable): then it is given up
 * until the view has been stable for `stableAfter`. Emits the first answer,
 * then one value per change.
 *
 * ```
 * stableAfter = 3 frames, q = { quorum: true, view: x }, r = { quorum: true, view: y }
 * input:        -q-----|
 * stable:       -f--t--|              (claimed once x held 3 frames)
 *
 * input:        -q---------r-|        (a new view that still grants quorum)
 * stable:       -f--t--------|        (kept: the change is not unstable yet)
 *
 * input:        -q---n-|              n = { quorum: false, view: z }
 * stable:       -f--t-f|              (given up at once)
 * ```
 *
 * With `stableAfter` 0 every answer passes at once. Completion and errors
 * of the source pass through at once, cancelling the pending check.
 * Time comes only from `scheduler`.
 *
 * @param stableAfter - ms the view must hold before quorum is claimed
 * @param scheduler - drives the checks and `now()`; default asyncScheduler
 * @returns an operator from quorum decisions to the held answer, one value per change
 */
export function stableQuorum(stableAfter: number, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<QuorumInput, boolean> {
  return (source$) =>
    new Observable<boolean>((subscriber) => {
      let raw = false;
      let view: string | undefined;
      /** When the view last changed. */
      let changed = -Infinity;
      /** When the current run of changes (each less than stableAfter after the one before) began. */
      let runStart = -Infinity;
      let out: boolean | undefined;
      let check: Subscription | undefined;

      const decide = (): void => {
        check?.unsubscribe();
        check = undefined;
        const now = scheduler.now();
        const stable = now - changed >= stableAfter;
        const tolerated = out === true && now - runStart < 2 * stableAfter;
        const next = raw && (stable || tolerated);
        if (next !== out) {
          out = next;
          subscriber.next(next);
        }
        if (!raw || stable) return;
        // look again when the view has held long enough, or when the run becomes unstable
        const at = out === true ? Math.min(changed + stableAfter, runStart + 2 * stableAfter) : changed + stableAfter;
        check = scheduler.schedule(decide, Math.max(0, at - now));
      };

      const subscription = source$.subscribe({
        next: (input) => {
          const now = scheduler.now();
          if (input.view !== view) {
            // a view that held stableAfter was stable (it could claim quorum): the next change starts a new run
            if (now - changed >= stableAfter) runStart = now;
            changed = now;
            view = input.view;
          }
          raw = input.quorum;
          decide();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        check?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
