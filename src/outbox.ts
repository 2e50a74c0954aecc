import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { LogLevel } from './log.js';
import type { MembershipState } from './membership/state.js';
import type { Report } from './membership/view.js';
import { backpressure } from './operators/backpressure.js';
import { encodeBinary, encodeFrame, encodePayload, outgoingProblem, payloadHead, type Frame, type PayloadKind } from './protocol/frames.js';
import type { Link } from './session/link.js';
import type { TrafficStats } from './stats.js';
import type { Transport } from './transport/types.js';

/** Producers are told to wait once a peer has a quarter of sendBufferBytes unsent. */
const HIGH_WATER_DIVISOR = 4;
/** Producers may go on once every peer is down to a sixteenth of sendBufferBytes. */
const LOW_WATER_DIVISOR = 16;
/** The leave notice a node sends each peer as it shuts down. */
const LEAVE_FRAME = '{"type":"leave"}';

/** One frame ready to send: text as UTF-8 bytes, or a binary frame. */
interface Encoded {
  readonly bytes: Buffer;
  readonly binary: boolean;
}

/**
 * What leaves this node: application messages (plain, channel, request,
 * reply; JSON values or bytes) encoded once and checked against the peer's
 * limits before they are sent (a frame the peer would refuse costs the
 * whole connection), metadata updates and the leave notice; and the
 * back-pressure its send buffers put on producers.
 */
export class Outbox {
  readonly #high: number;
  /** A send went past the high-water mark. */
  readonly #pressure = new Subject<void>();

  /** `true` while every peer's send buffer has room, `false` from a quarter of sendBufferBytes unsent until all are down to a sixteenth. */
  readonly writable$: Observable<boolean>;

  /**
   * @param links - every link not yet down, whose send buffers are watched
   */
  constructor(
    private readonly self: string,
    private readonly o: { readonly maxPayload: number; readonly sendBufferBytes: number; readonly scheduler: SchedulerLike; readonly transport?: Transport },
    private readonly log: (level: LogLevel, message: string, node?: string) => void,
    private readonly links: () => readonly Link[],
    private readonly stats: TrafficStats,
  ) {
    const high = (this.#high = o.sendBufferBytes / HIGH_WATER_DIVISOR);
    this.writable$ = this.#pressure.pipe(
      backpressure(() => this.bufferedAmount, { lowWater: o.sendBufferBytes / LOW_WATER_DIVISOR, scheduler: o.scheduler, pressedAtStart: () => this.bufferedAmount > high }),
    );
  }

  /** The most unsent bytes queued for any one peer. */
  get bufferedAmount(): number {
    let most = 0;
    for (const link of this.links()) most = Math.max(most, link.conn.bufferedAmount);
    return most;
  }

  /** Completes writable$. */
  complete(): void {
    this.#pressure.complete();
  }

  /** Sends `message` to every link in `to`; encoded once whatever their number. */
  broadcast(kind: PayloadKind, message: unknown, to: readonly Link[], via = 'toCluster$'): void {
    const frame = this.#encode(kind, message, via);
    if (frame === undefined) return;
    let most = 0;
    const fast = this.o.transport;
    if (fast?.broadcast !== undefined && to.length > 0 && !frame.binary && to.every((link) => link.auth === undefined)) {
      // one hand-over for all (NATS: one publish); then each link's slow-consumer check
      fast.broadcast(frame.bytes, to.map((link) => link.conn));
      for (const link of to) most = Math.max(most, link.queued());
    } else {
      for (const link of to) most = Math.max(most, link.send(frame.bytes, frame.binary));
    }
    this.stats.messagesSent += to.length;
    this.stats.bytesSent += frame.bytes.length * to.length;
    if (most > this.#high) this.#pressure.next();
  }

  /**
   * Sends `message` to `node` when it is joined; logs why not otherwise.
   *
   * @returns whether it was queued
   */
  sendTo(kind: PayloadKind, node: unknown, message: unknown, state: MembershipState<Link>, via = 'toNode$'): boolean {
    const link = this.online(node, state, via);
    return link !== undefined && this.sendOn(link, kind, message, via);
  }

  /**
   * Sends `message` on one link, joined or not (a reply goes back on the
   * link its request came on, even before the requester's join is announced here).
   *
   * @returns whether it was queued
   */
  sendOn(link: Link, kind: PayloadKind, message: unknown, via: string): boolean {
    if (link.endReason !== undefined) {
      this.log('warn', `${via} not sent: the connection to ${link.peer} has ended`, link.peer);
      return false;
    }
    const frame = this.#encode(kind, message, via, link.peer);
    if (frame === undefined) return false;
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.bytes.length;
    if (link.send(frame.bytes, frame.binary) > this.#high) this.#pressure.next();
    return true;
  }

  /** The joined link of `node`, or undefined with a log entry saying why not. */
  online(node: unknown, state: MembershipState<Link>, via: string): Link | undefined {
    if (typeof node !== 'string') {
      this.log('warn', `${via} expects a node name; not sent`);
      return undefined;
    }
    const peer = state.peers.get(node);
    if (peer === undefined || !peer.configured) {
      this.log('warn', `${via} message not sent: ${node} is not configured`, node);
      return undefined;
    }
    if (!peer.joined || peer.active === undefined) {
      this.log('warn', `${via} message not sent: ${node} is not online`, node);
      return undefined;
    }
    return peer.active;
  }

  /** Tells every link in `to` this node's new metadata. */
  metadata(metadata: Readonly<Record<string, unknown>>, to: readonly Link[]): void {
    const frame = encodeFrame({ type: 'meta', data: metadata });
    for (const link of to) link.send(frame);
  }

  /**
   * Reachability reports to each of `to`. Not over a transport with presence
   * of its own (NATS: every node reaches every other through the servers, and
   * liveness comes from the shared heartbeats): there a node's view is what it
   * sees itself.
   */
  reach(reports: readonly Report[], to: readonly Link[]): void {
    const over = to.filter((link) => link.conn.presence !== true);
    if (over.length === 0) return;
    const frame = encodeFrame({ type: 'reach', rows: reports } as Frame);
    for (const link of over) link.send(frame);
  }

  /** Tells `link`'s peer this node leaves, and closes the link. */
  leave(link: Link): void {
    link.send(LEAVE_FRAME);
    link.end('stopping', 'shutdown', 'shutting down');
  }

  /** One frame, or undefined (logged) when no peer could take it. */
  #encode(kind: PayloadKind, message: unknown, via: string, node?: string): Encoded | undefined {
    const time = Math.round(this.o.scheduler.now());
    const binary = message instanceof Uint8Array;
    let text: string;
    try {
      text = encodePayload(payloadHead(kind), this.self, time, binary ? null : message);
    } catch (error) {
      this.log('warn', `${via} message not sent: ${(error as Error).message}`, node);
      return undefined;
    }
    if (binary) {
      const size = text.length + message.byteLength + 3;
      if (size > this.o.maxPayload) {
        this.log('warn', `${via} message not sent: the frame is ${size} bytes, over maxPayload (${this.o.maxPayload})`, node);
        return undefined;
      }
      return { bytes: encodeBinary(text, message), binary: true };
    }
    const problem = outgoingProblem(text, this.o.maxPayload);
    if (problem !== undefined) {
      this.log('warn', `${via} message not sent: ${problem}`, node);
      return undefined;
    }
    return { bytes: Buffer.from(text), binary: false };
  }
}
