import { AsyncSubject, type Observable } from 'rxjs';
import type { FrameAuth } from '../protocol/frameAuth.js';
import type { CloseCause, Connection } from '../transport/types.js';

/** Why a peer's connection ended; carried to members$, membership$ and the logs. */
export type LeaveReason =
  | 'shutdown'
  | 'timeout'
  | 'lost'
  | 'removed'
  | 'duplicate'
  | 'refused'
  | 'slow'
  | 'stopping'
  | 'restarted';

/** Who a link's peer is: its name and the process behind it. */
export interface PeerIdentity {
  readonly peer: string;
  /** The peer's manager instance (random per process start). */
  readonly instance: string;
  /** When that process started, on its own clock: the larger is the newer process. */
  readonly incarnation: number;
}

/**
 * An authenticated connection to a named peer. Sending checks the send
 * buffer: a peer whose unsent bytes pass `sendBufferBytes` is a slow
 * consumer and is closed (cause `slow`).
 */
export class Link implements PeerIdentity {
  #endReason: LeaveReason | undefined;
  readonly #ended = new AsyncSubject<LeaveReason>();
  readonly #closed = new AsyncSubject<void>();
  /** Emits once, with the reason, when this side decides to end the link, then completes; late subscribers get the same. */
  readonly ended$: Observable<LeaveReason> = this.#ended.asObservable();

  constructor(
    readonly peer: string,
    readonly instance: string,
    readonly incarnation: number,
    /** The name of the node that dialed this connection. */
    readonly dialer: string,
    /** Grows with each connection on this node: the newer link has the larger seq. */
    readonly seq: number,
    readonly conn: Connection,
    private readonly sendBufferBytes: number,
    /** The metadata the peer sent in its handshake. */
    readonly metadata: Readonly<Record<string, unknown>> = {},
    /** The frame MACs of this connection, when it does not authenticate frames itself (plain ws). */
    readonly auth?: FrameAuth,
  ) {}

  /** The other end of the connection, for display. */
  get remote(): string {
    return this.conn.remote;
  }

  /** Why this side ended the link, once it did. */
  get endReason(): LeaveReason | undefined {
    return this.#endReason;
  }

  /**
   * Queues one serialised frame.
   *
   * @returns the bytes now queued for this peer (0 once the link ended)
   */
  send(data: string | Buffer, binary = false): number {
    if (this.#endReason !== undefined) return 0;
    this.conn.send(this.auth === undefined ? data : this.auth.seal(data, binary), binary);
    return this.queued();
  }

  /**
   * The slow-consumer check of `send`, alone: for a frame the transport
   * queued for this link by other means (its broadcast fast path).
   *
   * @returns the bytes now queued for this peer (0 once the link ended)
   */
  queued(): number {
    if (this.#endReason !== undefined) return 0;
    const buffered = this.conn.bufferedAmount;
    if (buffered > this.sendBufferBytes) {
      this.end('slow', 'slow', `slow consumer: ${buffered} bytes unsent`);
      return 0;
    }
    return buffered;
  }

  /**
   * Ends the link in order: closes with `cause` (the peer sees it) and
   * records `reason` for the leave. The first call wins; later ones do
   * nothing. The session cuts the connection if the close does not finish
   * within its grace.
   */
  end(reason: LeaveReason, cause: CloseCause, text: string): void {
    if (this.#endReason !== undefined) return;
    this.#endReason = reason;
    this.close(cause, text);
    this.#ended.next(reason);
    this.#ended.complete();
  }

  /**
   * Closes the connection with `cause`, recording no leave reason (the
   * session's own faults). On a connection with frame MACs the reason
   * carries one too: a close injected by a third party cannot pass for this one.
   */
  close(cause: CloseCause, text: string): void {
    this.conn.close(cause, this.auth === undefined ? text : this.auth.sealClose(cause, text));
  }

  /** Emits once the connection is closed for good (its close finished, or it was cut), then completes. */
  readonly closed$: Observable<void> = this.#closed.asObservable();

  /** The session tells: the connection is closed for good. */
  noteClosed(): void {
    this.#closed.next();
    this.#closed.complete();
  }

  /** Records why the link ends when the session itself found the fault (the first reason wins). */
  noteEnd(reason: LeaveReason): void {
    this.#endReason ??= reason;
  }
}
