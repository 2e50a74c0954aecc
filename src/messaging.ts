import { EMPTY, filter, mergeMap, Observable, of, Subject, type Observer, type SchedulerLike, type Subscription } from 'rxjs';
import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { RequestError } from './errors.js';
import { CODES, type Code } from './limits.js';
import type { LogLevel } from './log.js';
import type { MembershipState } from './membership/state.js';
import { Deadlines } from './operators/deadlines.js';
import { requestTimeout } from './operators/requestTimeout.js';
import type { Outbox } from './outbox.js';
import { IncomingRequest, Packet, TypedPacket } from './packet.js';
import { ChannelName } from './protocol/frames.js';
import { reportErrors } from './protocol/report.js';
import type { Link } from './session/link.js';
import type { SessionEvent } from './session/session.js';
import type { Settings } from './settings.js';
import type { TrafficStats } from './stats.js';
import type { MembershipEvent, NodeMessage } from './types.js';

/** A typed channel: messages under one name, decoded with its codec. */
export interface Channel<T> {
  /** Messages on this channel from peers (hot), decoded; one that fails the codec is logged and dropped. */
  readonly messages$: Observable<TypedPacket<T>>;
  /** Sends `value` to every online peer on this channel. */
  next(value: T): void;
  /** Sends `value` to one peer on this channel; logged (not thrown) when it is not online. */
  toNode(node: string, value: T): void;
}

/** Options of `request$`. */
export interface RequestOptions {
  /** Ms to wait for the reply; default the `requestTimeout` setting (5000). */
  readonly timeout?: number;
}

/** An application frame from a peer, as its session tells it. */
type PacketEvent = Extract<SessionEvent, { type: 'packet' }>;

/** What messaging needs from the manager. */
export interface MessagingContext {
  readonly outbox: Outbox;
  readonly settings$: Observable<Settings>;
  readonly scheduler: SchedulerLike;
  readonly membership$: Observable<MembershipEvent>;
  state(): MembershipState<Link>;
  /** The active link of every joined peer: where a channel broadcast goes. */
  onlineLinks(): readonly Link[];
  listening(): boolean;
  log(level: LogLevel, message: string, node?: string, code?: Code): void;
  /** Counts messages received and late replies. */
  readonly stats: TrafficStats;
}

/**
 * What the application sends and receives over the links: plain messages,
 * request/reply and channels. Routes incoming application frames, keeps the
 * pending requests of this node, and takes what the application sends.
 */
export class Messaging {
  /** Pending requests of this node: peer → request id → how to settle it. */
  readonly #pending = new Map<string, Map<number, PendingRequest>>();
  /** Every pending request's deadline, served by one scheduled action (not one timer per request). */
  readonly #deadlines: Deadlines;
  /** Fails the pending requests to a peer that leaves (one subscription for all of them). */
  readonly #leaves: Subscription;
  readonly #fromCluster = new Subject<Packet>();
  readonly #requests = new Subject<IncomingRequest>();
  readonly #channels = new Subject<{ readonly ch: string; readonly packet: Packet }>();
  #nextId = 1;

