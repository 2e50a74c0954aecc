import { CODES } from '../limits.js';
import { preferConnection } from '../protocol/handshake.js';
import type { LeaveReason } from '../session/link.js';
import {
  STATUS,
  type LinkRef,
  type MembershipEffect,
  type MembershipInput,
  type MembershipState,
  type MembershipStep,
  type PeerState,
} from './state.js';

/**
 * The membership fold: one pure step from (state, input) to the next state
 * and the effects the manager performs (close a link, announce a join or a
 * leave, log). No clock, no randomness, no I/O: time arrives in the inputs.
 *
 * The rules, in the order they are checked:
 *
 * - `configure` adds a peer or changes its address. A live link stays: it
 *   is authenticated to the right node whatever address reached it; the new
 *   address is used from the next dial on.
 * - `unconfigure` forgets the peer's configuration at once (quorum counts it
 *   no more) and closes its links with `removed`; the leave is announced
 *   when they are down. A peer with no link is dropped at once.
 * - `up` of an authenticated link:
 *   - while stopping: the link is told this node leaves, and closed;
 *   - for a peer not (or no longer) configured: closed with `removed`
 *     (removeNode raced its handshake);
 *   - with no active link: it becomes active; the join waits for `joinDue`;
 *   - from the same process as the active link (same instance): a duplicate.
 *     `preferConnection` keeps the link dialed by the node whose name sorts
 *     first (both ends compute the same), the other is closed with
 *     `duplicate`; the peer's join state is untouched (no flicker);
 *   - from a newer process (larger incarnation; the instance id breaks a
 *     tie): a restart. The old links are closed, a joined peer is announced
 *     as left with reason `restarted`, and the new link waits for its join;
 *   - from an older process: refused (closed with `policy`); the newer one
 *     stays.
 * - `joinDue`: the link survived joinDelay. If it is still the active one
 *   and the peer is not joined, the peer joins.
 * - `down`: the link is gone. If it was active, another link of the same
 *   process takes over when there is one; else a joined peer leaves with
 *   the reason the session gave (a peer that announced its shutdown leaves
 *   with `shutdown`). A peer no longer configured and with no link is dropped.
 * - `leaving`: the peer announced its shutdown: status Leaving.
 * - `meta`: the active link's peer changed its metadata: kept, and announced
 *   as an `update` when the peer is joined.
 * - `lag`: the active link's round trip, in ms.
 * - `dialFailed`: the last fault, shown in `error`.
 * - `stop`: this node shuts down: every peer shows Stopping; from now on no
 *   join or leave is announced.
 *
 * @param state - the current membership
 * @param input - what happened
 * @returns the next membership (the same object when nothing changed) and the effects
 */
export function reduceMembership<L extends LinkRef>(state: MembershipState<L>, input: MembershipInput<L>): MembershipStep<L> {
  switch (input.type) {
    case 'configure':
      return configure(state, input.name, input.addr);
    case 'unconfigure':
      return unconfigure(state, input.name);
    case 'up':
      return up(state, input.link, input.time);
    case 'joinDue':
      return joinDue(state, input.link, input.time);
    case 'down':
      return down(state, input.link, input.reason, input.time);
    case 'leaving':
      return update(state, input.link.peer, (p) => (p.active === input.link && !state.stopping ? { ...p, status: STATUS.LEAVING } : p));
    case 'meta':
      return meta(state, input.link, input.metadata, input.time);
    case 'lag':
      return update(state, input.link.peer, (p) => (p.active === input.link && p.lag !== input.ms ? { ...p, lag: input.ms } : p));
    case 'dialFailed':
      return update(state, input.name, (p) => (p.error === input.error ? p : { ...p, error: input.error }));
    case 'stop':
      return stop(state);
  }
}

const unchanged = <L extends LinkRef>(state: MembershipState<L>): MembershipStep<L> => ({ state, effects: [] });

function freshPeer<L extends LinkRef>(name: string): PeerState<L> {
  return {
    name,
    addr: '',
    configured: false,
    links: [],
    active: undefined,
    activeSince: null,
    joined: false,
    status: STATUS.OFFLINE,
    error: '',
    jointime: null,
    leavetime: null,
    lag: 0,
    leaveReason: null,
    metadata: {},
  };
}

