import {
  asyncScheduler,
  combineLatest,
  distinctUntilChanged,
  filter,
  map,
  observeOn,
  queueScheduler,
  ReplaySubject,
  scan,
  shareReplay,
  startWith,
  Subject,
  Subscription,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { reportSpacing, type Code } from '../limits.js';
import type { LogLevel } from '../log.js';
import { stableQuorum, type QuorumInput } from '../operators/stableQuorum.js';
import { quorumBy, type QuorumStrategy } from '../protocol/quorum.js';
import type { Link } from '../session/link.js';
import type { MembershipEvent } from '../types.js';
import { reduceMembership } from './reduce.js';
import { membersView, type ApiClusterNode } from './snapshot.js';
import { countsOf, initialMembership, type MembershipInput, type MembershipState, type MembershipStep, type PeerState } from './state.js';
import { newerReport, sortNames, type Report, type View } from './view.js';

/** What the running fold does to the world: close links, tell peers this node leaves, log. */
export interface MembershipEffects {
  /** Tell the link's peer this node leaves, then close it. */
  leave(link: Link): void;
  log(level: LogLevel, message: string, node?: string, code?: Code): void;
  /** Send reachability reports to these links. */
  gossip(reports: readonly Report[], to: readonly Link[]): void;
}

/** How the fold's quorum is decided, and on which clock. */
export interface LiveMembershipOptions {
  /** This process's incarnation. */
  readonly inc: number;
  readonly quorum: QuorumStrategy;
  /** Drives the fold's own waits (a held join, the tick that reports a loss) and the quorum's stableAfter. */
  readonly scheduler?: SchedulerLike;
  /** readTimeout, whose changes the fold follows (losses are reported, flap penalties halve, by it). */
  readonly readTimeout$?: Observable<number>;
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
  /** Each peer state's public view, made once (see membersView). */
  readonly #views = new WeakMap<PeerState<Link>, ApiClusterNode>();
  readonly #subscription = new Subscription();
  readonly #scheduler: SchedulerLike;
  /** The fold's pending tick: one at a time, for the earliest time it asked for. */
  #tick = new Subscription();
  /** Reports waiting to go, per link: the latest of each author. A burst of changes (a node starting, a partition) sends one frame per link. */
  readonly #outgoing = new Map<Link, Map<string, Report>>();
  #flush: Subscription | undefined;
  /** When the last batch of reports went out (scheduler clock). */
  #lastFlush: number | undefined;
  #state: MembershipState<Link>;

  /** Every state the fold reaches, the current one replayed. */
  readonly state$: Observable<MembershipState<Link>>;
  /** Joins and leaves (hot). */
  readonly events$: Observable<MembershipEvent> = this.#events.asObservable();
  /** The name of each node that joined (hot). */
  readonly nodeJoin$: Observable<string> = this.events$.pipe(filter((e) => e.type === 'join'), map((e) => e.node));
  /** The name of each joined node that left (hot). */
  readonly nodeLeave$: Observable<string> = this.events$.pipe(filter((e) => e.type === 'leave'), map((e) => e.node));
  /** The public members map, replayed. */
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  /** Quorum, replayed, one value per change. */
  readonly quorum$: Observable<boolean>;
  /** The agreed view, replayed, one value per change. */
  readonly view$: Observable<View>;
  /** The view's lowest-named member while quorum holds, else null; replayed. */
  readonly leader$: Observable<string | null>;
  /** Whom each node reports it sees (this one included), replayed. */
  readonly reachability$: Observable<ReadonlyMap<string, readonly string[]>>;
  /** links() and onlineLinks() of the state they were made from. */
  #lists: LinkLists | undefined;

  constructor(
    self: string,
    private readonly effects: MembershipEffects,
    options: LiveMembershipOptions = { inc: 0, quorum: { strategy: 'majority' } },
  ) {
    this.#state = initialMembership<Link>(self, options.inc);
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.state$ = this.#inputs.pipe(
      observeOn(queueScheduler),
      scan((step: MembershipStep<Link>, input) => reduceMembership(step.state, input), { state: this.#state, effects: [] }),
      map((step) => this.#perform(step)),
      startWith(this.#state),
      distinctUntilChanged(),
      shareReplay({ bufferSize: 1, refCount: false }),
    );
    const replay = { bufferSize: 1, refCount: false } as const;
    // every derived stream is worked out by one subscriber to the states, each part only when what it
    // is made of changed (most steps, a report or a lag, change one part): one hand-over per state
    // rather than one chain of operators per stream, which each fold step ran through
    const members$ = new ReplaySubject<ReadonlyMap<string, ApiClusterNode>>(1);
    const quorumInput$ = new Subject<QuorumInput>();
    const view$ = new ReplaySubject<View>(1);
    const reachability$ = new ReplaySubject<ReadonlyMap<string, readonly string[]>>(1);
    this.members$ = members$.asObservable();
    const strategy = options.quorum;
    this.quorum$ = quorumInput$.pipe(stableQuorum(strategy.stableAfter ?? 0, this.#scheduler), shareReplay(replay));
    this.view$ = view$.asObservable();
    this.reachability$ = reachability$.asObservable();
    this.leader$ = combineLatest([this.view$, this.quorum$]).pipe(
      map(([v, q]) => (q ? (v.members[0] ?? null) : null)),
      distinctUntilChanged(),
      shareReplay(replay),
    );
    // hot from the start: configuration before listen is seen at once
    this.#subscription.add(this.quorum$.subscribe());
    this.#subscription.add(this.leader$.subscribe());
    let last: MembershipState<Link> | undefined;
    let lastView: View | undefined;
    let lastReach: ReadonlyMap<string, readonly string[]> | undefined;
    const subjects = [members$, quorumInput$, view$, reachability$];
    // it also keeps the fold running from the first input (inputs reach the fold only while its states are
    // subscribed); not in #subscription: it stays until the states complete, and completes the streams with them
    this.state$.subscribe({
      next: (s) => {
        const prev = last;
        last = s;
        if (prev === undefined || prev.peers !== s.peers) members$.next(membersView(s, (n) => this.#packets.get(n) ?? 0, this.#views));
        if (prev === undefined || prev.peers !== s.peers || prev.view !== s.view || prev.own.view !== s.own.view) {
          quorumInput$.next({ quorum: quorumBy(strategy, { self, configured: countsOf(s).configured, members: s.view, oldest: oldestOf(s) }), view: s.own.view });
        }
        if (prev === undefined || prev.own !== s.own || prev.view !== s.view || prev.reports !== s.reports) {
          const next: View = { id: s.own.view, members: s.view, converged: converged(s) };
          if (lastView === undefined || lastView.id !== next.id || lastView.converged !== next.converged) view$.next((lastView = next));
        }
        // (of the peers, only which are configured counts: a pong changes a peer's lag, not this)
        if (prev === undefined || prev.own !== s.own || prev.reports !== s.reports || !sameConfigured(prev.peers, s.peers)) {
          const next = reachabilityOf(s);
          if (lastReach === undefined || !sameReachability(lastReach, next)) reachability$.next((lastReach = next));
        }
      },
      error: (error: unknown) => {
        for (const subject$ of subjects) subject$.error(error);
      },
      complete: () => {
        for (const subject$ of subjects) subject$.complete();
      },
    });
    if (options.readTimeout$ !== undefined) {
      this.#subscription.add(options.readTimeout$.pipe(distinctUntilChanged()).subscribe((readTimeout) => this.input({ type: 'tune', readTimeout })));
    }
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
    return membersView(this.#state, (n) => this.#packets.get(n) ?? 0, this.#views);
  }

  /** Every configured peer and its address. */
  configured(): { readonly name: string; readonly addr: string }[] {
    return [...this.#state.peers.values()].filter((p) => p.configured).map((p) => ({ name: p.name, addr: p.addr }));
  }

  /** Every link not yet down. */
  links(): readonly Link[] {
    return this.#linkLists().all;
  }

  /** The active link of every joined peer: where a broadcast goes. */
  onlineLinks(): readonly Link[] {
    return this.#linkLists().online;
  }

  /**
   * Both lists of links, made once per state: a broadcast asks for the
   * online links with every message, and bufferedAmount for all links with
   * every read (a producer may read it before each message), while the
   * state changes only with the membership (or a pong).
   */
  #linkLists(): LinkLists {
    const state = this.#state;
    if (this.#lists?.state === state) return this.#lists;
    const all: Link[] = [];
    const online: Link[] = [];
    for (const peer of state.peers.values()) {
      for (const link of peer.links) all.push(link);
      if (peer.joined && peer.active !== undefined) online.push(peer.active);
    }
    this.#lists = { state, all: Object.freeze(all), online: Object.freeze(online) };
    return this.#lists;
  }

  /** Ends the fold and its streams. */
  complete(): void {
    this.#subscription.unsubscribe();
    this.#tick.unsubscribe();
    this.#flush?.unsubscribe();
    this.#outgoing.clear();
    this.#inputs.complete();
    this.#events.complete();
  }

  /**
   * Queues reports for links, keeping the newest of each author. They go out
   * together at the end of this turn, or, within REPORT_SPACING (at most
   * readTimeout / 10) of the last batch, at the end of that window.
   */
  #queueReports(reports: readonly Report[], to: readonly Link[]): void {
    for (const link of to) {
      let queued = this.#outgoing.get(link);
      if (queued === undefined) this.#outgoing.set(link, (queued = new Map()));
      for (const report of reports) if (newerReport(report, queued.get(report.node))) queued.set(report.node, report);
    }
    if (this.#flush !== undefined) return;
    const spacing = reportSpacing(this.#state.readTimeout);
    const wait = this.#lastFlush === undefined ? 0 : Math.max(0, this.#lastFlush + spacing - this.#scheduler.now());
    this.#flush = this.#scheduler.schedule(() => {
      this.#flush = undefined;
      this.#lastFlush = this.#scheduler.now();
      const batches = [...this.#outgoing];
      this.#outgoing.clear();
      for (const [link, queued] of batches) this.effects.gossip([...queued.values()], [link]);
    }, wait);
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
        case 'suspect':
          this.#events.next({ type: effect.suspect ? 'suspect' : 'alive', node: effect.node, time: new Date(effect.time) });
          break;
        case 'gossip':
          this.#queueReports(effect.reports, effect.to);
          break;
        case 'holdJoin': {
          const link = effect.link;
          this.#subscription.add(this.#scheduler.schedule(() => this.input({ type: 'joinDue', link, time: this.#scheduler.now() }), effect.delay));
          break;
        }
        case 'recheck':
          this.#tick.unsubscribe();
          this.#tick = this.#scheduler.schedule(() => this.input({ type: 'tick', time: this.#scheduler.now() }), effect.delay);
          break;
      }
    }
    for (const name of this.#packets.keys()) if (!step.state.peers.has(name)) this.#packets.delete(name);
    return step.state;
  }
}

/** The oldest running node this node knows of (earliest incarnation, then name), itself included. */
function oldestOf(state: MembershipState<Link>): string {
  let name = state.self;
  let inc = state.inc;
  for (const peer of state.peers.values()) {
    if (!peer.configured || peer.incarnation === null) continue;
    if (peer.incarnation < inc || (peer.incarnation === inc && peer.name < name)) {
      name = peer.name;
      inc = peer.incarnation;
    }
  }
  return name;
}

/** Whether every other member of the view reports the view id this node computed. */
function converged(state: MembershipState<Link>): boolean {
  for (const name of state.view) if (name !== state.self && state.reports.get(name)?.view !== state.own.view) return false;
  return true;
}

/** Whom each node reports it sees: this node's own report and every report held of a configured node. */
function reachabilityOf(state: MembershipState<Link>): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, readonly string[]>([[state.self, state.own.sees]]);
  const names = sortNames([...state.reports.keys()]);
  for (const name of names) {
    const report = state.reports.get(name) as Report;
    if (state.peers.get(name)?.configured === true) out.set(name, report.sees);
  }
  return out;
}

/** Whether the same names are peers in `a` and `b`, each configured in both or in neither. */
function sameConfigured(a: MembershipState<Link>['peers'], b: MembershipState<Link>['peers']): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [name, peer] of a) if (b.get(name)?.configured !== peer.configured) return false;
  return true;
}

function sameReachability(a: ReadonlyMap<string, readonly string[]>, b: ReadonlyMap<string, readonly string[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, sees] of a) {
    const other = b.get(name);
    if (other === undefined || other.length !== sees.length) return false;
    for (let i = 0; i < sees.length; i++) if (sees[i] !== other[i]) return false;
  }
  return true;
}

/** The links of one membership state: all of them, and the active link of each joined peer. */
interface LinkLists {
  readonly state: MembershipState<Link>;
  readonly all: readonly Link[];
  readonly online: readonly Link[];
}
