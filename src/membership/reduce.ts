import { CODES, viewSettle } from '../limits.js';
import { preferConnection } from '../protocol/handshake.js';
import type { LeaveReason } from '../session/link.js';
import { agreedSets, newerReport, sortNames, viewId, type Report } from './view.js';
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
 *     `duplicate`; the peer's join state is untouched (no flicker). When the
 *     peer dialed both and the new one wins (its fresh connection beside a
 *     silent one), the old one is left for the peer to close;
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
 * - `suspect`: the active link of a joined peer has been silent for
 *   readTimeout: the peer is Suspect (announced), and this node no longer
 *   reports seeing it. It is dropped (leave `timeout`) once no other peer
 *   this node sees reports seeing it (confirmed); it is cleared (announced)
 *   when it speaks again (refuted). A link that is silent before its join
 *   is closed at once. The session drops a refuted but still silent link
 *   after 10 × readTimeout (SILENCE_LIMIT).
 * - `reach`: reports of whom each node sees and has lost. Newer ones are
 *   kept and relayed to the peers cut off from their author (either reports
 *   the other lost).
 * - After every step that may change them, this node's own report (whom it
 *   sees: every peer on a live, unsuspected link; whom it lost: a peer this
 *   process had a link to, once unseen (suspected or gone) for readTimeout,
 *   unless it went unseen together with most peers (then this node is the
 *   one cut off, and accuses nobody); its view id) and the
 *   agreed view (`view.ts`: the largest fully connected set, of which only
 *   joined peers and this node are members) are recomputed; a changed
 *   report is sent to every peer. Whom the view leaves out for a loss
 *   changes only once the reports have asked for it for viewSettle (a
 *   `tick` is asked for then), so a loss heard from one side and then,
 *   relayed, from the other moves the view once.
 * - Flap damping: each fault that ends a link of the same process adds 1 to
 *   the peer's penalty, which halves every 5 × readTimeout. At 1.5 the peer
 *   is suppressed: it joins only once its penalty has decayed below 0.75 and
 *   a link of it has lasted 2 × readTimeout (then the suppression ends). A
 *   link the peer closed because it timed this node out does not count (this
 *   node was the silent one), nor a fault that began within readTimeout of
 *   another peer's loss (a partition, or this node's own network: a fault
 *   counted before the second loss is taken back). A new process under the
 *   name starts with no penalty.
 *
 * @param state - the current membership
 * @param input - what happened
 * @returns the next membership (the same object when nothing changed) and the effects
 */
export function reduceMembership<L extends LinkRef>(state: MembershipState<L>, input: MembershipInput<L>): MembershipStep<L> {
  const time = 'time' in input ? input.time : state.clock;
  const step = reduceOne(time > state.clock ? { ...state, clock: time } : state, input);
  if (QUIET.has(input.type) || (step.state === state && input.type !== 'tick')) return step;
  // reports that only carry a new view id change neither whom anyone sees nor the view: nothing to settle
  // (unless the sender's own report just became current: a loss of this node it states counts from now on)
  if (input.type === 'reach' && step.state.peers === state.peers && input.reports.every((r) => sameTopology(r, state.reports.get(r.node)))) return step;
  return settle(step);
}

/** Whether a report says the same as the one held about whom its author sees and lost. */
function sameTopology(report: Report, held: Report | undefined): boolean {
  return held !== undefined && held.inc === report.inc && sameList(report.sees, held.sees) && sameList(report.down, held.down);
}

/** Inputs that never change whom this node sees. */
const QUIET: ReadonlySet<MembershipInput['type']> = new Set(['lag', 'meta', 'tune', 'configure', 'dialFailed']);

