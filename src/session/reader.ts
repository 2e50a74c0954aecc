import { Observable, type Subscriber } from 'rxjs';
import type { SocketEvent } from '../transport/types.js';

/**
 * One connection's events read once, for its whole life, and each turned
 * into a value (a frame) that every current reader gets: what
 * `events$.pipe(share(forever), map(read), share())` did, written out. It
 * runs for every frame of every link, and each rxjs step there (two
 * subjects, a map, their subscribers) is code run per frame; a frame read
 * here is one call into `read` and one loop over the readers.
 *
 * - The connection is subscribed at the first subscription to `values$` or
 *   `closed$` and stays subscribed until its events complete, whoever
 *   unsubscribes meanwhile (the close grace still needs to see the close
 *   after the session itself has ended).
 * - `read` runs once per event while anyone reads. A throw from it is the
 *   error of every current reader, and they are let go; with no reader, the
 *   event is not read at all.
 * - A reader that unsubscribes while a value is handed out still gets it if
 *   the loop had not reached it yet, as with a Subject; one added meanwhile
 *   waits for the next value.
 * - `closed$` emits `true` and completes once the connection's events
 *   complete (at once for a late subscriber), or errors with their error.
 */
export class ConnectionReader<T> {
  /** Every reader now; replaced, never changed in place, so a loop over it is never disturbed. */
  #readers: readonly Subscriber<T>[] = [];
  /** Who waits for the end. */
  #waiting: readonly Subscriber<true>[] = [];
  /** Whether the connection's events are subscribed (they stay so until they end). */
  #connected = false;
  /** How the connection's events ended, once they did. */
  #ended: Ended | undefined;

  /** Each event's value, for every current reader. */
  readonly values$: Observable<T>;
  /** `true`, then complete, once the connection's events complete. */
  readonly closed$: Observable<true>;

  constructor(
    private readonly events$: Observable<SocketEvent>,
    private readonly read: (event: SocketEvent) => T,
  ) {
    this.values$ = new Observable<T>((subscriber) => {
      if (this.#ended !== undefined) return endReader(subscriber, this.#ended);
      this.#readers = [...this.#readers, subscriber];
      this.#connect();
      return () => {
        this.#readers = this.#readers.filter((r) => r !== subscriber);
      };
    });
    this.closed$ = new Observable<true>((subscriber) => {
      if (this.#ended !== undefined) return endWaiter(subscriber, this.#ended);
      this.#waiting = [...this.#waiting, subscriber];
      this.#connect();
      return () => {
        this.#waiting = this.#waiting.filter((w) => w !== subscriber);
      };
    });
  }

  #connect(): void {
    if (this.#connected || this.#ended !== undefined) return;
    this.#connected = true;
    this.events$.subscribe({
      next: (event) => {
        const readers = this.#readers;
        if (readers.length === 0) return;
        let value: T;
        try {
          value = this.read(event);
        } catch (error) {
          this.#readers = [];
          for (const reader of readers) reader.error(error);
          return;
        }
        for (let i = 0; i < readers.length; i++) (readers[i] as Subscriber<T>).next(value);
      },
      error: (error: unknown) => this.#end({ error }),
      complete: () => this.#end('complete'),
    });
  }

  /** The connection's events ended: every reader and waiter is told, and let go. */
  #end(ended: Ended): void {
    this.#ended = ended;
    const readers = this.#readers;
    const waiting = this.#waiting;
    this.#readers = [];
    this.#waiting = [];
    for (const reader of readers) endReader(reader, ended);
    for (const waiter of waiting) endWaiter(waiter, ended);
  }
}

/** A reader told the end: its completion, or the events' error. */
function endReader<T>(reader: Subscriber<T>, ended: Ended): void {
  if (ended === 'complete') reader.complete();
  else reader.error(ended.error);
}

/** A waiter for the end told it: `true` and completion, or the events' error. */
function endWaiter(waiter: Subscriber<true>, ended: Ended): void {
  if (ended !== 'complete') return waiter.error(ended.error);
  waiter.next(true);
  waiter.complete();
}

/** How a connection's events ended: completed, or failed with an error. */
type Ended = { readonly error: unknown } | 'complete';