/** The state with `peer` replaced (or dropped when `next` is undefined); the same state when nothing changed. */
function withPeer<L extends LinkRef>(state: MembershipState<L>, name: string, next: PeerState<L> | undefined): MembershipState<L> {
  const current = state.peers.get(name);
  if (current === next) return state;
  const peers = new Map(state.peers);
  if (next === undefined) peers.delete(name);
  else peers.set(name, next);
  return { ...state, peers };
}

function update<L extends LinkRef>(state: MembershipState<L>, name: string, f: (p: PeerState<L>) => PeerState<L>): MembershipStep<L> {
  const peer = state.peers.get(name);
  if (peer === undefined) return unchanged(state);
  return { state: withPeer(state, name, f(peer)), effects: [] };
}

/** A peer that is neither configured nor connected is forgotten. */
function keepOrDrop<L extends LinkRef>(peer: PeerState<L>): PeerState<L> | undefined {
  return !peer.configured && peer.links.length === 0 ? undefined : peer;
}

function configure<L extends LinkRef>(state: MembershipState<L>, name: string, addr: string): MembershipStep<L> {
  const peer = state.peers.get(name) ?? freshPeer<L>(name);
  if (peer.configured && peer.addr === addr) return unchanged(state);
  return { state: withPeer(state, name, { ...peer, configured: true, addr }), effects: [] };
}

function unconfigure<L extends LinkRef>(state: MembershipState<L>, name: string): MembershipStep<L> {
  const peer = state.peers.get(name);
  if (peer === undefined || !peer.configured) return unchanged(state);
  const effects = peer.links.map((link): MembershipEffect<L> => ({ type: 'close', link, reason: 'removed', cause: 'removed', text: 'removed from configuration' }));
  return { state: withPeer(state, name, keepOrDrop({ ...peer, configured: false })), effects };
}

function up<L extends LinkRef>(state: MembershipState<L>, link: L, time: number): MembershipStep<L> {
  const name = link.peer;
  if (state.stopping) {
    return { state, effects: [{ type: 'close', link, reason: 'stopping', cause: 'shutdown', text: 'shutting down', notify: true }] };
  }
  const peer = state.peers.get(name);
  if (peer === undefined || !peer.configured) {
    return { state, effects: [{ type: 'close', link, reason: 'removed', cause: 'removed', text: 'not configured' }] };
  }
  const active = peer.active;
  if (active === undefined) {
    const next: PeerState<L> = { ...peer, links: [...peer.links, link], active: link, activeSince: time, status: STATUS.AUTHENTICATING, metadata: link.metadata };
    return { state: withPeer(state, name, next), effects: [] };
  }
  if (active.instance === link.instance) {
    // both nodes dialed each other: keep the link both ends choose alike
    const kept = preferConnection(active, link);
    const loser = kept === active ? link : active;
    const next: PeerState<L> = { ...peer, links: [...peer.links, link], active: kept };
    return {
      state: withPeer(state, name, next),
      effects: [
        { type: 'close', link: loser, reason: 'duplicate', cause: 'duplicate', text: 'duplicate connection' },
        { type: 'log', level: 'debug', message: `duplicate connection to ${name} closed (keeping the one dialed by ${kept.dialer})`, node: name, code: CODES.DUPLICATE },
      ],
    };
  }
  if (!newer(link, active)) {
    return {
      state,
      effects: [
        { type: 'close', link, reason: 'refused', cause: 'policy', text: 'refused' },
        { type: 'log', level: 'warn', message: `${name} connected from an older process than the one connected now; refused`, node: name, code: CODES.PEER_REFUSED },
      ],
    };
  }
  // a newer process under this name proved the secret: it replaces the old one at once
  const effects: MembershipEffect<L>[] = peer.links.map((old) => ({ type: 'close', link: old, reason: 'restarted', cause: 'duplicate', text: 'replaced by a newer instance' }));
  effects.push({ type: 'log', level: 'info', message: `${name} restarted: a new instance replaces the old one`, node: name });
  let next: PeerState<L> = { ...peer, links: [link], active: link, activeSince: time, status: STATUS.AUTHENTICATING, lag: 0, metadata: link.metadata };
  if (peer.joined) {
    next = { ...next, joined: false, leaveReason: 'restarted', leavetime: time };
    effects.push({ type: 'leave', node: name, reason: 'restarted', time });
  }
  return { state: withPeer(state, name, next), effects };
}

