import { isUtf8 } from 'node:buffer';
import type { Observable, Subscription } from 'rxjs';
import { ConnectionEvents } from '../events.js';
import type { CloseCause, Connection, SocketEvent } from '../types.js';
import type { Fabric, Held } from './fabric.js';

/** What travels one way on a memory connection. */
type Item =
  | { readonly kind: 'frame'; readonly data: string | Buffer; readonly bytes: number; readonly binary: boolean }
  | { readonly kind: 'close'; readonly cause: CloseCause; readonly reason: string }
  | { readonly kind: 'reset' };

type CloseEvent = Extract<SocketEvent, { type: 'close' }>;

/**
 * One direction of a connection: a FIFO of items, each due at
 * `max(sent + latency, previous due)`, so nothing overtakes an earlier item
 * even when the latency drops. Items stay queued while either end is frozen.
 */
class Pipe implements Held {
  private readonly queue: Array<{ readonly at: number; readonly item: Item }> = [];
  private lastAt = -Infinity;
  private frameBytes = 0;

  constructor(
    private readonly fabric: Fabric,
    private readonly from: string,
    private readonly to: string,
    private readonly deliver: (item: Item) => void,
  ) {}

  /** Bytes of frames held for a frozen receiver; 0 otherwise. */
  get heldBytes(): number {
    return this.fabric.isFrozen(this.to) ? this.frameBytes : 0;
  }

  /** True when `name` is one end of this pipe. */
  touches(name: string): boolean {
    return name === this.from || name === this.to;
  }

  /** Queues an item, due after the current latency and after the previous one. */
  push(item: Item): void {
    const now = this.fabric.now();
    const at = Math.max(now + this.fabric.latency, this.lastAt);
    this.lastAt = at;
    this.queue.push({ at, item });
    if (item.kind === 'frame') this.frameBytes += item.bytes;
    this.fabric.hold(this);
    this.fabric.schedule(at - now, () => this.pump());
  }

  /** Delivers every due item, in order, unless an end is frozen. */
  pump(): void {
    for (let head = this.queue[0]; head !== undefined; head = this.queue[0]) {
      if (head.at > this.fabric.now() || this.fabric.isFrozen(this.from) || this.fabric.isFrozen(this.to)) return;
      this.queue.shift();
      if (head.item.kind === 'frame') this.frameBytes -= head.item.bytes;
      if (this.queue.length === 0) this.fabric.release(this);
      this.deliver(head.item);
    }
  }

  /** Drops everything still queued (a killed sender's unsent data). */
  clear(): void {
    this.queue.length = 0;
    this.frameBytes = 0;
    this.fabric.release(this);
  }
}

/** Where one side of a connection lives. */
export interface SideInfo {
  /** The side's connection id, from its transport's counter. */
  readonly id: number;
  /** The node's name. */
  readonly name: string;
  /** Bytes per frame this side accepts. */
  readonly maxPayload: number;
}

/**
 * One side of an in-memory connection. Built in pairs by {@link connectPair};
 * the rules (delays, drops, holds) come from the fabric.
 */
export class MemoryConnection implements Connection {
  /** Nobody else writes into an in-process network: no frame MACs. */
  readonly sealed = true;
  /** The side's events; buffered until the one subscription, which ends with the close event. */
  readonly events$: Observable<SocketEvent>;
  private out: Pipe | undefined;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private ended = false;
  private dead = false;
  private readonly events: ConnectionEvents;
  private pendingClose: Subscription | undefined;
  private readonly endListeners: Array<() => void> = [];

  constructor(
    private readonly fabric: Fabric,
    readonly id: number,
    readonly direction: 'inbound' | 'outbound',
    readonly remote: string,
    private readonly local: string,
    private readonly maxPayload: number,
  ) {
    this.events = new ConnectionEvents(`memory connection ${id}`, () => this.ended, () => this.terminate());
    this.events$ = this.events.events$;
  }

  /** Bytes held for a frozen receiver; 0 otherwise. */
  get bufferedAmount(): number {
    return this.dead || this.out === undefined ? 0 : this.out.heldBytes;
  }

  /** Sends one frame (text, or bytes with `binary`); dropped when closing, closed, dead, or the way is blocked. */
  send(data: string | Buffer, binary = false): void {
    if (this.dead || this.state !== 'open') return;
    const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    const copy = typeof data === 'string' ? data : Buffer.from(data);
    this.toPeer({ kind: 'frame', data: copy, bytes, binary });
  }

