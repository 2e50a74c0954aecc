import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import WebSocket from 'ws';
import { socketEvents$ } from './socketEvents.js';
import type { CloseCause, Connection, SocketEvent } from '../types.js';
import { closeCodeOf, isWsProtocolError } from './codes.js';
import { HANDSHAKE_MAX_FRAME, REFUSED_LINGER } from '../../limits.js';
import { CLOSE_REASON_BYTES, FRAME_MAC_CHARS, truncateUtf8 } from '../../protocol/frameAuth.js';

/** Bytes written to one socket in one turn past which they go out at once instead of at the turn's end. */
const CORK_LIMIT = 64 * 1024;

/** Send options of every frame (ws copies them): one object, not one per frame. */
const TEXT = Object.freeze({ binary: false });
/** The same for a binary frame. */
const BINARY = Object.freeze({ binary: true });

/** What a WsConnection is told besides its socket. */
export interface WsConnectionOptions {
  /** Bytes per frame once authenticated; before, at most HANDSHAKE_MAX_FRAME. */
  readonly maxPayload: number;
  /** Counts it out of the server's pending handshakes once authenticated (inbound only; a close counts itself out). */
  readonly release?: () => void;
  /** The verified certificate's names, with mutual TLS. */
  readonly peerNames?: readonly string[];
  /** TLS (or frame MACs turned off): the session adds no MAC of its own. */
  readonly sealed?: boolean;
}

/**
 * A ws socket behind the Connection interface. Until `authenticated()`, ws
 * refuses any frame over HANDSHAKE_MAX_FRAME at its header (1009), before
 * reading it, and a connection refused for a bad frame is read no further:
 * cut REFUSED_LINGER after its close frame.
 */
export class WsConnection implements Connection {
  readonly events$: Observable<SocketEvent>;
  readonly peerNames?: readonly string[];
  readonly sealed: boolean;
  readonly #options: WsConnectionOptions;
  #authenticated = false;

  constructor(
    readonly id: number,
    readonly direction: 'inbound' | 'outbound',
    readonly remote: string,
    private readonly ws: WebSocket,
    options: WsConnectionOptions,
  ) {
    this.#options = options;
    if (options.peerNames !== undefined) this.peerNames = options.peerNames;
    this.sealed = options.sealed === true;
    this.events$ = socketEvents$(ws, () => {
      this.#sentSinceHeard = 0;
    });
    setMaxPayload(ws, Math.min(HANDSHAKE_MAX_FRAME, options.maxPayload));
    ws.on('error', (error: Error) => {
      if (!this.#authenticated && isWsProtocolError(error)) this.#stopReading();
    });
  }

  /**
   * ws refused a frame of a caller not yet authenticated (its close frame and
   * FIN are on their way) and would read on, dropping what it reads, until the
   * caller closes: the rest of a 1 MiB frame, or of a frame header that claims
   * 2^63 bytes, all allocated and collected here. Instead nothing more is read
   * (the kernel's receive window closes on the caller) and the socket is cut
   * REFUSED_LINGER later; its session ended at the refusal (socketEvents$).
   * ws resumes the socket on the next tick, just before this pause. It
   * leaves the pending handshakes at once: paused, it would not even see the
   * caller's FIN, and refusals in a row (more than maxPendingHandshakes a
   * second) would hold every slot for REFUSED_LINGER and cut honest callers
   * at accept.
   */
  #stopReading(): void {
    this.#options.release?.();
    process.nextTick(() => this.ws.pause());
    const timer = setTimeout(() => this.ws.terminate(), REFUSED_LINGER).unref();
    this.onceClosed(() => clearTimeout(timer));
  }

  /** The peer proved the secret: frames up to maxPayload from now on, and no longer a pending handshake. */
  authenticated(): void {
    this.#authenticated = true;
    // (a frame's MAC comes on top of what the sender's maxPayload allows)
    setMaxPayload(this.ws, this.#options.maxPayload + (this.sealed ? 0 : FRAME_MAC_CHARS));
    this.#options.release?.();
  }

  /** Calls `listener` once the socket has closed (at once if it has). */
  onceClosed(listener: () => void): void {
    if (this.ws.readyState === WebSocket.CLOSED) listener();
    else this.ws.once('close', listener);
  }

  send(data: string | Buffer, binary = false): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.#coalesce(data.length);
    this.ws.send(data, binary ? BINARY : TEXT);
  }

  /** Frames sent since a frame of the peer's last arrived. */
  #sentSinceHeard = 0;
  /** The socket under ws while corked (until the end of the turn). */
  #corked: Duplex | undefined;
  /** Bytes (or characters) of the frames written since the socket was corked. */
  #corkedBytes = 0;
  /** At the end of the turn: whatever waits goes out, in one write. */
  readonly #uncork = (): void => {
    const socket = this.#corked;
    this.#corked = undefined;
    socket?.uncork();
  };

  /**
   * Frames sent to this peer one after another, with nothing heard from it
   * in between, go out together: from the second such frame the socket is
   * corked until the end of the turn of the event loop (its synchronous
   * work and ticks), so N messages sent in a loop cost one system call
   * rather than N. Past CORK_LIMIT bytes they go out at once, so a long
   * burst still flows and shows in bufferedAmount as before. The first
   * frame after the peer was heard (a reply, the next round of a ping-pong,
   * a message now and then in a conversation) goes out at once and costs a
   * counter; finding the turn's end by a tick for every frame would cost a
   * ping-pong round about 4 µs with both processes on one CPU, and a clock
   * read per frame about as much on a virtual machine whose clock is read
   * by a system call. Every frame is written by the end of the turn it was
   * sent in. ws corks and uncorks around each frame of its own; that nests
   * within this.
   */
  #coalesce(size: number): void {
    if (this.#corked !== undefined) {
      this.#corkedBytes += size;
      if (this.#corkedBytes > CORK_LIMIT) {
        this.#corked.uncork();
        this.#corked.cork();
        this.#corkedBytes = 0;
      }
      return;
    }
    if (this.#sentSinceHeard++ === 0) return;
    const socket = (this.ws as unknown as { _socket?: Duplex })._socket;
    if (socket === undefined || typeof socket.cork !== 'function') return;
    socket.cork();
    this.#corked = socket;
    this.#corkedBytes = size;
    process.nextTick(this.#uncork);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(cause: CloseCause, reason: string): void {
    if (cause === 'reset') {
      this.terminate();
      return;
    }
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(closeCodeOf(cause), truncateUtf8(reason, CLOSE_REASON_BYTES));
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/**
 * Sets the largest frame ws reads on this socket. ws has no public setter;
 * its receiver checks `_maxPayload` at each frame header, so a lower value
 * stops an oversized frame before it is buffered. Where the field is absent
 * the limit stays as opened (the session still refuses big handshake frames).
 */
function setMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver !== undefined && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
}