  /** Plain messages from peers (hot). */
  readonly fromCluster$: Observable<Packet> = this.#fromCluster.asObservable();
  /** Requests from peers (hot): answer each with `reply(message)`. */
  readonly requests$: Observable<IncomingRequest> = this.#requests.asObservable();
  /** Broadcast: each value to every online peer, once listening. */
  readonly toCluster$: Observer<unknown> = this.#observer('toCluster$', (message) => this.ctx.listening() && this.ctx.outbox.broadcast({ type: 'msg' }, message, this.ctx.onlineLinks()));
  /** Private messages `{ node, message }`, once listening. */
  readonly toNode$: Observer<NodeMessage> = this.#observer('toNode$', (m: NodeMessage) => {
    if (typeof m !== 'object' || m === null) this.ctx.log('warn', 'toNode$ expects { node, message }; value not sent', undefined, CODES.SEND);
    else if (this.ctx.listening()) this.ctx.outbox.sendTo({ type: 'msg' }, m.node, m.message, this.ctx.state());
  });

  constructor(private readonly ctx: MessagingContext) {
    this.#deadlines = new Deadlines(ctx.scheduler);
    this.#leaves = ctx.membership$.subscribe((event) => {
      if (event.type === 'leave') this.#failAll(event.node, CODES.PEER_LEFT, `${event.node} left before it replied`);
    });
  }

  /** Counts and routes one application frame: a plain message, a request, a reply or a channel message. */
  receive({ frame, link, bytes }: PacketEvent): void {
    this.ctx.stats.messagesReceived++;
    this.ctx.stats.bytesReceived += bytes;
    const time = new Date(frame.time);
    switch (frame.type) {
      case 'msg':
        this.#fromCluster.next(new Packet(link.peer, time, frame.data));
        return;
      case 'req': {
        // the reply goes back on the link the request came on
        const answer = (message: unknown): boolean => this.ctx.listening() && this.ctx.outbox.sendOn(link, { type: 'res', id: frame.id }, message, 'reply');
        const refuse = (why: string): void => this.ctx.log('warn', why, link.peer, CODES.REPLY);
        this.#requests.next(new IncomingRequest(link.peer, time, frame.data, answer, refuse));
        return;
      }
      case 'res': {
        const pending = this.#pending.get(link.peer)?.get(frame.id);
        if (pending === undefined) {
          this.ctx.stats.lateReplies++;
          this.ctx.log('debug', `reply ${frame.id} from ${link.peer} matches no pending request (late or cancelled); dropped`, link.peer, CODES.REPLY);
          return;
        }
        this.#forget(link.peer, frame.id);
        pending.reply(new Packet(link.peer, time, frame.data));
        return;
      }
      case 'chan':
        this.#channels.next({ ch: frame.ch, packet: new Packet(link.peer, time, frame.data) });
        return;
    }
  }

  /**
   * Asks `node` and waits for its one reply. Cold: each subscription sends
   * one request; unsubscribing cancels it (a late reply is dropped and
   * counted).
   *
   * @throws TypeError at the call for a bad timeout
   */
  request$(node: string, message: unknown, options: RequestOptions = {}): Observable<Packet> {
    const ask$ = new Observable<Packet>((subscriber) => {
      const peer = this.ctx.state().peers.get(node);
      if (typeof node !== 'string' || peer === undefined || !peer.configured) return subscriber.error(new RequestError(CODES.NOT_CONFIGURED, node, `${String(node)} is not configured`));
      if (!this.ctx.listening() || !peer.joined) return subscriber.error(new RequestError(CODES.NOT_ONLINE, node, `${node} is not online`));
      const id = this.#nextId++;
      let byId = this.#pending.get(node);
      if (byId === undefined) this.#pending.set(node, (byId = new Map()));
      byId.set(id, {
        reply: (packet) => {
          subscriber.next(packet);
          subscriber.complete();
        },
        fail: (error) => subscriber.error(error),
      });
      if (!this.ctx.outbox.sendTo({ type: 'req', id }, node, message, this.ctx.state(), 'request$')) {
        this.#forget(node, id);
        subscriber.error(new RequestError(CODES.SEND, node, `request to ${node} not sent (see log$)`));
      }
      return () => this.#forget(node, id);
    });
    // built here, so a bad timeout throws at the call, not at subscription
    return ask$.pipe(requestTimeout<Packet>(node, this.ctx.settings$, options.timeout, this.ctx.scheduler, this.#deadlines));
  }

  /** Fails every request pending with `node`. */
  #failAll(node: string, code: Code, why: string): void {
    const byId = this.#pending.get(node);
    if (byId === undefined) return;
    this.#pending.delete(node);
    for (const request of byId.values()) request.fail(new RequestError(code, node, why));
  }

  #forget(node: string, id: number): void {
    const byId = this.#pending.get(node);
    if (byId?.delete(id) === true && byId.size === 0) this.#pending.delete(node);
  }

  /** The channel `name`, typed by `codec` when given. */
  channel<T>(name: string, codec?: t.Decoder<unknown, T>): Channel<T> {
    if (isLeft(ChannelName.decode(name))) throw new TypeError('Invalid channel name: expected 1 to 128 characters without control characters');
    const messages$ = this.#channels.pipe(
      filter((m) => m.ch === name),
      mergeMap(({ packet }) => {
        if (codec === undefined) return of(new TypedPacket<T>(packet.name, packet.time, packet.message(), name, packet.message() as T));
        const decoded = codec.decode(packet.binary ? packet.bytes() : packet.message());
        if (isLeft(decoded)) {
          this.ctx.log('warn', `channel ${name}: message from ${packet.name} dropped: ${reportErrors(decoded.left).join('; ')}`, packet.name, CODES.CHANNEL_DECODE);
          return EMPTY;
        }
        return of(new TypedPacket<T>(packet.name, packet.time, packet.binary ? packet.bytes() : packet.message(), name, decoded.right));
      }),
    );
    return {
      messages$,
      next: (value) => {
        if (this.ctx.listening()) this.ctx.outbox.broadcast({ type: 'chan', ch: name }, value, this.ctx.onlineLinks(), `channel ${name}`);
      },
      toNode: (node, value) => {
        if (this.ctx.listening()) this.ctx.outbox.sendTo({ type: 'chan', ch: name }, node, value, this.ctx.state(), `channel ${name}`);
      },
    };
  }

  complete(): void {
    // a request still waiting fails now: no reply and no deadline will come after the shutdown
    for (const node of [...this.#pending.keys()]) this.#failAll(node, CODES.NOT_ONLINE, `this node shut down before ${node} replied`);
    this.#deadlines.close();
    this.#leaves.unsubscribe();
    this.#requests.complete();
    this.#channels.complete();
    this.#fromCluster.complete();
  }

  /** An Observer in: `complete` is ignored and `error` only logged, so an application stream ending never stops the manager. */
  #observer<T>(via: string, next: (value: T) => unknown): Observer<T> {
    return {
      next: (value) => void next(value),
      error: (error: unknown) => this.ctx.log('warn', `a stream piped into ${via} failed: ${String(error)}`, undefined, CODES.SEND),
      complete: () => undefined,
    };
  }
}

/** How a pending request is settled: by its reply, or by a failure (its peer left). */
interface PendingRequest {
  reply(packet: Packet): void;
  fail(error: RequestError): void;
}
