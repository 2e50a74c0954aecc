import type { CloseCause, Code } from '../limits.js';
import type { LogLevel } from '../log.js';
import type { LeaveReason, PeerIdentity } from '../session/link.js';

/** The seed's node status strings. */
export const STATUS = Object.freeze({
  /** A configured node with no connection (the seed's StatusOffline). */
  OFFLINE: 'Offline',
  /** An authenticated connection waits out joinDelay (StatusAuthenticating). */
  AUTHENTICATING: 'Authenticating',
  /** Joined (StatusOnline). */
  ONLINE: 'Online',
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
}

/** The whole membership: every configured or connected peer, never self. */
export interface MembershipState<L extends LinkRef = LinkRef> {
  /** This node's name: a link's `dialer` equal to it was dialed by this node. */
  readonly self: string;
  /** This node is shutting down: no more joins or leaves are announced. */
  readonly stopping: boolean;
  readonly peers: ReadonlyMap<string, PeerState<L>>;
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
  | { readonly type: 'down'; readonly link: L; readonly reason: LeaveReason; readonly time: number }
  | { readonly type: 'dialFailed'; readonly name: string; readonly error: string }
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
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly node: string; readonly code?: Code };

/** One step of the fold: the new state and what to do about it. */
export interface MembershipStep<L extends LinkRef = LinkRef> {
  readonly state: MembershipState<L>;
  readonly effects: readonly MembershipEffect<L>[];
}

/** The membership of a node that knows no peer yet. */
export function initialMembership<L extends LinkRef = LinkRef>(self: string): MembershipState<L> {
  return { self, stopping: false, peers: new Map() };
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
