import { Observable, type Subscriber } from 'rxjs';
import type { SocketEvent } from './types.js';

/**
 * The `events$` of a connection a transport builds itself (memory, NATS):
 * one subscriber, events buffered until it subscribes, completion after the
 * `close` event, and an early unsubscribe handed back to the connection
 * (which terminates itself). ws has its own, `socketEvents$`.
 */
export class ConnectionEvents {
  #subscribed = false;
  #subscriber: Subscriber<SocketEvent> | undefined;
  #buffer: SocketEvent[] = [];

  /** The events, for the connection's one subscriber; a second subscription errors. */
  readonly events$: Observable<SocketEvent>;

  /**
   * @param what - the connection, for the error a second subscriber gets
   * @param ended - whether the close event was emitted
   * @param unsubscribedEarly - called when the subscriber leaves before the close
   */
  constructor(what: string, ended: () => boolean, unsubscribedEarly: () => void) {
    this.events$ = new Observable<SocketEvent>((subscriber) => {
      if (this.#subscribed) {
        subscriber.error(new Error(`events$ of ${what} takes one subscriber`));
        return undefined;
      }
      this.#subscribed = true;
      const buffered = this.#buffer;
      this.#buffer = [];
      for (const event of buffered) deliver(subscriber, event);
      if (ended()) return undefined;
      this.#subscriber = subscriber;
      return () => {
        this.#subscriber = undefined;
        if (!ended()) unsubscribedEarly();
      };
    });
  }

  /** Hands `event` to the subscriber, or keeps it until there is one. */
  emit(event: SocketEvent): void {
    const subscriber = this.#subscriber;
    if (subscriber === undefined) this.#buffer.push(event);
    else deliver(subscriber, event);
  }

  /** Drops what is buffered (a killed process sees nothing more). */
  clear(): void {
    this.#buffer = [];
  }
}

function deliver(subscriber: Subscriber<SocketEvent>, event: SocketEvent): void {
  subscriber.next(event);
  if (event.type === 'close') subscriber.complete();
}