  /**
   * Orderly close: the peer hears after one latency, this side after a round
   * trip (at once when either direction is blocked). Later calls do nothing.
   */
  close(cause: CloseCause, reason: string): void {
    if (this.dead || this.state !== 'open') return;
    this.state = 'closing';
    const roundTrip = this.fabric.isSplit(this.local, this.remote) ? 0 : 2 * this.fabric.latency;
    this.toPeer({ kind: 'close', cause, reason });
    this.pendingClose = this.fabric.schedule(roundTrip, () => {
      if (this.state !== 'closing') return;
      this.state = 'closed';
      this.finish({ type: 'close', cause, reason, local: true });
    });
  }

  /** Immediate close: `reset` here at the current time, at the peer after one latency. */
  terminate(): void {
    if (this.dead || this.state === 'closed') return;
    this.state = 'closed';
    this.pendingClose?.unsubscribe();
    this.pendingClose = this.fabric.schedule(0, () => this.finish({ type: 'close', cause: 'reset', reason: '', local: true }));
    this.toPeer({ kind: 'reset' });
  }

  /** Internal: calls `listener` once, when the close event is emitted (never for a killed side). */
  onEnd(listener: () => void): void {
    this.endListeners.push(listener);
  }

  /** Internal: the process died. Nothing more is seen here; the peer gets a reset. */
  die(): void {
    if (this.dead) return;
    this.dead = true;
    this.ended = true;
    this.state = 'closed';
    this.events.clear();
    this.pendingClose?.unsubscribe();
    this.out?.clear();
    this.toPeer({ kind: 'reset' });
  }

  /** Internal: wires this side to send into `peer`. */
  link(peer: MemoryConnection): void {
    this.out = new Pipe(this.fabric, this.local, this.remote, (item) => peer.receive(item));
  }

  private toPeer(item: Item): void {
    if (this.out === undefined || this.fabric.isBlocked(this.local, this.remote)) return;
    this.out.push(item);
  }

  private receive(item: Item): void {
    if (this.dead || this.ended || this.state === 'closed') return;
    if (item.kind === 'frame') this.receiveFrame(item.data, item.bytes, item.binary);
    else if (item.kind === 'reset') this.closeFromPeer('reset', '');
    else if (this.state === 'open') this.closeFromPeer(item.cause, item.reason);
  }

  private receiveFrame(data: string | Buffer, bytes: number, binary: boolean): void {
    if (bytes > this.maxPayload) {
      this.fail('too-big', 'Max payload size exceeded', new RangeError(`frame of ${bytes} bytes over maxPayload ${this.maxPayload}`));
    } else if (binary) {
      this.emit({ type: 'message', data: typeof data === 'string' ? Buffer.from(data) : data });
    } else if (typeof data !== 'string' && !isUtf8(data)) {
      this.fail('protocol', 'Invalid UTF-8 sequence', new TypeError('text frame is not valid UTF-8'));
    } else {
      this.emit({ type: 'message', data: typeof data === 'string' ? data : data.toString('utf8') });
    }
  }

  /** A fault this side detected: close here (local), tell the peer. */
  private fail(cause: CloseCause, reason: string, error: Error): void {
    this.state = 'closed';
    this.toPeer({ kind: 'close', cause, reason });
    this.finish({ type: 'close', cause, reason, local: true, error });
  }

  private closeFromPeer(cause: CloseCause, reason: string): void {
    this.state = 'closed';
    this.finish({ type: 'close', cause, reason, local: false });
  }

  private finish(event: CloseEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.pendingClose?.unsubscribe();
    this.emit(event);
    for (const listener of this.endListeners.splice(0)) listener();
  }

  private emit(event: SocketEvent): void {
    if (!this.dead) this.events.emit(event);
  }
}

/**
 * Makes both sides of one connection: the dialer's outbound side and the
 * acceptor's inbound side, each sending into the other.
 */
export function connectPair(fabric: Fabric, dialer: SideInfo, acceptor: SideInfo): [MemoryConnection, MemoryConnection] {
  const outbound = new MemoryConnection(fabric, dialer.id, 'outbound', acceptor.name, dialer.name, dialer.maxPayload);
  const inbound = new MemoryConnection(fabric, acceptor.id, 'inbound', dialer.name, acceptor.name, acceptor.maxPayload);
  outbound.link(inbound);
  inbound.link(outbound);
  return [outbound, inbound];
}
