import type { LeaveReason } from '../session/link.js';
import type { MembershipState, PeerState, Status } from './state.js';

/**
 * What members$ and the HTTP API say about one peer (the seed's APIClusterNode).
 * Frozen, and the same object in successive members$ maps while nothing about
 * the peer changed: read it, do not change it (its dates included).
 */
export interface ApiClusterNode {
  readonly name: string;
  /** Configured address, or the remote end of an inbound connection. */
  readonly addr: string;
  readonly status: Status;
  /** The last fault seen on this peer, or ''. */
  readonly error: string;
  /** When the peer last joined, or null. */
  readonly jointime: Date | null;
  /** When the peer last left, or null. */
  readonly leavetime: Date | null;
  /** Last measured ping round trip in ms while joined; 0 while not. */
  readonly lag: number;
  /** Application packets received from this peer since it was first seen. */
  readonly packets: number;
  /** Whether the node is configured here (addNode). */
  readonly configured: boolean;
  /** Why it last left, or null. */
  readonly leaveReason: LeaveReason | null;
  /** The peer's metadata (its tags and roles), `{}` until it first connected. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * The public view of one peer. Packet counts are statistics kept beside the
 * fold (counting each packet through the fold would cost a state per
 * packet); everything else is the fold's.
 */
export function nodeView(peer: PeerState, packets: number): ApiClusterNode {
  return Object.freeze({
    name: peer.name,
    addr: peer.addr !== '' ? peer.addr : (peer.active?.remote ?? ''),
    status: peer.status,
    error: peer.error,
    jointime: date(peer.jointime),
    leavetime: date(peer.leavetime),
    lag: peer.lag,
    packets,
    configured: peer.configured,
    leaveReason: peer.leaveReason,
    metadata: peer.metadata,
  });
}

/**
 * The members$ map of a membership state.
 *
 * @param cache - the views made before, by peer state: a peer whose state and packet count are the
 *   same gets the same view again (a pong changes one peer's lag: the others' views are not rebuilt)
 */
export function membersView<P extends PeerState>(
  state: Pick<MembershipState, 'peers'> & { readonly peers: ReadonlyMap<string, P> },
  packets: (name: string) => number,
  cache?: WeakMap<P, ApiClusterNode>,
): ReadonlyMap<string, ApiClusterNode> {
  const out = new Map<string, ApiClusterNode>();
  for (const [name, peer] of state.peers) {
    const count = packets(name);
    let view = cache?.get(peer);
    if (view === undefined || view.packets !== count) {
      view = nodeView(peer, count);
      cache?.set(peer, view);
    }
    out.set(name, view);
  }
  return out;
}
