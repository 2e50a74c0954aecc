import {
  distinctUntilChanged,
  map,
  observeOn,
  queueScheduler,
  scan,
  shareReplay,
  startWith,
  Subject,
  Subscription,
  type Observable,
} from 'rxjs';
import type { Code } from '../limits.js';
import type { LogLevel } from '../log.js';
import { quorum } from '../operators/quorum.js';
import type { Link } from '../session/link.js';
import type { MembershipEvent } from '../types.js';
import { reduceMembership } from './reduce.js';
import { membersView, type ApiClusterNode } from './snapshot.js';
import { countsOf, initialMembership, type MembershipInput, type MembershipState, type MembershipStep } from './state.js';

/** What the running fold does to the world: close links, tell peers this node leaves, log. */
export interface MembershipEffects {
  /** Tell the link's peer this node leaves, then close it. */
  leave(link: Link): void;
  log(level: LogLevel, message: string, node?: string, code?: Code): void;
}

/**
 * The membership fold running: inputs in, one state stream out, and every
 * public membership stream derived from it, so no snapshot ever shows a
 * state the fold never reached. Effects are performed before the state is
 * published: a join or leave reaches `events$` before the quorum change it
 * causes. Inputs that effects cause (a close reports a down) are queued
 * after the current step, never run inside it.
 */
export class LiveMembership {
  readonly #inputs = new Subject<MembershipInput<Link>>();
  readonly #events = new Subject<MembershipEvent>();
  readonly #packets = new Map<string, number>();
  readonly #subscription = new Subscription();
  #state: MembershipState<Link>;

  /** Every state the fold reaches, the current one replayed. */
  readonly state$: Observable<MembershipState<Link>>;
  /** Joins and leaves (hot). */
  readonly events$: Observable<MembershipEvent> = this.#events.asObservable();
  /** The public members map, replayed. */
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  /** Quorum, replayed, one value per change. */
  readonly quorum$: Observable<boolean>;

  constructor(
    self: string,
    private readonly effects: MembershipEffects,
  ) {
    this.#state = initialMembership<Link>(self);
    this.state$ = this.#inputs.pipe(
      observeOn(queueScheduler),
      scan((step: MembershipStep<Link>, input) => reduceMembership(step.state, input), { state: this.#state, effects: [] }),
      map((step) => this.#perform(step)),
      startWith(this.#state),
      distinctUntilChanged(),
      shareReplay({ bufferSize: 1, refCount: false }),
    );
    const replay = { bufferSize: 1, refCount: false } as const;
    this.members$ = this.state$.pipe(map((s) => membersView(s, (n) => this.#packets.get(n) ?? 0)), shareReplay(replay));
    this.quorum$ = this.state$.pipe(map(countsOf), quorum(), shareReplay(replay));
    // hot from the start: configuration before listen is seen at once
    this.#subscription.add(this.members$.subscribe());
    this.#subscription.add(this.quorum$.subscribe());
  }

  /** The state now. */
  get state(): MembershipState<Link> {
    return this.#state;
  }

  /** Feeds the fold. */
  input(input: MembershipInput<Link>): void {
    this.#inputs.next(input);
  }

  /** Counts one application packet from `name` (a statistic kept beside the fold). */
  countPacket(name: string): void {
    this.#packets.set(name, (this.#packets.get(name) ?? 0) + 1);
  }

  /** The members map now, packet counts included. */
  members(): ReadonlyMap<string, ApiClusterNode> {
    return membersView(this.#state, (n) => this.#packets.get(n) ?? 0);
  }

  /** Every configured peer and its address. */
  configured(): { readonly name: string; readonly addr: string }[] {
    return [...this.#state.peers.values()].filter((p) => p.configured).map((p) => ({ name: p.name, addr: p.addr }));
  }

  /** Every link not yet down. */
  links(): Link[] {
    return [...this.#state.peers.values()].flatMap((p) => p.links);
  }

  /** The active link of every joined peer: where a broadcast goes. */
  onlineLinks(): Link[] {
    const out: Link[] = [];
    for (const peer of this.#state.peers.values()) if (peer.joined && peer.active !== undefined) out.push(peer.active);
    return out;
  }

  /** Ends the fold and its streams. */
  complete(): void {
    this.#subscription.unsubscribe();
    this.#inputs.complete();
    this.#events.complete();
  }

  #perform(step: MembershipStep<Link>): MembershipState<Link> {
    this.#state = step.state;
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'close':
          if (effect.notify === true) this.effects.leave(effect.link);
          else effect.link.end(effect.reason, effect.cause, effect.text);
          break;
        case 'log':
          this.effects.log(effect.level, effect.message, effect.node, effect.code);
          break;
        case 'join':
          this.effects.log('info', `node ${effect.node} joined`, effect.node);
          this.#events.next({ type: 'join', node: effect.node, time: new Date(effect.time) });
          break;
        case 'leave':
          this.effects.log('info', `node ${effect.node} left (${effect.reason})`, effect.node);
          this.#events.next({ type: 'leave', node: effect.node, reason: effect.reason, time: new Date(effect.time) });
          break;
        case 'update':
          this.effects.log('debug', `node ${effect.node} updated its metadata`, effect.node);
          this.#events.next({ type: 'update', node: effect.node, metadata: effect.metadata, time: new Date(effect.time) });
          break;
      }
    }
    for (const name of this.#packets.keys()) if (!step.state.peers.has(name)) this.#packets.delete(name);
    return step.state;
  }
}
