import { isUtf8 } from 'node:buffer';
import { asapScheduler, type Observable } from 'rxjs';
import { ConnectionEvents } from '../events.js';
import type { CloseCause, Connection, SocketEvent } from '../types.js';

type CloseEvent = Extract<SocketEvent, { type: 'close' }>;

/** What a NATS pair connection asks of its transport. */
export interface PairWire {
  /** Seals and publishes one frame (`F`) or close (`C`) payload to the peer; false when it could not be handed to the client. */
  publish(conn: NatsConnection, kind: 'F' | 'Y' | 'C', payload: Uint8Array | string): boolean;
  /** The NATS client's unsent bytes (shared by every connection). */
  readonly bufferedAmount: number;
  /** The connection finished: forget it. */
  ended(conn: NatsConnection): void;
  /** The connection's handshake frames went both ways: broadcasts and heartbeats may reach it now. */
  established(conn: NatsConnection): void;
}

/** The first frames each way are the session's handshake (hello, auth out; challenge, welcome in, or the reverse). */
const HANDSHAKE_FRAMES = 2;

/**
 * One pair connection over NATS subjects: frames go sealed to the peer's pair
 * subject, frames and closes come from the transport's one subscription.
 * Events are buffered until the one subscription to `events$`.
 */
export class NatsConnection implements Connection {
  /** NATS tells liveness by heartbeats: the session sends no pings. */
  readonly presence = true;
  /** Every frame is sealed here (pair or cluster key): the session adds no MAC of its own. */
  readonly sealed = true;
  readonly events$: Observable<SocketEvent>;
  /** Sequence numbers: the last sent, the last received. */
  outSeq = 0;
  inSeq = 0;
  /** When the last event was handed to the session (ms, Date.now). */
  lastRead = Date.now();
  /** The last round trip measured from heartbeats, ms. */
  rtt: number | undefined;
  private sent = 0;
  private received = 0;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private done = false;
  private isEstablished = false;
  private readonly events: ConnectionEvents;
  private readonly endListeners: Array<() => void> = [];
  /**
   * An inbound connection opened while the keyring holds several secrets:
   * the pair keys of each, until the dialer's first frame shows which one it
   * sealed with (`keyWith`).
   */
  candidates: readonly { readonly outKey: Buffer; readonly inKey: Buffer }[] | undefined;

  /**
   * @param id - grows per transport
   * @param direction - outbound when this node dialed
   * @param peer - the peer's node name (claimed until the handshake proves it)
   * @param cid - the connection id, 16 bytes
   * @param peerEpoch - the peer transport's epoch, 32 hex characters
   * @param outKey - seals what this side sends
   * @param inKey - checks what it receives
   * @param floors - the peer's broadcast and heartbeat sequence numbers at the opening
   */
  constructor(
    private readonly wire: PairWire,
    readonly id: number,
    readonly direction: 'inbound' | 'outbound',
    readonly peer: string,
    readonly cid: Buffer,
    readonly peerEpoch: string,
    public outKey: Buffer,
    public inKey: Buffer,
    readonly floors: readonly [number, number],
    private readonly maxPayload: number,
  ) {
    this.events = new ConnectionEvents(`NATS connection ${id}`, () => this.done, () => this.terminate());
    this.events$ = this.events.events$;
  }

  /** Keys the pair with one of its candidates (the one the dialer's first frame holds under), for good. */
  keyWith(keys: { readonly outKey: Buffer; readonly inKey: Buffer }): void {
    this.outKey = keys.outKey;
    this.inKey = keys.inKey;
    this.candidates = undefined;
  }

  /** For logs: `nats:<peer name>`. */
  get remote(): string {
    return `nats:${this.peer}`;
  }

  /** The connection id as hex. */
  get cidHex(): string {
    return this.cid.toString('hex');
  }

  /** Whether the handshake frames went both ways. */
  get established(): boolean {
    return this.isEstablished;
  }

  /** Whether the close event was emitted. */
  get ended(): boolean {
    return this.done;
  }

  /** The NATS client's unsent bytes: one client serves every connection, so this is the same for all. */
  get bufferedAmount(): number {
    return this.done ? 0 : this.wire.bufferedAmount;
  }

  /** Publishes one frame (text, or bytes with `binary`), sealed; dropped once closing. */
  send(data: string | Buffer, binary = false): void {
    if (this.state !== 'open') return;
    if (!this.wire.publish(this, binary ? 'Y' : 'F', data)) return;
    this.sent++;
    this.checkEstablished();
  }