function reduceOne<L extends LinkRef>(state: MembershipState<L>, input: MembershipInput<L>): MembershipStep<L> {
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
      return down(state, input.link, input.reason, input.time, input.judged === true);
    case 'leaving':
      return update(state, input.link.peer, (p) => (p.active === input.link && !state.stopping ? { ...p, status: STATUS.LEAVING } : p));
    case 'meta':
      return meta(state, input.link, input.metadata, input.time);
    case 'lag':
      return update(state, input.link.peer, (p) => (p.active === input.link && p.lag !== input.ms ? { ...p, lag: input.ms } : p));
    case 'dialFailed':
      return update(state, input.name, (p) => (p.error === input.error ? p : { ...p, error: input.error }));
    case 'suspect':
      return suspect(state, input.link, input.suspect, input.time);
    case 'reach':
      return reach(state, input.link, input.reports);
    case 'tune':
      return input.readTimeout === state.readTimeout ? unchanged(state) : { state: { ...state, readTimeout: input.readTimeout }, effects: [] };
    case 'tick':
      // (the one tick asked for: settle asks for the next one, even when this one came early)
      return { state: state.recheckAt !== null ? { ...state, recheckAt: null } : state, effects: [] };
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
    suspect: false,
    dropping: false,
    incarnation: null,
    penalty: 0,
    penaltyAt: 0,
    suppressed: false,
    raised: null,
    everLinked: false,
    reportPredatesLink: false,
    unseenSince: null,
    wentAt: null,
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
  const reports = new Map(state.reports);
  reports.delete(name);
  return { state: withPeer({ ...state, reports }, name, keepOrDrop({ ...peer, configured: false, incarnation: null })), effects };
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
    const fresh = peer.incarnation !== link.incarnation ? { penalty: 0, penaltyAt: time, suppressed: false, raised: null } : {};
    const next: PeerState<L> = { ...peer, ...fresh, links: [...peer.links, link], active: link, activeSince: time, status: STATUS.AUTHENTICATING, metadata: link.metadata, incarnation: link.incarnation, everLinked: true, reportPredatesLink: true };
    return { state: withPeer(state, name, next), effects: [tellAll(link)] };
  }
  if (active.instance === link.instance) {
    // both nodes dialed each other: keep the link both ends choose alike
    const kept = preferConnection(active, link);
    const loser = kept === active ? link : active;
    let next: PeerState<L> = { ...peer, links: [...peer.links, link], active: kept };
    // the peer dialed both and the new one wins (it replaced a link it found silent): the peer closes
    // the old one once the new one is up on its end. Closed from here, that close could reach the
    // peer before this end's welcome on the new link (two connections, no order between them), and
    // the peer would see its only link end with no heir: a false leave and a rejoin
    const leftToPeer = kept === link && kept.dialer === name && loser.dialer === name;
    const effects: MembershipEffect<L>[] = leftToPeer
      ? [{ type: 'log', level: 'debug', message: `${name} dialed a fresh connection: the older one is left for ${name} to close`, node: name, code: CODES.DUPLICATE }]
      : [
          { type: 'close', link: loser, reason: 'duplicate', cause: 'duplicate', text: 'duplicate connection' },
          { type: 'log', level: 'debug', message: `duplicate connection to ${name} closed (keeping the one dialed by ${kept.dialer})`, node: name, code: CODES.DUPLICATE },
        ];
    // the peer's reports come over the kept link from now on (what it sent on the other is not taken, and
    // what this end sent there may never arrive): it gets every report again, as on a first link
    if (kept !== active) effects.push(tellAll(kept));
    if (kept !== active && (peer.suspect || peer.dropping)) {
      // a fresh connection replaced a silent one (a TCP connection stalled in retransmission
      // back-off after the network healed): the peer is heard again, with no leave
      // (linked again now: an outage, not a hiccup, and any excuse of the peers lost with it runs from here)
      next = { ...next, activeSince: time, suspect: false, dropping: false, status: peer.status === STATUS.SUSPECT ? STATUS.ONLINE : peer.status };
      if (peer.suspect) effects.push({ type: 'suspect', node: name, suspect: false, time });
      effects.push({ type: 'log', level: 'info', message: `${name} reached again on a fresh connection; the silent one is closed`, node: name, code: CODES.STALLED });
    }
    return { state: withPeer(state, name, next), effects };
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
  effects.push(tellAll(link));
  let next: PeerState<L> = {
    ...peer,
    links: [link],
    active: link,
    activeSince: time,
    status: STATUS.AUTHENTICATING,
    lag: 0,
    metadata: link.metadata,
    incarnation: link.incarnation,
    suspect: false,
    dropping: false,
    penalty: 0,
    penaltyAt: time,
    suppressed: false,
    raised: null,
    everLinked: true,
    reportPredatesLink: true,
  };
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
  if (peer.suppressed) {
    // a flapping peer joins once a link of it has lasted 2 × readTimeout and its penalty has decayed below REUSE
    // (the link age alone is not enough: a link that went silent is only found out readTimeout later)
    const linkStable = (peer.activeSince ?? time) + 2 * state.readTimeout;
    const decayed = peer.penalty > REUSE ? peer.penaltyAt + Math.ceil(halfLife(state) * Math.log2(peer.penalty / REUSE)) : time;
    const stableAt = Math.max(linkStable, decayed);
    if (time < stableAt) {
      const delay = stableAt - time;
      return {
        state,
        effects: [
          { type: 'holdJoin', link, delay },
          { type: 'log', level: 'info', message: `${link.peer} is flapping: its join is held for ${delay} ms (penalty ${penaltyNow(peer, time, halfLife(state)).toFixed(2)}; released below ${REUSE} once its link has lasted 2 × readTimeout)`, node: link.peer, code: CODES.FLAPPING },
        ],
      };
    }
  }
  const next: PeerState<L> = { ...peer, joined: true, status: STATUS.ONLINE, jointime: time, error: '', leaveReason: null, suppressed: false };
  return { state: withPeer(state, link.peer, next), effects: [{ type: 'join', node: link.peer, time }] };
}

