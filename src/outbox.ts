import type { LogLevel } from './log.js';
import type { MembershipState } from './membership/state.js';
import { encodeMsg, outgoingProblem } from './protocol/frames.js';
import type { Link } from './session/link.js';
import type { TrafficStats } from './stats.js';
import type { NodeMessage } from './types.js';
import type { SchedulerLike } from 'rxjs';
import type { Transport } from './transport/types.js';

/** Producers are told to wait once a peer has a quarter of sendBufferBytes unsent. */
const HIGH_WATER_DIVISOR = 4;
/** The leave notice a node sends each peer as it shuts down. */
const LEAVE_FRAME = '{"type":"leave"}';

/**
 * What leaves this node: application messages encoded once and checked
 * against the peer's limits before they are sent (a frame the peer would
 * refuse costs the whole connection), and the leave notice.
 */
export class Outbox {
  readonly #high: number;

  constructor(
    private readonly self: string,
    private readonly o: { readonly maxPayload: number; readonly sendBufferBytes: number; readonly scheduler: SchedulerLike; readonly transport?: Transport },
    private readonly log: (level: LogLevel, message: string, node?: string) => void,
    private readonly pressure: () => void,
    private readonly stats: TrafficStats,
  ) {
    this.#high = o.sendBufferBytes / HIGH_WATER_DIVISOR;
  }

  /** Sends `message` to every link in `to`; encoded once whatever their number. */
  broadcast(message: unknown, to: readonly Link[]): void {
    const frame = this.#encode(message, 'toCluster$');
    if (frame === undefined) return;
    let most = 0;
    const fast = this.o.transport;
    if (fast?.broadcast !== undefined && to.length > 0) {
      // one hand-over for all (NATS: one publish); then each link's slow-consumer check
      fast.broadcast(frame, to.map((link) => link.conn));
      for (const link of to) most = Math.max(most, link.queued());
    } else {
      for (const link of to) most = Math.max(most, link.send(frame));
    }
    this.stats.messagesSent += to.length;
    this.stats.bytesSent += frame.length * to.length;
    if (most > this.#high) this.pressure();
  }

  /** Sends `{ node, message }` to that node when it is joined; says why not otherwise. */
  sendTo(message: NodeMessage, state: MembershipState<Link>): void {
    if (typeof message !== 'object' || message === null || typeof message.node !== 'string') {
      this.log('warn', 'toNode$ expects { node, message }; value not sent');
      return;
    }
    const peer = state.peers.get(message.node);
    if (peer === undefined || !peer.configured) {
      this.log('warn', `toNode$ message not sent: ${message.node} is not configured`, message.node);
      return;
    }
    if (!peer.joined || peer.active === undefined) {
      this.log('warn', `toNode$ message not sent: ${message.node} is not online`, message.node);
      return;
    }
    const frame = this.#encode(message.message, 'toNode$', message.node);
    if (frame === undefined) return;
    this.stats.messagesSent++;
    this.stats.bytesSent += frame.length;
    if (peer.active.send(frame) > this.#high) this.pressure();
  }

  /** Tells `link`'s peer this node leaves, and closes the link. */
  leave(link: Link): void {
    link.send(LEAVE_FRAME);
    link.end('stopping', 'shutdown', 'shutting down');
  }

  /** One message frame as bytes, or undefined (logged) when no peer could take it. */
  #encode(message: unknown, via: string, node?: string): Buffer | undefined {
    let text: string;
    try {
      text = encodeMsg(this.self, Math.round(this.o.scheduler.now()), message);
    } catch (error) {
      this.log('warn', `${via} message not sent: ${(error as Error).message}`, node);
      return undefined;
    }
    const problem = outgoingProblem(text, this.o.maxPayload);
    if (problem !== undefined) {
      this.log('warn', `${via} message not sent: ${problem}`, node);
      return undefined;
    }
    return Buffer.from(text);
  }
}