  /** Tells the peer (sealed `C`), then closes here. Later calls do nothing. */
  close(cause: CloseCause, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.wire.publish(this, 'C', JSON.stringify({ cause, reason: reason.slice(0, 120) }));
    this.finishSoon({ type: 'close', cause, reason, local: true });
  }

  /** Immediate close: tells the peer `reset` (best effort), closes here. */
  terminate(): void {
    if (this.done || this.state === 'closed') return;
    if (this.state === 'open') this.wire.publish(this, 'C', JSON.stringify({ cause: 'reset', reason: '' }));
    this.state = 'closed';
    this.finishSoon({ type: 'close', cause: 'reset', reason: '', local: true });
  }

  /** Internal: calls `listener` once, after the close event. */
  onEnd(listener: () => void): void {
    if (this.done) listener();
    else this.endListeners.push(listener);
  }

  /** Internal: a fault this side found (the NATS link is gone): closes here, with `error`. */
  fail(cause: CloseCause, reason: string, error: Error): void {
    if (this.done || this.state === 'closed') return;
    if (this.state === 'open') this.wire.publish(this, 'C', JSON.stringify({ cause, reason }));
    this.state = 'closed';
    this.finish({ type: 'close', cause, reason, local: true, error });
  }

  /** Internal: a frame from the peer whose seal held; a binary one arrives as bytes. */
  receiveFrame(payload: Buffer, binary = false): void {
    if (this.state !== 'open') return;
    if (payload.length > this.maxPayload) {
      this.fail('too-big', 'Max payload size exceeded', new RangeError(`frame of ${payload.length} bytes over maxPayload ${this.maxPayload}`));
      return;
    }
    if (binary) {
      this.received++;
      this.emit({ type: 'message', data: Buffer.from(payload) });
      this.checkEstablished();
      return;
    }
    if (!isUtf8(payload)) {
      this.fail('protocol', 'Invalid UTF-8 sequence', new TypeError('frame is not valid UTF-8'));
      return;
    }
    this.received++;
    this.emit({ type: 'message', data: payload.toString('utf8') });
    this.checkEstablished();
  }

  /** Internal: a frame of the transport's own making (a liveness pong), or a broadcast for this link. */
  deliver(data: string): void {
    if (this.state !== 'open') return;
    this.emit({ type: 'message', data });
  }

  /** Internal: the peer closed (its seal held). */
  closeFromPeer(cause: CloseCause, reason: string): void {
    if (this.done) return;
    this.state = 'closed';
    this.finish({ type: 'close', cause, reason, local: false });
  }

  private checkEstablished(): void {
    if (this.isEstablished || this.sent < HANDSHAKE_FRAMES || this.received < HANDSHAKE_FRAMES) return;
    this.isEstablished = true;
    this.wire.established(this);
  }

  private finishSoon(event: CloseEvent): void {
    // after the current call stack: the caller (the session) finishes its own bookkeeping first
    asapScheduler.schedule(() => this.finish(event));
  }

  private finish(event: CloseEvent): void {
    if (this.done) return;
    this.done = true;
    this.state = 'closed';
    this.emit(event);
    this.wire.ended(this);
    for (const listener of this.endListeners.splice(0)) listener();
  }

  private emit(event: SocketEvent): void {
    this.lastRead = Date.now();
    this.events.emit(event);
  }
}

/** The close causes a peer may name; anything else reads as `protocol`. */
const CAUSES: ReadonlySet<string> = new Set<CloseCause>(['normal', 'shutdown', 'protocol', 'too-big', 'policy', 'timeout', 'handshake-timeout', 'duplicate', 'removed', 'slow', 'reset']);

/**
 * Reads a sealed close's payload.
 *
 * @returns the cause (unknown ones as `protocol`) and a reason of at most 120 characters
 */
export function readClose(payload: Buffer): { readonly cause: CloseCause; readonly reason: string } {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as { cause?: unknown; reason?: unknown };
    const cause = typeof parsed.cause === 'string' && CAUSES.has(parsed.cause) ? (parsed.cause as CloseCause) : 'protocol';
    return { cause, reason: typeof parsed.reason === 'string' ? parsed.reason.slice(0, 120) : '' };
  } catch {
    return { cause: 'protocol', reason: '' };
  }
}