/** Whether `a` comes from a newer process than `b`. */
function newer(a: LinkRef, b: LinkRef): boolean {
  return a.incarnation !== b.incarnation ? a.incarnation > b.incarnation : a.instance > b.instance;
}

function joinDue<L extends LinkRef>(state: MembershipState<L>, link: L, time: number): MembershipStep<L> {
  const peer = state.peers.get(link.peer);
  if (state.stopping || peer === undefined || peer.joined || peer.active === undefined || peer.active.instance !== link.instance) {
    return unchanged(state);
  }
  // a duplicate that took over inherits the join: the process has been connected since activeSince
  if (!peer.links.includes(link)) return unchanged(state);
  const next: PeerState<L> = { ...peer, joined: true, status: STATUS.ONLINE, jointime: time, error: '', leaveReason: null };
  return { state: withPeer(state, link.peer, next), effects: [{ type: 'join', node: link.peer, time }] };
}

function down<L extends LinkRef>(state: MembershipState<L>, link: L, reason: LeaveReason, time: number): MembershipStep<L> {
  const peer = state.peers.get(link.peer);
  if (peer === undefined || !peer.links.includes(link)) return unchanged(state);
  const links = peer.links.filter((l) => l !== link);
  if (peer.active !== link) return { state: withPeer(state, peer.name, keepOrDrop({ ...peer, links })), effects: [] };
  // another link of the same process takes over, with no leave
  const heir = links.find((l) => l.instance === link.instance);
  if (heir !== undefined) return { state: withPeer(state, peer.name, { ...peer, links, active: heir }), effects: [] };
  return leaveOf(state, { ...peer, links }, reason, time);
}

/** The peer's last link went down for `reason`. */
function leaveOf<L extends LinkRef>(
  state: MembershipState<L>,
  peer: PeerState<L>,
  reason: LeaveReason,
  time: number,
): MembershipStep<L> {
  const announced = peer.status === STATUS.LEAVING ? 'shutdown' : reason;
  // while this node stops, nothing is announced and quorum stays as it was
  if (state.stopping) return { state: withPeer(state, peer.name, keepOrDrop({ ...peer, active: undefined, activeSince: null, lag: 0 })), effects: [] };
  const base: PeerState<L> = {
    ...peer,
    active: undefined,
    activeSince: null,
    joined: false,
    lag: 0,
    status: STATUS.OFFLINE,
  };
  if (!peer.joined) return { state: withPeer(state, peer.name, keepOrDrop(base)), effects: [] };
  const next = { ...base, leaveReason: announced, leavetime: time };
  return { state: withPeer(state, peer.name, keepOrDrop(next)), effects: [{ type: 'leave', node: peer.name, reason: announced, time }] };
}

/** The active link's peer sent new metadata: an `update` once it is joined (before, it rides with the join). */
function meta<L extends LinkRef>(state: MembershipState<L>, link: L, metadata: Readonly<Record<string, unknown>>, time: number): MembershipStep<L> {
  const peer = state.peers.get(link.peer);
  if (peer === undefined || peer.active !== link) return unchanged(state);
  const next = withPeer(state, link.peer, { ...peer, metadata });
  return { state: next, effects: peer.joined && !state.stopping ? [{ type: 'update', node: link.peer, metadata, time }] : [] };
}

function stop<L extends LinkRef>(state: MembershipState<L>): MembershipStep<L> {
  if (state.stopping) return unchanged(state);
  const peers = new Map<string, PeerState<L>>();
  for (const [name, peer] of state.peers) peers.set(name, { ...peer, status: STATUS.STOPPING });
  return { state: { ...state, stopping: true, peers }, effects: [] };
}