function down<L extends LinkRef>(state: MembershipState<L>, link: L, reason: LeaveReason, time: number, judged: boolean): MembershipStep<L> {
  const peer = state.peers.get(link.peer);
  if (peer === undefined || !peer.links.includes(link)) return unchanged(state);
  const links = peer.links.filter((l) => l !== link);
  if (peer.active !== link) return { state: withPeer(state, peer.name, keepOrDrop({ ...peer, links })), effects: [] };
  // another link of the same process takes over, with no leave
  const heir = links.find((l) => l.instance === link.instance);
  if (heir !== undefined) return { state: withPeer(state, peer.name, { ...peer, links, active: heir }), effects: [tellAll(heir)] };
  let next: PeerState<L> = { ...peer, links, suspect: false, dropping: false };
  if ((reason === 'timeout' || reason === 'lost') && !judged) {
    // a fault ended this process's link: flap damping counts it (not when the peer timed this node out:
    // a node resuming from a pause would hold every peer's rejoin), unless other peers were lost with it
    const began = peer.unseenSince ?? time;
    const others = [...state.peers.values()].filter((q) => q.name !== peer.name && q.everLinked && q.unseenSince !== null && Math.abs(q.unseenSince - began) <= state.readTimeout);
    if (others.length === 0) {
      const penalty = Math.min(MAX_PENALTY, penaltyNow(peer, time, halfLife(state)) + 1);
      next = { ...next, penalty, penaltyAt: time, suppressed: peer.suppressed || penalty >= SUPPRESS, raised: { at: began, penalty: peer.penalty, penaltyAt: peer.penaltyAt, suppressed: peer.suppressed } };
    } else {
      // several peers lost at once: a partition, or this node's own network, not one peer flapping;
      // a fault already counted against one of them is taken back
      for (const q of others) {
        if (q.raised === null || Math.abs(q.raised.at - began) > state.readTimeout) continue;
        state = withPeer(state, q.name, { ...q, penalty: q.raised.penalty, penaltyAt: q.raised.penaltyAt, suppressed: q.raised.suppressed, raised: null });
      }
    }
  } else if (reason === 'shutdown' || peer.status === STATUS.LEAVING) {
    // it left in order: no process of it runs any more (keep-oldest forgets it)
    next = { ...next, incarnation: null };
  }
  return leaveOf(state, next, reason, time);
}

