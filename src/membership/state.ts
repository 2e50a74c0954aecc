import type { CloseCause, Code } from '../limits.js';
import type { LogLevel } from '../log.js';
import type { LeaveReason, PeerIdentity } from '../session/link.js';
import { viewId, type Report } from './view.js';

/** The seed's node status strings. */
export const STATUS = Object.freeze({
  /** A configured node with no connection (the seed's StatusOffline). */
  OFFLINE: 'Offline',
  /** An authenticated connection waits out joinDelay (StatusAuthenticating). */
  AUTHENTICATING: 'Authenticating',
  /** Joined (StatusOnline). */
  ONLINE: 'Online',
  /** Joined, but silent for readTimeout: suspected until it speaks again or its peers confirm. */
  SUSPECT: 'Suspect',
  /** The node announced its shutdown (StatusLeaving). */
  LEAVING: 'Leaving',
  /** This manager is shutting down (StatusShutdown). */
  STOPPING: 'Stopping',
});
export type Status = (typeof STATUS)[keyof typeof STATUS];

/**
 * What the fold needs of a link: who is behind it and which connection it
 * is. The manager's links are `Link`s; table tests use plain objects.
 */
export interface LinkRef extends PeerIdentity {
  /** The node that dialed this connection. */
  readonly dialer: string;
  /** Grows with each connection on this node. */
  readonly seq: number;
  /** The other end of the connection, for display. */
  readonly remote: string;
  /** The metadata the peer sent in its handshake. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** What this node knows about one peer. Immutable: the fold makes a new one on each change. */
export interface PeerState<L extends LinkRef = LinkRef> {
  readonly name: string;
  /** The configured address, or '' for a node only known from an inbound connection. */
  readonly addr: string;
  readonly configured: boolean;
  /** Authenticated connections not yet down (two only while a duplicate is resolved). */
  readonly links: readonly L[];
  /** The link in use, one of `links`. */
  readonly active: L | undefined;
  /** When `active`'s process became this peer's active one (ms, scheduler clock). */
  readonly activeSince: number | null;
  readonly joined: boolean;
  readonly status: Status;
  /** The last fault seen on this peer, or ''. */
  readonly error: string;
  /** When it last joined (ms), or null. */
  readonly jointime: number | null;
  /** When it last left (ms), or null. */
  readonly leavetime: number | null;
  /** The last measured ping round trip in ms while joined; 0 otherwise. */
  readonly lag: number;
  /** Why it last left, or null. */
  readonly leaveReason: LeaveReason | null;
  /** The peer's metadata: from its handshake, then its updates; `{}` before it ever connected. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Joined, but its active link has been silent for readTimeout. */
  readonly suspect: boolean;
  /** The suspicion was confirmed (no peer this node sees still sees it): its link is being closed. */
  readonly dropping: boolean;
  /** The incarnation of its last process, while that one may still run (keep-oldest); null once it left in order or was replaced. */
  readonly incarnation: number | null;
  /** Flap damping: the penalty at `penaltyAt` (one per fault that ended a link of the same process; halves every half-life). */
  readonly penalty: number;
  readonly penaltyAt: number;
  /** Flap damping: joins are held until the penalty decays below the reuse level. */
  readonly suppressed: boolean;
  /** Flap damping: the record before the last raise, and when that fault began (undone if other peers turn out lost with it). */
  readonly raised: { readonly at: number; readonly penalty: number; readonly penaltyAt: number; readonly suppressed: boolean } | null;
  /** This process has had a link to it: unseen for readTimeout, it is reported lost. */
  readonly everLinked: boolean;
  /**
   * From the up of a link to a new process or after an outage until the
   * peer's own report comes over it: the report held of the peer predates
   * the link, so a loss of this node it states is out of date (the link
   * proves both ways work) and is not taken while that link lasts. Cleared
   * when the link goes: the next accusation counts.
   */
  readonly reportPredatesLink: boolean;
  /** Since when this node has not seen it (ms), or null while it does. */
  readonly unseenSince: number | null;
  /**
   * When this node last stopped seeing it after a link (ms; kept once it is seen again on a new link),
   * or null if it never did or the same link cleared the suspicion (a hiccup, not an outage).
   */
  readonly wentAt: number | null;
}

/** The whole membership: every configured or connected peer, never self. */
export interface MembershipState<L extends LinkRef = LinkRef> {
  /** This node's name: a link's `dialer` equal to it was dialed by this node. */
  readonly self: string;
  /** This node is shutting down: no more joins or leaves are announced. */
  readonly stopping: boolean;
  readonly peers: ReadonlyMap<string, PeerState<L>>;
  /** This process's incarnation (its reports carry it). */
  readonly inc: number;
  /** What this node reports now: whom it sees, its view id, and the report's version. */
  readonly own: Report;
  /** The latest report held from each other node (direct or relayed). */
  readonly reports: ReadonlyMap<string, Report>;
  /** The agreed view's members (sorted), from `own.sees` and `reports`. */
  readonly view: readonly string[];
  /** readTimeout in ms: a peer lost (not suspected) is reported lost once it has been unseen this long; flap damping halves penalties every 5 × readTimeout. */
  readonly readTimeout: number;
  /** The latest time an input carried (ms, scheduler clock). */
  readonly clock: number;
  /** When a `tick` is asked for, to report a loss that has lasted readTimeout; null when none is pending. */
  readonly recheckAt: number | null;
  /** The reachable nodes the view leaves out for a loss (sorted): a change the view would show waits for viewSettle. */
  readonly dropped: readonly string[];
  /** The set the reports ask for instead, since when, and since when they first asked for another; null while they ask for `dropped`. */
  readonly dropWait: { readonly wanted: readonly string[]; readonly since: number; readonly first: number } | null;
}

/** What the fold is told: configuration, each session's events, and shutdown. `time` is ms on the scheduler clock. */
export type MembershipInput<L extends LinkRef = LinkRef> =
  | { readonly type: 'configure'; readonly name: string; readonly addr: string }
  | { readonly type: 'unconfigure'; readonly name: string }
  | { readonly type: 'up'; readonly link: L; readonly time: number }
  | { readonly type: 'joinDue'; readonly link: L; readonly time: number }
  | { readonly type: 'lag'; readonly link: L; readonly ms: number }
  | { readonly type: 'leaving'; readonly link: L }
  | { readonly type: 'meta'; readonly link: L; readonly metadata: Readonly<Record<string, unknown>>; readonly time: number }
  /** `judged`: the peer ended the link because it timed this node out; flap damping does not count it against the peer. */
  | { readonly type: 'down'; readonly link: L; readonly reason: LeaveReason; readonly time: number; readonly judged?: boolean }
  | { readonly type: 'dialFailed'; readonly name: string; readonly error: string }
  /** The active link has been silent for readTimeout (`suspect: true`), or spoke again (`false`). */
  | { readonly type: 'suspect'; readonly link: L; readonly suspect: boolean; readonly time: number }
  /** Reachability reports a peer sent (its own, or relayed). */
  | { readonly type: 'reach'; readonly link: L; readonly reports: readonly Report[]; readonly time: number }
  /** readTimeout changed. */
  | { readonly type: 'tune'; readonly readTimeout: number }
  /** The time asked for with a `recheck` effect has come. */
  | { readonly type: 'tick'; readonly time: number }
  | { readonly type: 'stop' };

/** What the manager must do after a step of the fold. */
export type MembershipEffect<L extends LinkRef = LinkRef> =
  | {
      readonly type: 'close';
      readonly link: L;
      readonly reason: LeaveReason;
      readonly cause: CloseCause;
      readonly text: string;
      /** Send the leave notice first (the link came up while this node shuts down). */
      readonly notify?: boolean;
    }
  | { readonly type: 'join'; readonly node: string; readonly time: number }
  | { readonly type: 'leave'; readonly node: string; readonly reason: LeaveReason; readonly time: number }
  | { readonly type: 'update'; readonly node: string; readonly metadata: Readonly<Record<string, unknown>>; readonly time: number }
  | { readonly type: 'suspect'; readonly node: string; readonly suspect: boolean; readonly time: number }
  /** Send these reachability reports to these links (`welcome`: a new link, to get every report once the step settled). */
  | { readonly type: 'gossip'; readonly reports: readonly Report[]; readonly to: readonly L[]; readonly welcome?: true }
  /** Flap damping holds this link's join: feed its `joinDue` again after `delay` ms. */
  | { readonly type: 'holdJoin'; readonly link: L; readonly delay: number }
  /** Feed a `tick` after `delay` ms. */
  | { readonly type: 'recheck'; readonly delay: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly node: string; readonly code?: Code };

/** One step of the fold: the new state and what to do about it. */
export interface MembershipStep<L extends LinkRef = LinkRef> {
  readonly state: MembershipState<L>;
  readonly effects: readonly MembershipEffect<L>[];
}

/** readTimeout until the manager tunes it: the default setting. */
const DEFAULT_READ_TIMEOUT = 11_000;

/**
 * The membership of a node that knows no peer yet.
 *
 * @param self - this node's name
 * @param inc - this process's incarnation (when it started)
 */
export function initialMembership<L extends LinkRef = LinkRef>(self: string, inc = 0): MembershipState<L> {
  const view = [self];
  return { self, stopping: false, peers: new Map(), inc, own: { node: self, inc, v: 0, sees: [], down: [], view: viewId(view) }, reports: new Map(), view, readTimeout: DEFAULT_READ_TIMEOUT, clock: 0, recheckAt: null, dropped: [], dropWait: null };
}

/** Configured peers, and how many of them are joined: what quorum is computed from. */
export function countsOf(state: MembershipState): { configured: number; online: number } {
  let configured = 0;
  let online = 0;
  for (const peer of state.peers.values()) {
    if (!peer.configured) continue;
    configured++;
    if (peer.joined) online++;
  }
  return { configured, online };
}

/** Whether `name` has a link up in `state`, neither suspected nor being dropped. */
export function isLinked(state: MembershipState, name: string): boolean {
  const peer = state.peers.get(name);
  return peer !== undefined && peer.active !== undefined && !peer.suspect && !peer.dropping;
}
