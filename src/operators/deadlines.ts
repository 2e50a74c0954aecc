import type { Observer, SchedulerLike, Subscriber, Subscription } from 'rxjs';

/** One deadline of a {@link Deadlines} queue. */
export interface Deadline {
  /** When it fires, in the scheduler's time. */
  readonly at: number;
  /** Cancels it: it will not fire. Idempotent. */
  cancel(): void;
}

/**
 * Many deadlines on one scheduler, served by at most one scheduled action:
 * the earliest. Adding a deadline later than the armed one schedules
 * nothing, and cancelling one schedules nothing either: the action, when it
 * comes, fires whatever is due (in the order the deadlines were added) and
 * arms itself again for the earliest left. A request answered in time so
 * costs a set insert and a delete, not a timer armed and cleared.
 *
 * ```
 * add(4), add(6), cancel(4):   ----x-x      the action wakes at 4 (nothing due), then at 6
 * ```
 */
export class Deadlines {
  readonly #entries = new Set<Entry>();
  #armed: Subscription | undefined;
  #armedAt = Infinity;

  constructor(readonly scheduler: SchedulerLike) {}

  /** Calls `fire` at `at` (scheduler time; at once, on the next action, when already past) unless cancelled first. */
  add(at: number, fire: () => void): Deadline {
    const entry = new Entry(this.#entries, at, fire);
    this.#entries.add(entry);
    if (at < this.#armedAt) this.#arm(at);
    return entry;
  }

  /** How many deadlines are waiting (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** Stops the scheduled action and drops every deadline: nothing fires any more. */
  close(): void {
    this.#entries.clear();
    this.#armed?.unsubscribe();
    this.#armed = undefined;
    this.#armedAt = Infinity;
  }

  #arm(at: number): void {
    this.#armed?.unsubscribe();
    this.#armedAt = at;
    this.#armed = this.scheduler.schedule(() => this.#run(), Math.max(0, at - this.scheduler.now()));
  }

  #run(): void {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    const now = this.scheduler.now();
    const due: Entry[] = [];
    let next = Infinity;
    for (const entry of this.#entries) {
      if (entry.at <= now) due.push(entry);
      else if (entry.at < next) next = entry.at;
    }
    for (const entry of due) this.#entries.delete(entry);
    if (next < this.#armedAt) this.#arm(next);
    // an earlier callback of this run may cancel a later one; one that throws does not stop the others
    let failure: { readonly error: unknown } | undefined;
    for (const entry of due) {
      if (entry.cancelled) continue;
      entry.cancelled = true;
      try {
        entry.fire();
      } catch (error: unknown) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

class Entry implements Deadline {
  /** Cancelled, or fired: it will not fire (again). */
  cancelled = false;

  constructor(
    private readonly entries: Set<Entry>,
    readonly at: number,
    readonly fire: () => void,
  ) {}

  cancel(): void {
    this.cancelled = true;
    this.entries.delete(this);
  }
}

/**
 * How a deadline operator subscribes its source: every notification passed
 * on to `subscriber`, with `settle` called once, before the first of them
 * (a value, completion or error: the source's first sign of life, after
 * which there is no deadline any more).
 */
export function settling<T>(subscriber: Subscriber<T>, settle: () => void): Observer<T> {
  let settled = false;
  const first = (): void => {
    if (settled) return;
    settled = true;
    settle();
  };
  return {
    next: (value) => {
      first();
      subscriber.next(value);
    },
    error: (error: unknown) => {
      first();
      subscriber.error(error);
    },
    complete: () => {
      first();
      subscriber.complete();
    },
  };
}
