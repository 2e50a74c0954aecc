import {
  catchError,
  concat,
  concatMap,
  defer,
  distinctUntilChanged,
  EMPTY,
  filter,
  finalize,
  from,
  groupBy,
  map,
  merge,
  mergeMap,
  shareReplay,
  switchMap,
  take,
  takeWhile,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { CODES, type Code } from './limits.js';
import type { LogLevel } from './log.js';
import type { MembershipState } from './membership/state.js';
import { reconnectBackoff } from './operators/reconnectBackoff.js';
import type { Link } from './session/link.js';
import type { Settings } from './settings.js';
import { DialError, type Connection, type Transport } from './transport/types.js';

/** What a dial loop needs. */
export interface DialLoopContext {
  readonly transport: Transport;
  readonly settings$: Observable<Settings>;
  /** The membership, replayed: a peer is dialed only while it has no link. */
  readonly state$: Observable<MembershipState<Link>>;
  /** Joins: each resets the back-off. */
  readonly joined$: Observable<string>;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  failed(name: string, error: Error): void;
  /** A dial after the first to the same peer starts. */
  redialed(name: string): void;
  log(level: LogLevel, message: string, node: string, code: Code): void;
}

/** A peer configured at an address, or (addr undefined) removed. */
export interface ConfigChange {
  readonly name: string;
  readonly addr: string | undefined;
}

/**
 * One dial loop per configured peer: started when it is configured,
 * restarted with the new address when it moves, ended when it is removed.
 * A group per name closes when the name is removed, so names that come and
 * go leave no subscription behind.
 *
 * @param initial - the peers configured when dialing starts
 * @param changes$ - later configuration changes
 * @returns every connection dialed, with the peer it is meant to reach
 */
export function dialAll$(initial: () => readonly ConfigChange[], changes$: Observable<ConfigChange>, ctx: DialLoopContext): Observable<{ conn: Connection; expected: string }> {
  const peers = peerSignals(ctx.state$);
  return concat(defer(() => from(initial())), changes$).pipe(
    groupBy((c) => c.name, { duration: (g) => g.pipe(filter((c) => c.addr === undefined)) }),
    mergeMap((group$) =>
      group$.pipe(
        takeWhile((c) => c.addr !== undefined, true),
        switchMap((c) => (c.addr === undefined ? EMPTY : dialLoop$(c.name, c.addr, ctx, peers))),
      ),
    ),
  );
}

/** What the dial loops watch in the membership: the peers with a link, and the peers whose only link this node dialed and suspects. */
interface PeerSignals {
  readonly linked$: Observable<ReadonlySet<string>>;
  readonly stale$: Observable<ReadonlySet<string>>;
}

/**
 * The names each dial loop watches for, worked out once per membership state
 * for every peer, and told only when they change: each fold step would
 * otherwise run a check in every configured peer's loop (two each), and a
 * mesh forming folds hundreds of steps on every node.
 */
function peerSignals(state$: Observable<MembershipState<Link>>): PeerSignals {
  const names$ = (pick: (state: MembershipState<Link>, name: string) => boolean): Observable<ReadonlySet<string>> =>
    state$.pipe(
      map((state) => {
        const out = new Set<string>();
        for (const name of state.peers.keys()) if (pick(state, name)) out.add(name);
        return out;
      }),
      distinctUntilChanged(sameNames),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  return { linked$: names$((state, name) => (state.peers.get(name)?.links.length ?? 0) > 0), stale$: names$(stale) };
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a) if (!b.has(name)) return false;
  return true;
}

/**
 * Keeps one configured peer dialed for as long as the subscription lasts:
 * waits until the peer has no link, dials, lives as long as that connection
 * does, then redials with back-off (reset when the peer joins). Dial
 * failures are reported and retried the same way.
 *
 * @param name - the peer
 * @param address - its canonical address
 * @returns each connection it opened, with the peer it is meant to reach
 */
export function dialLoop$(name: string, address: string, ctx: DialLoopContext, peers: PeerSignals = peerSignals(ctx.state$)): Observable<{ conn: Connection; expected: string }> {
  return merge(keepDialed$(name, address, ctx, peers.linked$), refresh$(name, address, ctx, peers.stale$));
}

/**
 * Whether the link this node dialed to `name` is its only one and is
 * suspected (silent for readTimeout while other peers still hear the peer).
 */
function stale(state: MembershipState<Link>, name: string): boolean {
  const peer = state.peers.get(name);
  const active = peer?.active;
  // (not over a transport with presence of its own, NATS: there every link rides the same client)
  return peer !== undefined && active !== undefined && peer.suspect && !peer.dropping && peer.links.length === 1 && active.dialer === state.self && active.conn.presence !== true;
}

/**
 * A fresh connection beside a suspected one this node dialed: at once, then
 * every readTimeout while the suspicion lasts (one dial at a time). After a
 * network fault heals, a TCP connection can stay stalled for tens of seconds
 * in retransmission back-off while a new one opens at once. Both ends keep
 * the fresh link (the same dialer's newer connection wins the duplicate
 * rule), the old one is closed, and the peer is heard again with no leave.
 * A fresh link lives for as long as its connection does, whatever the
 * suspicion does meanwhile.
 */
function refresh$(name: string, address: string, ctx: DialLoopContext, stale$: Observable<ReadonlySet<string>>): Observable<{ conn: Connection; expected: string }> {
  /** Fresh dials not yet open (or failed): one at a time. */
  let dialing = 0;
  return stale$.pipe(
    map((names) => names.has(name)),
    distinctUntilChanged(),
    switchMap((due) => (due ? ctx.settings$.pipe(take(1), switchMap((s) => timer(0, s.readTimeout, ctx.scheduler))) : EMPTY)),
    filter(() => dialing === 0),
    mergeMap(() => {
      // this dial counts as in flight until it opens, fails or is given up, whatever happens to other dials
      let open = false;
      const settle = (): void => {
        if (open) return;
        open = true;
        dialing--;
      };
      dialing++;
      return ctx.settings$.pipe(
        take(1),
        concatMap((settings) => {
          ctx.log('debug', `${name} is silent on its connection: dialing a fresh one beside it`, name, CODES.DIAL);
          // within readTimeout: a dial lost to the fault gives way to the next one, so a healed network is found at once
          return ctx.transport.dial$(address, name, Math.min(settings.connectTimeout, settings.readTimeout));
        }),
        tap(settle),
        catchError((error: unknown) => {
          ctx.log('debug', `a fresh connection to ${name} at ${address} failed: ${error instanceof Error ? error.message : String(error)}`, name, CODES.DIAL);
          return EMPTY;
        }),
        finalize(settle),
      );
    }),
    map((conn) => ({ conn, expected: name })),
  );
}

/** Dials `name` whenever it has no link, with back-off. */
function keepDialed$(name: string, address: string, ctx: DialLoopContext, linked$: Observable<ReadonlySet<string>>): Observable<{ conn: Connection; expected: string }> {
  const idle$ = linked$.pipe(
    filter((names) => !names.has(name)),
    take(1),
  );
  let dials = 0;
  return defer(() => idle$).pipe(
    concatMap(() => ctx.settings$.pipe(take(1))),
    tap(() => {
      if (dials++ > 0) ctx.redialed(name);
    }),
    concatMap((settings) => ctx.transport.dial$(address, name, settings.connectTimeout)),
    tap({
      error: (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        ctx.failed(name, e);
        if (e instanceof DialError && e.tls) ctx.log('warn', `refused ${name} at ${address}: ${e.message}`, name, CODES.TLS);
        else ctx.log('debug', `dialing ${name} at ${address} failed: ${e.message}`, name, CODES.DIAL);
      },
    }),
    reconnectBackoff(ctx.settings$, {
      reset$: ctx.joined$.pipe(filter((n) => n === name)),
      scheduler: ctx.scheduler,
      random: ctx.random,
    }),
    map((conn) => ({ conn, expected: name })),
  );
}