/** Flap damping: the level at which joins are held, the level below which they are released again, and the cap. */
const SUPPRESS = 1.5;
const REUSE = 0.75;
const MAX_PENALTY = 4;

/** Flap damping halves a penalty every 5 × readTimeout. */
function halfLife(state: MembershipState): number {
  return 5 * state.readTimeout;
}

/** A peer's flap penalty at `time`: halved every `halfLife` ms since it was last raised. */
function penaltyNow(peer: PeerState, time: number, halfLife: number): number {
  return peer.penalty === 0 ? 0 : peer.penalty * 2 ** (-Math.max(0, time - peer.penaltyAt) / halfLife);
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
  if (state.stopping) return { state: withPeer(state, peer.name, keepOrDrop({ ...peer, active: undefined, activeSince: null, lag: 0, reportPredatesLink: false })), effects: [] };
  const base: PeerState<L> = {
    ...peer,
    active: undefined,
    activeSince: null,
    reportPredatesLink: false,
    joined: false,
    lag: 0,
    status: STATUS.OFFLINE,
    suspect: false,
    dropping: false,
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

/** The active link of a peer spoke again, or fell silent for readTimeout. */
function suspect<L extends LinkRef>(state: MembershipState<L>, link: L, silent: boolean, time: number): MembershipStep<L> {
  const peer = state.peers.get(link.peer);
  if (state.stopping || peer === undefined || peer.active !== link || peer.dropping) return unchanged(state);
  if (silent) {
    if (peer.suspect) return unchanged(state);
    // not a member yet: nothing to confirm, the link goes as before
    if (!peer.joined) return { state, effects: [{ type: 'close', link, reason: 'timeout', cause: 'timeout', text: 'read timeout' }, { type: 'log', level: 'warn', message: `${link.peer} silent for readTimeout before its join; dropped`, node: link.peer, code: CODES.READ_TIMEOUT }] };
    const next: PeerState<L> = { ...peer, suspect: true, status: peer.status === STATUS.ONLINE ? STATUS.SUSPECT : peer.status };
    return {
      state: withPeer(state, link.peer, next),
      effects: [
        { type: 'suspect', node: link.peer, suspect: true, time },
        { type: 'log', level: 'warn', message: `${link.peer} silent for readTimeout: suspected`, node: link.peer, code: CODES.SUSPECT },
      ],
    };
  }
  if (!peer.suspect) return unchanged(state);
  const next: PeerState<L> = { ...peer, suspect: false, status: peer.status === STATUS.SUSPECT ? STATUS.ONLINE : peer.status };
  return {
    state: withPeer(state, link.peer, next),
    effects: [
      { type: 'suspect', node: link.peer, suspect: false, time },
      { type: 'log', level: 'info', message: `${link.peer} spoke again: suspicion cleared`, node: link.peer },
    ],
  };
}

/** The report held for `node`, unless it comes from a process older than the one connected now. */
function reportOf<L extends LinkRef>(state: MembershipState<L>, node: string): Report | undefined {
  const report = state.reports.get(node);
  const peer = state.peers.get(node);
  const active = peer?.active;
  if (report === undefined || (active !== undefined && report.inc < active.incarnation)) return undefined;
  // a loss of this node reported before the link now up is out of date
  return active !== undefined && peer?.reportPredatesLink === true && report.down.includes(state.self) ? { ...report, down: report.down.filter((n) => n !== state.self) } : report;
}

/**
 * Whether `a` and `b` cannot reach each other directly: either reports the
 * other lost. Reports are relayed only between such nodes; while nodes are
 * still connecting (nobody lost), each hears the others' reports directly.
 */
function cutOff<L extends LinkRef>(state: MembershipState<L>, a: string, b: string): boolean {
  return reportOf(state, a)?.down.includes(b) === true || reportOf(state, b)?.down.includes(a) === true;
}

/** Every link in use (peers joined or waiting for their join). */
function activeLinks<L extends LinkRef>(state: MembershipState<L>): L[] {
  const out: L[] = [];
  for (const peer of state.peers.values()) if (peer.active !== undefined && !peer.dropping) out.push(peer.active);
  return out;
}

/** A new link gets every report this node holds, its own first: filled in once the step has settled, so its own is current. */
function tellAll<L extends LinkRef>(link: L): MembershipEffect<L> {
  return { type: 'gossip', reports: [], to: [link], welcome: true };
}

/** Reports from a peer's active link: keep the newer ones, relay them to peers that cannot hear their author. */
function reach<L extends LinkRef>(state: MembershipState<L>, link: L, reports: readonly Report[]): MembershipStep<L> {
  const sender = state.peers.get(link.peer);
  if (state.stopping || sender === undefined || sender.active !== link) return unchanged(state);
  // the sender's own report came over this link: what it says of this node is current from now on
  if (sender.reportPredatesLink && reports.some((r) => r.node === link.peer)) state = withPeer(state, sender.name, { ...sender, reportPredatesLink: false });
  const held = new Map(state.reports);
  const fresh: Report[] = [];
  for (const report of reports) {
    if (report.node === state.self || state.peers.get(report.node)?.configured !== true) continue;
    if (!newerReport(report, held.get(report.node))) continue;
    held.set(report.node, report);
    fresh.push(report);
  }
  if (fresh.length === 0) return unchanged(state);
  const next: MembershipState<L> = { ...state, reports: held };
  const effects: MembershipEffect<L>[] = [];
  for (const peer of next.peers.values()) {
    const to = peer.active;
    if (to === undefined || peer.dropping || peer.name === link.peer) continue;
    const relay = fresh.filter((r) => r.node !== peer.name && cutOff(next, peer.name, r.node));
    if (relay.length > 0) effects.push({ type: 'gossip', reports: relay, to: [to] });
  }
  // the sender's own report says whom it lost: it gets their reports from here
  const own = fresh.find((r) => r.node === link.peer);
  if (own !== undefined) {
    const missing = [...held.values()].filter((r) => r.node !== link.peer && own.down.includes(r.node) && reportOf(next, r.node) !== undefined);
    if (missing.length > 0) effects.push({ type: 'gossip', reports: missing, to: [link] });
  }
  return { state: next, effects };
}

/**
 * After a step: confirm suspicions no peer refutes any more, then
 * recompute this node's report and the agreed view; a changed report goes
 * to every peer.
 */
function settle<L extends LinkRef>(step: MembershipStep<L>): MembershipStep<L> {
  let state = step.state;
  if (state.stopping) return step;
  const effects = [...step.effects];
  for (const peer of state.peers.values()) {
    if (!peer.suspect || peer.dropping || peer.active === undefined) continue;
    if (refuted(state, peer.name)) continue;
    state = withPeer(state, peer.name, { ...peer, dropping: true });
    effects.push(
      { type: 'close', link: peer.active, reason: 'timeout', cause: 'timeout', text: 'read timeout' },
      { type: 'log', level: 'warn', message: `${peer.name} silent for readTimeout and seen by no peer of this node; dropped`, node: peer.name, code: CODES.READ_TIMEOUT },
    );
  }
  // whom this node sees: every peer on a live, unsuspected link, joined or still waiting out joinDelay,
  // so that by the time a join is announced on either side, the other side's report already names it;
  // whom it lost: a peer this process had a link to, once unseen (suspected, or its link gone) for readTimeout
  // (a suspicion that the next frame clears, under loss, moves no view; a node coming back from a pause,
  // whose links were all closed, accuses nobody while it reconnects; a node that has just started accuses
  // nobody it has not reached yet)
  const sees: string[] = [];
  const lost: string[] = [];
  let pending = Infinity;
  for (const peer of state.peers.values()) {
    if (!peer.configured) continue;
    const seen = peer.active !== undefined && !peer.suspect && !peer.dropping;
    const unseenSince = seen ? null : (peer.unseenSince ?? state.clock);
    if (unseenSince !== peer.unseenSince) state = withPeer(state, peer.name, { ...peer, unseenSince, wentAt: wentAtOf(peer, unseenSince, state.clock, state.readTimeout) });
    if (seen) sees.push(peer.name);
  }
  // a node that stopped seeing most of its peers at once is the one cut off (its own network, a pause,
  // the small side of a partition): it accuses none of them, so that coming back, before it has
  // reached them all again, it does not cut the healthy ones out of the others' view; once it has been
  // back (linked again to one of them) for readTimeout, whom it still cannot reach it accuses
  const others = [...state.peers.values()].filter((p) => p.configured);
  for (const peer of others) {
    if (peer.unseenSince === null || !peer.everLinked) continue;
    const due = peer.unseenSince + state.readTimeout;
    if (due > state.clock) {
      pending = Math.min(pending, due);
      continue;
    }
    const excused = excusedUntil(peer, others, state.readTimeout);
    if (excused === null || excused <= state.clock) lost.push(peer.name);
    else if (Number.isFinite(excused)) pending = Math.min(pending, excused);
  }
  sortNames(sees);
  sortNames(lost);
  const sets = agreedSets(state.self, { sees, down: lost, view: state.own.view }, (n) => reportOf(state, n), (n) => state.peers.get(n)?.configured === true);
  // whom the view leaves out for a loss changes once the reports have asked for it for viewSettle
  // (a node hears its own loss first: the other side's, relayed, follows within a few report spacings)
  const held = heldDrops(state, sets.reachable, sets.members);
  if (held.dropped !== state.dropped || held.dropWait !== state.dropWait) state = { ...state, dropped: held.dropped, dropWait: held.dropWait };
  if (held.dropWait !== null) pending = Math.min(pending, dropDue(held.dropWait, state.readTimeout));
  if (Number.isFinite(pending) && state.recheckAt !== pending) {
    state = { ...state, recheckAt: pending };
    effects.push({ type: 'recheck', delay: pending - state.clock });
  }
  const fullyConnected = sets.reachable.filter((n) => !state.dropped.includes(n));
  // the view holds only members: peers still waiting out joinDelay enter it with their join;
  // a node outside the set reports the set as it is, the others' view
  const members = fullyConnected.includes(state.self) ? fullyConnected.filter((n) => n === state.self || state.peers.get(n)?.joined === true) : fullyConnected;
  const id = viewId(members);
  const own = state.own;
  if (!sameList(members, state.view)) state = { ...state, view: members };
  if (id !== own.view || !sameList(sees, own.sees) || !sameList(lost, own.down)) {
    state = { ...state, own: { ...own, v: own.v + 1, sees, down: lost, view: id } };
    // a new link gets it with every other report, below
    const welcomed = new Set(effects.flatMap((e) => (e.type === 'gossip' && e.welcome === true ? e.to : [])));
    const to = activeLinks(state).filter((l) => !welcomed.has(l));
    if (to.length > 0) effects.push({ type: 'gossip', reports: [state.own], to });
  }
  // new links get every report as of now
  for (const [i, effect] of effects.entries()) {
    if (effect.type !== 'gossip' || effect.welcome !== true) continue;
    const peer = effect.to[0]?.peer;
    effects[i] = { type: 'gossip', reports: [state.own, ...[...state.reports.values()].filter((r) => r.node !== peer)], to: effect.to };
  }
  return state === step.state && effects.length === step.effects.length && !effects.some((e, i) => e !== step.effects[i]) ? step : { state, effects };
}

/**
 * Whom the view leaves out for a loss, now. The reports ask for the
 * reachable nodes outside `members`. A node the view does not hold (not
 * joined yet, back from being unreachable) is left out at once: that moves
 * no view. Any other change waits until the reports have asked for the
 * same set for viewSettle (a new request starts the wait again, but none
 * waits more than twice that from the first); meanwhile the set in place
 * holds, less the nodes no longer reachable.
 */
function heldDrops<L extends LinkRef>(state: MembershipState<L>, reachable: readonly string[], members: readonly string[]): Pick<MembershipState<L>, 'dropped' | 'dropWait'> {
  const wanted = reachable.filter((n) => !members.includes(n));
  let kept = state.dropped.every((n) => reachable.includes(n)) ? state.dropped : state.dropped.filter((n) => reachable.includes(n));
  if (wanted.some((n) => !kept.includes(n) && !state.view.includes(n))) {
    kept = reachable.filter((n) => kept.includes(n) || (wanted.includes(n) && !state.view.includes(n)));
  }
  if (sameList(wanted, kept)) return { dropped: kept, dropWait: null };
  const settleFor = viewSettle(state.readTimeout);
  const wait = state.dropWait;
  const since = wait !== null && sameList(wait.wanted, wanted) ? wait.since : state.clock;
  const first = wait?.first ?? state.clock;
  if (since + settleFor <= state.clock || first + 2 * settleFor <= state.clock) return { dropped: wanted, dropWait: null };
  return { dropped: kept, dropWait: wait !== null && wait.since === since && wait.first === first && wait.wanted === wanted ? wait : { wanted, since, first } };
}

/** When the view's pending change of `dropped` is due: viewSettle after its request, at most twice that after the first. */
function dropDue(wait: NonNullable<MembershipState['dropWait']>, readTimeout: number): number {
  const settleFor = viewSettle(readTimeout);
  return Math.min(wait.since + settleFor, wait.first + 2 * settleFor);
}

/**
 * A peer's `wentAt` once its `unseenSince` becomes `unseenSince`: when an
 * outage of a peer this process had a link to began. A suspicion that the
 * same link cleared within readTimeout was a hiccup (a pause of this
 * process, a burst of loss), not an outage: it is forgotten, so that it
 * cannot make a later loss look like this node's own isolation.
 */
function wentAtOf<L extends LinkRef>(peer: PeerState<L>, unseenSince: number | null, clock: number, readTimeout: number): number | null {
  if (unseenSince !== null) return peer.unseenSince === null && peer.everLinked ? unseenSince : peer.wentAt;
  const hiccup = peer.activeSince !== null && peer.unseenSince !== null && peer.activeSince <= peer.unseenSince && clock - peer.unseenSince < readTimeout;
  return hiccup ? null : peer.wentAt;
}

/**
 * Whether `peer`, unseen for readTimeout, went together with most of this
 * node's peers (within readTimeout of each other), so that this node, not
 * the peer, was the one cut off: null when not, else until when the loss
 * is excused: readTimeout after the first of those peers was linked again
 * (Infinity while none is).
 */
function excusedUntil<L extends LinkRef>(peer: PeerState<L>, others: readonly PeerState<L>[], readTimeout: number): number | null {
  const at = peer.wentAt ?? peer.unseenSince ?? 0;
  let together = 0;
  let until = Infinity;
  for (const q of others) {
    if (!q.everLinked || q.wentAt === null || Math.abs(q.wentAt - at) > readTimeout) continue;
    together += 1;
    if (q.unseenSince === null && q.activeSince !== null) until = Math.min(until, q.activeSince + readTimeout);
  }
  return 2 * together > others.length ? until : null;
}

/** Whether a peer this node sees (joined, unsuspected) still reports seeing `node`. */
function refuted<L extends LinkRef>(state: MembershipState<L>, node: string): boolean {
  for (const peer of state.peers.values()) {
    if (peer.name === node || !peer.joined || peer.suspect || peer.dropping) continue;
    if (reportOf(state, peer.name)?.sees.includes(node) === true) return true;
  }
  return false;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
