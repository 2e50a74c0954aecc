import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  countsOf,
  initialMembership,
  reduceMembership,
  type LinkRef,
  type MembershipEffect,
  type MembershipInput,
  type MembershipState,
} from '../../src/membership/index.js';
import { viewId, type Report } from '../../src/membership/view.js';

/** A link as the fold sees it: who, which process, which connection. */
function link(peer: string, opts: { instance?: string; incarnation?: number; dialer?: string; seq?: number; metadata?: Record<string, unknown> } = {}): LinkRef {
  return {
    peer,
    instance: opts.instance ?? `${peer}-1`,
    incarnation: opts.incarnation ?? 1,
    dialer: opts.dialer ?? 'self',
    seq: opts.seq ?? 1,
    remote: `${peer}.test:1`,
    metadata: opts.metadata ?? {},
  };
}

/** Runs inputs through the fold from a fresh state of node `self`; returns the last state and every effect, in order. */
function run(inputs: readonly MembershipInput[]): { state: MembershipState; effects: MembershipEffect[] } {
  let state = initialMembership('self');
  const effects: MembershipEffect[] = [];
  for (const input of inputs) {
    const step = reduceMembership(state, input);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

/** The effects, without log entries, as short strings: `join b`, `leave b timeout`, `close b#2 duplicate`. */
function told(effects: readonly MembershipEffect[]): string[] {
  return effects.flatMap((e) => {
    switch (e.type) {
      case 'join':
        return [`join ${e.node}@${e.time}`];
      case 'leave':
        return [`leave ${e.node} ${e.reason}@${e.time}`];
      case 'close':
        return [`close ${e.link.peer}#${e.link.seq} ${e.reason}/${e.cause}${e.notify === true ? ' notify' : ''}`];
      case 'update':
        return [`update ${e.node} ${JSON.stringify(e.metadata)}@${e.time}`];
      case 'suspect':
        return [`${e.suspect ? 'suspect' : 'alive'} ${e.node}@${e.time}`];
      case 'log':
      case 'gossip':
      case 'holdJoin':
      case 'recheck':
        return [];
    }
  });
}

const B = link('b');

describe('reduceMembership', () => {
  it('should add a configured peer Offline, counted for quorum but not online', () => {
    const { state, effects } = run([{ type: 'configure', name: 'b', addr: 'b:1' }]);
    assert.equal(state.peers.get('b')?.status, 'Offline');
    assert.equal(state.peers.get('b')?.addr, 'b:1');
    assert.deepEqual(countsOf(state), { configured: 1, online: 0 });
    assert.deepEqual(effects, []);
  });

  it('should return the same state for an input that changes nothing', () => {
    const first = run([{ type: 'configure', name: 'b', addr: 'b:1' }]).state;
    assert.equal(reduceMembership(first, { type: 'configure', name: 'b', addr: 'b:1' }).state, first);
    assert.equal(reduceMembership(first, { type: 'lag', link: B, ms: 5 }).state, first, 'lag of a link that is not active');
    assert.equal(reduceMembership(first, { type: 'unconfigure', name: 'zz' }).state, first);
  });

  it('should join only after joinDue of the active link, then leave with the reason of its down', () => {
    for (const reason of ['timeout', 'lost', 'slow', 'duplicate', 'refused'] as const) {
      const { state, effects } = run([
        { type: 'configure', name: 'b', addr: 'b:1' },
        { type: 'up', link: B, time: 10 },
        { type: 'joinDue', link: B, time: 510 },
        { type: 'down', link: B, reason, time: 900 },
      ]);
      assert.deepEqual(told(effects), ['join b@510', `leave b ${reason}@900`], reason);
      const b = state.peers.get('b');
      assert.equal(b?.status, 'Offline');
      assert.equal(b?.leaveReason, reason);
      assert.equal(b?.leavetime, 900);
      assert.equal(b?.jointime, 510);
      assert.equal(b?.lag, 0, 'no stale lag while offline');
    }
  });

  it('should show Authenticating between up and joinDue, and count the peer online only once joined', () => {
    const upOnly = run([{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'up', link: B, time: 10 }]).state;
    assert.equal(upOnly.peers.get('b')?.status, 'Authenticating');
    assert.deepEqual(countsOf(upOnly), { configured: 1, online: 0 });
    const joined = reduceMembership(upOnly, { type: 'joinDue', link: B, time: 510 }).state;
    assert.equal(joined.peers.get('b')?.status, 'Online');
    assert.deepEqual(countsOf(joined), { configured: 1, online: 1 });
  });

  it('should announce neither join nor leave for a link that dies inside joinDelay', () => {
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: B, time: 10 },
      { type: 'down', link: B, reason: 'lost', time: 100 },
      { type: 'joinDue', link: B, time: 510 },
    ]);
    assert.deepEqual(told(effects), []);
    assert.equal(state.peers.get('b')?.status, 'Offline');
    assert.equal(state.peers.get('b')?.leaveReason, null);
  });

  it('should leave with shutdown when the peer announced it, whatever the close said', () => {
    const { effects, state } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: B, time: 0 },
      { type: 'joinDue', link: B, time: 500 },
      { type: 'leaving', link: B },
      { type: 'down', link: B, reason: 'lost', time: 600 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'leave b shutdown@600']);
    assert.equal(state.peers.get('b')?.leaveReason, 'shutdown');
  });

  it('should keep the link dialed by the node whose name sorts first when both dial, with one join and no flicker', () => {
    // 'b' < 'self': the link b dialed wins on both ends, even though ours came up first
    const ours = link('b', { dialer: 'self', seq: 1 });
    const theirs = link('b', { dialer: 'b', seq: 2 });
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: ours, time: 0 },
      { type: 'up', link: theirs, time: 5 },
      { type: 'down', link: ours, reason: 'duplicate', time: 20 },
      { type: 'joinDue', link: theirs, time: 505 },
    ]);
    assert.deepEqual(told(effects), ['close b#1 duplicate/duplicate', 'join b@505']);
    assert.equal(state.peers.get('b')?.active, theirs);
    assert.equal(state.peers.get('b')?.joined, true);
    assert.deepEqual(state.peers.get('b')?.links, [theirs]);
  });

  it('should send every report again over a duplicate link that takes over: reports on the old one are no longer taken', () => {
    const ours = link('b', { dialer: 'self', seq: 1 });
    const theirs = link('b', { dialer: 'b', seq: 2 });
    const c = link('c');
    const before = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'configure', name: 'c', addr: 'c:1' },
      { type: 'up', link: ours, time: 0 },
      { type: 'up', link: c, time: 0 },
      { type: 'reach', link: c, reports: [{ node: 'c', inc: 1, v: 3, sees: ['b', 'self'], down: [], view: '0000000000000000' }], time: 1 },
    ]).state;
    // b's link wins ('b' < 'self'): this end's reports must reach b over it
    const step = reduceMembership(before, { type: 'up', link: theirs, time: 5 });
    const welcome = step.effects.filter((e) => e.type === 'gossip' && e.to.includes(theirs));
    assert.equal(welcome.length, 1, `one batch of reports over the link that took over: ${gossip(step.effects).join(' | ')}`);
    assert.deepEqual(welcome.flatMap((e) => (e.type === 'gossip' ? e.reports.map((r) => r.node) : [])), ['self', 'c'], 'its own report first, then every one it holds');
    // a report b sent over the old link before it switched too is not taken
    const late = reduceMembership(step.state, { type: 'reach', link: ours, reports: [{ node: 'b', inc: 1, v: 9, sees: ['c', 'self'], down: [], view: '0000000000000000' }], time: 6 });
    assert.equal(late.state.reports.get('b'), undefined);
    // the link that loses takes nothing over: no welcome
    const losing = reduceMembership(step.state, { type: 'up', link: link('b', { dialer: 'self', seq: 3 }), time: 7 });
    assert.deepEqual(gossip(losing.effects), []);
  });

  it('should send every report again over the other link of the same process when the active one goes down first', () => {
    // both dialed: b's link is kept ('b' < 'self') and ours is still there when b's goes down
    const theirs = link('b', { dialer: 'b', seq: 2 });
    const ours = link('b', { dialer: 'self', seq: 1 });
    const { state } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: theirs, time: 0 },
      { type: 'up', link: ours, time: 5 },
    ]);
    assert.equal(state.peers.get('b')?.active, theirs);
    const step = reduceMembership(state, { type: 'down', link: theirs, reason: 'lost', time: 10 });
    assert.equal(step.state.peers.get('b')?.active, ours, 'the heir takes over, with no leave');
    assert.deepEqual(told(step.effects), []);
    assert.deepEqual(gossip(step.effects), ['b: selfv1'], 'this node\'s reports go over the heir');
  });

  it('should let a surviving duplicate take over without a leave when the active link goes down first', () => {
    const older = link('b', { dialer: 'self', seq: 1 });
    const newer = link('b', { dialer: 'self', seq: 2 });
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: older, time: 0 },
      { type: 'joinDue', link: older, time: 500 },
      { type: 'up', link: newer, time: 600 },
      // newer wins (same dialer, larger seq); older is closed, and its down changes nothing
      { type: 'down', link: older, reason: 'duplicate', time: 610 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'close b#1 duplicate/duplicate']);
    assert.equal(state.peers.get('b')?.active, newer);
    assert.equal(state.peers.get('b')?.joined, true);
  });

  it('should replace a restarted peer at once: the old instance leaves with restarted, the new one joins after its joinDue', () => {
    const old = link('b', { instance: 'old', incarnation: 100, seq: 1 });
    const fresh = link('b', { instance: 'new', incarnation: 200, seq: 2 });
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: old, time: 0 },
      { type: 'joinDue', link: old, time: 500 },
      { type: 'up', link: fresh, time: 1000 },
      { type: 'joinDue', link: old, time: 1200 }, // a late joinDue of the old process changes nothing
      { type: 'down', link: old, reason: 'restarted', time: 1010 },
      { type: 'joinDue', link: fresh, time: 1500 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'close b#1 restarted/duplicate', 'leave b restarted@1000', 'join b@1500']);
    assert.equal(state.peers.size, 1, 'never two entries for one name');
    assert.equal(state.peers.get('b')?.active, fresh);
  });

  it('should refuse an older process while a newer one is connected', () => {
    const current = link('b', { instance: 'new', incarnation: 200, seq: 1 });
    const stale = link('b', { instance: 'old', incarnation: 100, seq: 2 });
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: current, time: 0 },
      { type: 'joinDue', link: current, time: 500 },
      { type: 'up', link: stale, time: 600 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'close b#2 refused/policy']);
    assert.equal(state.peers.get('b')?.active, current);
    assert.equal(state.peers.get('b')?.joined, true);
  });

  it('should close a link that finishes its handshake after removeNode, and announce nothing', () => {
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'unconfigure', name: 'b' },
      { type: 'up', link: B, time: 10 },
    ]);
    assert.deepEqual(told(effects), ['close b#1 removed/removed']);
    assert.equal(state.peers.has('b'), false);
  });

  it('should take a removed peer out of quorum at once, close its link, and announce the leave when it is down', () => {
    const { state: joined } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'configure', name: 'c', addr: 'c:1' },
      { type: 'up', link: B, time: 0 },
      { type: 'joinDue', link: B, time: 500 },
    ]);
    const removed = reduceMembership(joined, { type: 'unconfigure', name: 'b' });
    assert.deepEqual(told(removed.effects), ['close b#1 removed/removed']);
    assert.deepEqual(countsOf(removed.state), { configured: 1, online: 0 });
    assert.equal(removed.state.peers.get('b')?.configured, false, 'still listed while its link closes');
    const gone = reduceMembership(removed.state, { type: 'down', link: B, reason: 'removed', time: 700 });
    assert.deepEqual(told(gone.effects), ['leave b removed@700']);
    assert.equal(gone.state.peers.has('b'), false);
  });

  it('should keep a live link when the address changes, and use the new address from then on', () => {
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: B, time: 0 },
      { type: 'joinDue', link: B, time: 500 },
      { type: 'configure', name: 'b', addr: 'b:2' },
    ]);
    assert.deepEqual(told(effects), ['join b@500']);
    assert.equal(state.peers.get('b')?.addr, 'b:2');
    assert.equal(state.peers.get('b')?.joined, true);
  });

  it('should tell a link that comes up while stopping that this node leaves, and announce nothing more', () => {
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'configure', name: 'c', addr: 'c:1' },
      { type: 'up', link: B, time: 0 },
      { type: 'joinDue', link: B, time: 500 },
      { type: 'stop' },
      { type: 'up', link: link('c'), time: 600 },
      { type: 'down', link: B, reason: 'stopping', time: 700 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'close c#1 stopping/shutdown notify']);
    for (const peer of state.peers.values()) assert.equal(peer.status, 'Stopping');
  });

  it('should keep the lag of the active link only, and record dial faults', () => {
    const { state } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'dialFailed', name: 'b', error: 'dial failed: ECONNREFUSED' },
      { type: 'up', link: B, time: 0 },
      { type: 'lag', link: B, ms: 7 },
      { type: 'lag', link: link('b', { seq: 9 }), ms: 99 },
    ]);
    assert.equal(state.peers.get('b')?.lag, 7);
    assert.equal(state.peers.get('b')?.error, 'dial failed: ECONNREFUSED');
  });

  it('should take metadata from the handshake, and announce a change as an update only once joined', () => {
    const b = link('b', { metadata: { role: 'cache' } });
    const { state, effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: b, time: 0 },
      { type: 'meta', link: b, metadata: { role: 'cache', zone: 1 }, time: 100 },
      { type: 'joinDue', link: b, time: 500 },
      { type: 'meta', link: b, metadata: { role: 'leader' }, time: 600 },
      { type: 'meta', link: link('b', { seq: 9 }), metadata: { role: 'impostor' }, time: 700 },
    ]);
    assert.deepEqual(told(effects), ['join b@500', 'update b {"role":"leader"}@600']);
    assert.deepEqual(state.peers.get('b')?.metadata, { role: 'leader' }, 'only the active link speaks for the peer');
    const fresh = run([{ type: 'configure', name: 'c', addr: 'c:1' }]).state;
    assert.deepEqual(fresh.peers.get('c')?.metadata, {});
  });

  it('should forget an inbound-only peer once its links are gone, and never list self', () => {
    const { state } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: B, time: 0 },
      { type: 'unconfigure', name: 'b' },
      { type: 'down', link: B, reason: 'removed', time: 10 },
    ]);
    assert.equal(state.peers.size, 0);
  });
});

/** The reports the fold holds of `b` and `c`, as peers would send them. */
function reachOf(node: string, sees: string[], down: string[] = [], v = 1): MembershipInput {
  const from = node === 'b' ? B : C;
  return { type: 'reach', link: from, reports: [{ node, inc: 1, v, sees, down, view: '0000000000000000' }], time: 0 };
}

const C = link('c');
const D = link('d');
const E = link('e');

/** readTimeout 3000, and self joined with b, c, d and e (links up at 10, joined at 510). */
function fourPeersJoined(): MembershipInput[] {
  const inputs: MembershipInput[] = [{ type: 'tune', readTimeout: 3000 }];
  for (const l of [B, C, D, E]) inputs.push({ type: 'configure', name: l.peer, addr: `${l.peer}:1` }, { type: 'up', link: l, time: 10 }, { type: 'joinDue', link: l, time: 510 });
  return inputs;
}

/** self joined with b and c, both reporting they see everyone. */
const threeJoined: MembershipInput[] = [
  { type: 'configure', name: 'b', addr: 'b:1' },
  { type: 'configure', name: 'c', addr: 'c:1' },
  { type: 'up', link: B, time: 10 },
  { type: 'up', link: C, time: 10 },
  { type: 'joinDue', link: B, time: 510 },
  { type: 'joinDue', link: C, time: 510 },
  reachOf('b', ['c', 'self']),
  reachOf('c', ['b', 'self']),
];

/** The gossip effects: 'to: node,node' with the reports' authors and versions. */
function gossip(effects: readonly MembershipEffect[]): string[] {
  return effects.flatMap((e) => (e.type === 'gossip' ? [`${e.to.map((l) => l.peer).join(',')}: ${e.reports.map((r) => `${r.node}v${r.v}`).join(',')}`] : []));
}

describe('reduceMembership: suspicion, reachability and the view', () => {
  it('should keep a node out at once when it comes back into reach still reported lost: the view never held it, so nothing waits', () => {
    // readTimeout 1000 (viewSettle 300): c reports b lost, b goes out; b crashes (out of reach), restarts, and
    // joins while c still cannot reach it: the new b never enters the view (was: in at its join, out 300 ms later)
    const rep = (node: string, v: number, sees: string[], down: string[] = [], inc = 1): Report => ({ node, inc, v, sees, down, view: '0000000000000000' });
    const B2 = link('b', { instance: 'b-2', incarnation: 2, seq: 2 });
    const inputs: MembershipInput[] = [{ type: 'tune', readTimeout: 1000 }];
    for (const l of [B, C, D, E]) inputs.push({ type: 'configure', name: l.peer, addr: `${l.peer}:1` }, { type: 'up', link: l, time: 10 });
    for (const l of [B, C, D, E]) inputs.push({ type: 'joinDue', link: l, time: 110 });
    inputs.push(
      { type: 'reach', link: B, reports: [rep('b', 1, ['d', 'e', 'self'])], time: 200 },
      { type: 'reach', link: C, reports: [rep('c', 1, ['d', 'e', 'self'], ['b'])], time: 200 },
      { type: 'reach', link: D, reports: [rep('d', 1, ['b', 'c', 'e', 'self'])], time: 200 },
      { type: 'reach', link: E, reports: [rep('e', 1, ['b', 'c', 'd', 'self'])], time: 200 },
      { type: 'tick', time: 500 },
    );
    let state = run(inputs).state;
    assert.deepEqual(state.view, ['c', 'd', 'e', 'self'], 'b out once the loss settled');
    const views: string[] = [];
    for (const input of [
      { type: 'down', link: B, reason: 'lost', time: 1000 },
      { type: 'reach', link: D, reports: [rep('d', 2, ['c', 'e', 'self'])], time: 1010 },
      { type: 'reach', link: E, reports: [rep('e', 2, ['c', 'd', 'self'])], time: 1010 },
      { type: 'up', link: B2, time: 2000 },
      { type: 'reach', link: D, reports: [rep('d', 3, ['b', 'c', 'e', 'self'])], time: 2010 },
      { type: 'reach', link: E, reports: [rep('e', 3, ['b', 'c', 'd', 'self'])], time: 2010 },
      { type: 'joinDue', link: B2, time: 2100 },
      { type: 'tick', time: 2400 },
    ] satisfies MembershipInput[]) {
      state = reduceMembership(state, input).state;
      views.push(state.view.join(','));
    }
    assert.ok(state.peers.get('b')?.joined, 'the new b joined');
    assert.deepEqual(new Set(views), new Set(['c,d,e,self']), `b never in the view: ${views.join(' | ')}`);
  });

  it('should give a loss heard late in another one\'s wait a wait of its own, but never wait more than twice viewSettle', () => {
    // readTimeout 3000 (viewSettle 450): c reports d lost at 1000, then e at 1400: the view leaves both out at 1850,
    // not at 1450 (e's loss would have had 50 ms for its other side to be heard)
    const rep = (node: string, v: number, sees: string[], down: string[] = []): Report => ({ node, inc: 1, v, sees, down, view: '0000000000000000' });
    const base = run([
      ...fourPeersJoined(),
      { type: 'reach', link: B, reports: [rep('b', 1, ['c', 'd', 'e', 'self'])], time: 600 },
      { type: 'reach', link: D, reports: [rep('d', 1, ['b', 'c', 'e', 'self'])], time: 600 },
      { type: 'reach', link: E, reports: [rep('e', 1, ['b', 'c', 'd', 'self'])], time: 600 },
      { type: 'reach', link: C, reports: [rep('c', 1, ['b', 'e', 'self'], ['d'])], time: 1000 },
    ]).state;
    const later = reduceMembership(base, { type: 'reach', link: C, reports: [rep('c', 2, ['b', 'self'], ['d', 'e'])], time: 1400 });
    assert.ok(later.effects.some((e) => e.type === 'recheck' && e.delay === 450), 'a tick for 1850');
    assert.deepEqual(reduceMembership(later.state, { type: 'tick', time: 1450 }).state.view, ['b', 'c', 'd', 'e', 'self'], 'still held at 1450');
    const settled = reduceMembership(later.state, { type: 'tick', time: 1850 }).state;
    assert.deepEqual(settled.view, ['b', 'c', 'self'], 'moved at 1850: d and e, each reported lost by c, are out');
    // a request changing every 400 ms is taken at the cap: 2 × 450 after the first
    let state = base;
    for (const [i, t] of [1400, 1800].entries()) state = reduceMembership(state, { type: 'reach', link: C, reports: [rep('c', 2 + i, i === 0 ? ['b', 'self'] : ['b', 'e', 'self'], i === 0 ? ['d', 'e'] : ['d'])], time: t }).state;
    assert.deepEqual(state.view, ['b', 'c', 'd', 'e', 'self'], 'held at 1800');
    assert.deepEqual(reduceMembership(state, { type: 'tick', time: 1899 }).state.view, ['b', 'c', 'd', 'e', 'self'], 'held at 1899');
    assert.deepEqual(reduceMembership(state, { type: 'tick', time: 1900 }).state.view, ['b', 'c', 'e', 'self'], 'taken at 1900, the cap: d, reported lost by c, is out');
  });

  it('should ask for the tick again when one comes early: a held view change is never left without one', () => {
    const { state } = run([...threeJoined, { type: 'suspect', link: B, suspect: true, time: 11_510 }, { type: 'tick', time: 22_510 }]);
    assert.equal(state.recheckAt, 22_960);
    const early = reduceMembership(state, { type: 'tick', time: 22_959 });
    assert.deepEqual(early.effects.filter((e) => e.type === 'recheck').map((e) => (e.type === 'recheck' ? e.delay : 0)), [1], 'asked again, for the 1 ms left');
    assert.deepEqual(early.state.view, ['b', 'c', 'self']);
  });

  it('should suspect a silent joined peer, keep it joined, drop it from its report, report it lost and out of the view after readTimeout more, and clear it when it speaks', () => {
    const { state, effects } = run([...threeJoined, { type: 'suspect', link: B, suspect: true, time: 11_510 }]);
    assert.deepEqual(told(effects).slice(-1), ['suspect b@11510']);
    const b = state.peers.get('b');
    assert.equal(b?.status, 'Suspect');
    assert.equal(b?.joined, true, 'still a member: c still sees it');
    assert.deepEqual(state.own.sees, ['c'], 'not in this node\'s report');
    assert.deepEqual(state.own.down, [], 'not reported lost yet: a suspicion the next frame clears moves no view');
    assert.deepEqual(state.view, ['b', 'c', 'self']);
    assert.ok(!effects.some((e) => e.type === 'close'), 'c refutes: no close');
    const reported = reduceMembership(state, { type: 'tick', time: 22_510 });
    assert.deepEqual(reported.state.own.down, ['b'], 'suspected for readTimeout: reported lost');
    assert.deepEqual(reported.state.view, ['b', 'c', 'self'], 'still in the view while the loss settles (viewSettle: 3 report spacings, 450 ms)');
    assert.ok(reported.effects.some((e) => e.type === 'recheck' && e.delay === 450), 'a tick is asked for when the loss has settled');
    const accused = reduceMembership(reported.state, { type: 'tick', time: 22_960 });
    assert.deepEqual(accused.state.view, ['c', 'self'], 'out of the view');
    const cleared = reduceMembership(accused.state, { type: 'suspect', link: B, suspect: false, time: 23_000 });
    assert.deepEqual(told(cleared.effects), ['alive b@23000']);
    assert.equal(cleared.state.peers.get('b')?.status, 'Online');
    assert.deepEqual(cleared.state.view, ['c', 'self'], 'back in the view only once that has settled too');
    assert.deepEqual(reduceMembership(cleared.state, { type: 'tick', time: 23_450 }).state.view, ['b', 'c', 'self']);
  });

  it('should move its view once when it hears its own loss of a peer first and the peer\'s loss of it, relayed, within viewSettle', () => {
    // one-way loss between self and b, seen by both at about the same moment: self's own loss of b
    // alone would leave b out; b's loss of self, relayed by c 200 ms later, with c, d and e already
    // holding the view b's report gave them (without self), leaves self out: the view moves once, there
    const without = (out: string): string => viewId(['b', 'c', 'd', 'e', 'self'].filter((n) => n !== out));
    const others = ['c', 'd', 'e'].map((n) => ({ node: n, inc: 1, v: 2, sees: ['b', 'c', 'd', 'e', 'self'].filter((m) => m !== n), down: [], view: without('self') }));
    const inputs: MembershipInput[] = [
      ...fourPeersJoined(),
      { type: 'reach', link: B, reports: [{ node: 'b', inc: 1, v: 1, sees: ['c', 'd', 'e', 'self'], down: [], view: without('') }], time: 600 },
      { type: 'reach', link: C, reports: others, time: 600 },
      { type: 'suspect', link: B, suspect: true, time: 1000 },
      { type: 'tick', time: 4000 },
    ];
    let state = run(inputs).state;
    assert.deepEqual(state.own.down, ['b'], 'this node reports b lost');
    const views = [state.view.join(',')];
    for (const input of [
      { type: 'reach', link: C, reports: [{ node: 'b', inc: 1, v: 5, sees: ['c', 'd', 'e'], down: ['self'], view: without('self') }], time: 4200 },
      { type: 'tick', time: 4450 },
      { type: 'tick', time: 4650 },
      { type: 'tick', time: 10_000 },
    ] satisfies MembershipInput[]) {
      state = reduceMembership(state, input).state;
      views.push(state.view.join(','));
    }
    // b's loss of self asks for another set: its own wait starts (viewSettle from 4200)
    assert.deepEqual(views, ['b,c,d,e,self', 'b,c,d,e,self', 'b,c,d,e,self', 'b,c,d,e', 'b,c,d,e'], 'one move, to the view every other node holds');
    assert.equal(state.own.view, without('self'));
  });

  it('should drop a suspect with leave timeout once no peer it sees reports seeing it (confirmed)', () => {
    const { state, effects } = run([...threeJoined, { type: 'suspect', link: B, suspect: true, time: 11_510 }, reachOf('c', ['self'], ['b'], 2)]);
    const closes = effects.filter((e) => e.type === 'close');
    assert.deepEqual(told(closes), ['close b#1 timeout/timeout'], 'closed once, when c no longer sees b');
    const after = reduceMembership(state, { type: 'down', link: B, reason: 'timeout', time: 11_600 });
    assert.deepEqual(told(after.effects), ['leave b timeout@11600']);
  });

  it('should drop a suspect at once when it has no other peer to refute it', () => {
    const { effects } = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: B, time: 10 },
      { type: 'joinDue', link: B, time: 510 },
      { type: 'suspect', link: B, suspect: true, time: 11_510 },
    ]);
    assert.deepEqual(told(effects), ['join b@510', 'suspect b@11510', 'close b#1 timeout/timeout']);
  });

  it('should close a link silent before its join at once, with no suspicion', () => {
    const { effects } = run([{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'up', link: B, time: 10 }, { type: 'suspect', link: B, suspect: true, time: 11_010 }]);
    assert.deepEqual(told(effects), ['close b#1 timeout/timeout']);
  });

  it('should send its report to every peer when it changes, a new link every report, and relay reports between nodes cut off from each other', () => {
    const up = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'configure', name: 'c', addr: 'c:1' },
      { type: 'up', link: B, time: 10 },
    ]);
    assert.deepEqual(gossip(up.effects), ['b: selfv1'], 'the new link gets this node\'s report, already naming b');
    const both = run([...threeJoined]);
    // c's report says it does not see b: b's reports are relayed to c, c's to b
    const relay = reduceMembership(both.state, reachOf('c', ['self'], ['b'], 5));
    assert.ok(gossip(relay.effects).includes('b: cv5'), `c's report goes on to b: ${gossip(relay.effects).join(' | ')}`);
    assert.ok(gossip(relay.effects).includes('c: bv1'), `b's report goes to c, which cannot hear b: ${gossip(relay.effects).join(' | ')}`);
    const stale = reduceMembership(relay.state, reachOf('c', ['b', 'self'], [], 4));
    assert.equal(stale.state, relay.state, 'an older report of c changes nothing');
  });

  it('should ignore the report of an older process of a peer once a newer one is connected', () => {
    const { state } = run([...threeJoined, { type: 'up', link: link('b', { instance: 'b-2', incarnation: 2, seq: 2 }), time: 20_000 }]);
    assert.equal(state.reports.get('b')?.inc, 1, 'the old report is still held');
    assert.deepEqual(state.view, ['c', 'self'], 'the new b is not joined yet; its old report does not count');
  });

  it('should report a peer it lost (not suspected) only once it has been unseen for readTimeout, and ask for the tick', () => {
    const { state, effects } = run([...threeJoined, { type: 'down', link: B, reason: 'lost', time: 20_000 }]);
    assert.deepEqual(state.own.down, [], 'not yet: it may be back at once');
    const recheck = effects.filter((e) => e.type === 'recheck');
    assert.deepEqual(recheck, [{ type: 'recheck', delay: 11_000 }], 'a tick asked for readTimeout later');
    const later = reduceMembership(state, { type: 'tick', time: 31_000 });
    assert.deepEqual(later.state.own.down, ['b']);
  });

  it('should not take a loss of this node from a report older than the link now up with its author: the view keeps this node', () => {
    // e was lost and came back; its last report, relayed by b before the new link, says it lost this node
    const E2 = link('e', { seq: 2 });
    const before = run([
      ...fourPeersJoined(),
      { type: 'down', link: E, reason: 'lost', time: 1000 },
      { type: 'tick', time: 4000 },
      { type: 'reach', link: B, reports: [{ node: 'e', inc: 1, v: 7, sees: ['b', 'c', 'd'], down: ['self'], view: '0000000000000000' }], time: 4100 },
    ]).state;
    assert.deepEqual(before.view, ['b', 'c', 'd', 'self'], 'e, lost both ways, is out');
    // the new link proves both ways work: e's stale accusation no longer counts
    const up = reduceMembership(before, { type: 'up', link: E2, time: 5000 }).state;
    assert.ok(up.view.includes('self'), `this node stays in its own view when e's link comes up: ${up.view.join(', ')}`);
    // once e's own report comes over the link, what it says counts again (here: it sees this node)
    const heard = reduceMembership(up, { type: 'reach', link: E2, reports: [{ node: 'e', inc: 1, v: 8, sees: ['b', 'c', 'd', 'self'], down: [], view: '0000000000000000' }], time: 5001 }).state;
    assert.equal(heard.peers.get('e')?.reportPredatesLink, false, 'the flag is cleared by e\'s own report over the link');
    assert.ok(heard.view.includes('self'));
    const accusing = reduceMembership(up, { type: 'reach', link: E2, reports: [{ node: 'e', inc: 1, v: 8, sees: ['b', 'c', 'd'], down: ['self'], view: '0000000000000000' }], time: 5001 }).state;
    const settled = reduceMembership(accusing, { type: 'tick', time: 5451 }).state;
    assert.ok(!settled.view.includes('self'), 'an accusation sent over the live link counts (once it has settled)');
  });

  it('should take a loss of this node again once the link that made its author\'s report out of date is gone, before any report came over it', () => {
    const E2 = link('e', { seq: 2 });
    const inputs: MembershipInput[] = [
      ...fourPeersJoined(),
      { type: 'down', link: E, reason: 'lost', time: 1000 },
      { type: 'tick', time: 4000 },
      { type: 'reach', link: B, reports: [{ node: 'e', inc: 1, v: 7, sees: ['b', 'c', 'd'], down: ['self'], view: '0000000000000000' }], time: 4100 },
      // e's new link comes up and goes again before e's own report came over it
      { type: 'up', link: E2, time: 5000 },
      { type: 'down', link: E2, reason: 'lost', time: 5010 },
      // a newer accusation of e, relayed by b
      { type: 'reach', link: B, reports: [{ node: 'e', inc: 1, v: 9, sees: ['b', 'c', 'd'], down: ['self'], view: '0000000000000000' }], time: 5100 },
    ];
    const { state } = run(inputs);
    // (left set, the flag would keep dropping this node from every later report of e, whoever relays it,
    // and this node would compute another view than its peers from the same reports)
    assert.equal(state.peers.get('e')?.reportPredatesLink, false, 'cleared with the link');
    assert.equal(state.peers.get('e')?.active, undefined);
  });

  it('should accuse nobody when it stopped seeing most of its peers at once, even once it reaches some of them again', () => {
    const five = fourPeersJoined();
    // this node's own link fails: all four go silent
    const cutOff = [...five];
    for (const [i, l] of [B, C, D, E].entries()) cutOff.push({ type: 'suspect', link: l, suspect: true, time: 10_000 + i });
    for (const [i, l] of [B, C, D, E].entries()) cutOff.push({ type: 'down', link: l, reason: 'timeout', time: 10_010 + i });
    // back: b and e reached again at 15 s; c and d not yet at 16 s
    const B2 = link('b', { seq: 2 });
    const E2 = link('e', { seq: 2 });
    cutOff.push({ type: 'up', link: B2, time: 15_000 }, { type: 'up', link: E2, time: 15_000 }, { type: 'tick', time: 16_000 });
    const back = run(cutOff);
    assert.deepEqual(back.state.own.sees, ['b', 'e']);
    assert.deepEqual(back.state.own.down, [], 'c and d are not accused: they went with everyone else');
    assert.equal(back.state.recheckAt, 18_000, 'a recheck when the excuse ends: readTimeout after b and e were linked again');
    // back for readTimeout, and c and d still out of reach: they are accused now
    const still = reduceMembership(back.state, { type: 'tick', time: 17_999 });
    assert.deepEqual(still.state.own.down, [], 'not before readTimeout after the first link back');
    const expired = reduceMembership(still.state, { type: 'tick', time: 18_000 });
    assert.deepEqual(expired.state.own.down, ['c', 'd'], 'readTimeout after it was back, whom it still cannot reach it accuses');
    // the same node losing only two of four (the big side of a partition) reports them
    const side = [...five];
    for (const [i, l] of [D, E].entries()) side.push({ type: 'suspect', link: l, suspect: true, time: 10_000 + i }, { type: 'down', link: l, reason: 'timeout', time: 10_010 + i });
    side.push({ type: 'tick', time: 13_100 });
    assert.deepEqual(run(side).state.own.down, ['d', 'e']);
  });

  it('should let a fresh link of the same dialer replace a suspected one, with no leave: the peer is heard again', () => {
    const inputs: MembershipInput[] = [...threeJoined, { type: 'suspect', link: B, suspect: true, time: 20_000 }];
    const before = run(inputs);
    assert.equal(before.state.peers.get('b')?.suspect, true);
    assert.equal(before.state.peers.get('b')?.status, 'Suspect');
    // this node dialed B (seq 1); its fresh dial (seq 2) authenticates beside it
    const B2 = link('b', { seq: 2 });
    const step = reduceMembership(before.state, { type: 'up', link: B2, time: 21_000 });
    assert.deepEqual(told(step.effects), ['close b#1 duplicate/duplicate', 'alive b@21000'], 'the silent link is closed; no leave, no join');
    const peer = step.state.peers.get('b');
    assert.equal(peer?.active, B2, 'the fresh link is active');
    assert.equal(peer?.activeSince, 21_000, 'linked again now');
    assert.equal(peer?.suspect, false);
    assert.equal(peer?.status, 'Online');
    assert.equal(peer?.joined, true);
    // the old link's end changes nothing more
    const after = reduceMembership(step.state, { type: 'down', link: B, reason: 'duplicate', time: 21_100 });
    assert.deepEqual(told(after.effects), []);
    assert.equal(after.state.peers.get('b')?.active, B2);
    // an unsuspected peer's duplicate (both sides dialed) tells nothing either: no alive
    const calm = reduceMembership(run(threeJoined).state, { type: 'up', link: B2, time: 21_000 });
    assert.deepEqual(told(calm.effects), ['close b#1 duplicate/duplicate']);
  });

  it('should leave the old link for the peer to close when the peer dialed a fresh one beside it: its close could outrun our welcome', () => {
    // b dialed the link; b found it silent and dialed a fresh one beside it
    const fromB = link('b', { dialer: 'b', seq: 1 });
    const freshFromB = link('b', { dialer: 'b', seq: 2 });
    const joined = run([
      { type: 'configure', name: 'b', addr: 'b:1' },
      { type: 'up', link: fromB, time: 0 },
      { type: 'joinDue', link: fromB, time: 500 },
    ]);
    const step = reduceMembership(joined.state, { type: 'up', link: freshFromB, time: 21_000 });
    assert.deepEqual(told(step.effects), [], 'nothing closed here: b closes the old link once the fresh one is up on its end');
    const peer = step.state.peers.get('b');
    assert.equal(peer?.active, freshFromB, 'the fresh link is active');
    assert.deepEqual(peer?.links, [fromB, freshFromB], 'the old one stays until b closes it');
    const closed = reduceMembership(step.state, { type: 'down', link: fromB, reason: 'duplicate', time: 21_050 });
    assert.deepEqual(told(closed.effects), [], 'b closing it changes nothing');
    assert.deepEqual(closed.state.peers.get('b')?.links, [freshFromB]);
    assert.equal(closed.state.peers.get('b')?.joined, true);
    // had the fresh link failed on b's end instead, it goes down here and the old one takes over, with no leave
    const failed = reduceMembership(step.state, { type: 'down', link: freshFromB, reason: 'lost', time: 21_050 });
    assert.deepEqual(told(failed.effects), []);
    assert.equal(failed.state.peers.get('b')?.active, fromB);
  });

  it('should excuse the peers lost with one that a fresh link brought back for readTimeout more, not end the excuse at once', () => {
    const inputs = fourPeersJoined();
    // e still sees everyone, so nobody is dropped; b, c and d fall silent together: this node is the one cut off
    inputs.push(reachOf('e', ['b', 'c', 'd', 'self']));
    for (const l of [B, C, D]) inputs.push({ type: 'suspect', link: l, suspect: true, time: 10_000 });
    inputs.push({ type: 'tick', time: 13_000 });
    const cut = run(inputs);
    assert.deepEqual(cut.state.own.down, [], 'lost with most peers: nobody accused');
    // a fresh link this node dialed brings b back at 15 s; c and d are still out of reach
    const back = reduceMembership(cut.state, { type: 'up', link: link('b', { seq: 2 }), time: 15_000 });
    const soon = reduceMembership(back.state, { type: 'tick', time: 16_000 });
    assert.deepEqual(soon.state.own.down, [], 'c and d still excused a second after b came back');
    assert.equal(soon.state.recheckAt, 18_000, 'until readTimeout after b was linked again');
    const later = reduceMembership(soon.state, { type: 'tick', time: 18_000 });
    assert.deepEqual(later.state.own.down, ['c', 'd'], 'then accused');
  });

  it('should forget a suspicion its own link cleared: a pause that briefly silenced every peer does not excuse a real loss after it', () => {
    const inputs = fourPeersJoined();
    // e sees everyone: it refutes each suspicion below, so no link is dropped
    inputs.push(reachOf('e', ['b', 'c', 'd', 'self']));
    // b goes silent at 10 s (a one-way fault); at 11 s this process pauses and wakes suspecting c and d too,
    // whose next frames clear the suspicion on the same links
    inputs.push({ type: 'suspect', link: B, suspect: true, time: 10_000 });
    for (const l of [C, D]) inputs.push({ type: 'suspect', link: l, suspect: true, time: 11_000 });
    for (const l of [C, D]) inputs.push({ type: 'suspect', link: l, suspect: false, time: 11_050 });
    inputs.push({ type: 'tick', time: 13_000 });
    const { state } = run(inputs);
    assert.deepEqual(state.own.sees, ['c', 'd', 'e']);
    assert.deepEqual(
      [...state.peers.values()].map((p) => `${p.name}:${String(p.wentAt)}`),
      ['b:10000', 'c:null', 'd:null', 'e:null'],
      'the hiccups are forgotten; b\'s outage is kept',
    );
    assert.deepEqual(state.own.down, ['b'], 'b, unseen for readTimeout, is accused: the pause did not cut this node off');
  });

  it('should hold the join of a flapping peer (damping) until its penalty has decayed below 0.75 and its link has lasted 2 × readTimeout', () => {
    const flaps: MembershipInput[] = [{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'tune', readTimeout: 3000 }];
    let t = 0;
    for (let i = 0; i < 2; i++) {
      flaps.push({ type: 'up', link: B, time: t }, { type: 'joinDue', link: B, time: t + 500 }, { type: 'down', link: B, reason: 'timeout', time: t + 3000 });
      t += 10_000;
    }
    flaps.push({ type: 'up', link: B, time: t }, { type: 'joinDue', link: B, time: t + 500 });
    const { state, effects } = run(flaps);
    assert.deepEqual(told(effects), ['join b@500', 'leave b timeout@3000', 'join b@10500', 'leave b timeout@13000'], 'the third join is held');
    const held = effects.filter((e) => e.type === 'holdJoin');
    // penalty 1 at 3000, then 1 + 2^(-10/15) = 1.63 at 13000: suppressed; below 0.75 after 15 s × log2(1.63 / 0.75) = 16.8 s,
    // later than the link's 2 × readTimeout (26000): a link that went silent at 25000 would be found out only at 28000
    const penalty = 1 + 2 ** (-10 / 15);
    const releaseAt = 13_000 + Math.ceil(15_000 * Math.log2(penalty / 0.75));
    assert.ok(releaseAt > 28_000, `released at ${releaseAt}`);
    assert.deepEqual(held.map((e) => (e.type === 'holdJoin' ? e.delay : 0)), [releaseAt - (t + 500)]);
    assert.equal(state.peers.get('b')?.suppressed, true);
    const early = reduceMembership(state, { type: 'joinDue', link: B, time: releaseAt - 1 });
    assert.deepEqual(told(early.effects), [], 'still held a millisecond before');
    const released = reduceMembership(state, { type: 'joinDue', link: B, time: releaseAt });
    assert.deepEqual(told(released.effects), [`join b@${releaseAt}`]);
    assert.equal(released.state.peers.get('b')?.suppressed, false, 'a join ends the suppression');
  });

  it('should hold a suppressed peer until its link has lasted 2 × readTimeout even when its penalty has decayed', () => {
    const inputs: MembershipInput[] = [{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'tune', readTimeout: 3000 }];
    for (let i = 0; i < 2; i++) inputs.push({ type: 'up', link: B, time: i * 5000 }, { type: 'joinDue', link: B, time: i * 5000 + 500 }, { type: 'down', link: B, reason: 'lost', time: i * 5000 + 3000 });
    // suppressed at 8000 (1 + 2^(-5/15) = 1.79); the link comes back a minute later, the penalty long decayed
    inputs.push({ type: 'up', link: B, time: 68_000 }, { type: 'joinDue', link: B, time: 68_500 });
    const { effects } = run(inputs);
    assert.deepEqual(effects.filter((e) => e.type === 'holdJoin').map((e) => (e.type === 'holdJoin' ? e.delay : 0)), [5500]);
  });

  it('should not count against a peer the links it closed because it timed this node out (this node was the silent one)', () => {
    const inputs: MembershipInput[] = [{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'tune', readTimeout: 3000 }];
    for (let i = 0; i < 3; i++) inputs.push({ type: 'up', link: B, time: i * 10_000 }, { type: 'joinDue', link: B, time: i * 10_000 + 500 }, { type: 'down', link: B, reason: 'lost', judged: true, time: i * 10_000 + 3000 });
    inputs.push({ type: 'up', link: B, time: 30_000 }, { type: 'joinDue', link: B, time: 30_500 });
    const { state, effects } = run(inputs);
    assert.deepEqual(effects.filter((e) => e.type === 'holdJoin'), [], 'no join held');
    assert.deepEqual(told(effects).filter((e) => e.startsWith('join')), ['join b@500', 'join b@10500', 'join b@20500', 'join b@30500']);
    assert.equal(state.peers.get('b')?.penalty, 0);
  });

  it('should count no fault against peers lost together (a partition, or this node\'s own network), and take back one counted before the second loss', () => {
    const together = run([
      ...threeJoined,
      { type: 'suspect', link: B, suspect: true, time: 20_000 },
      { type: 'suspect', link: C, suspect: true, time: 20_010 },
      { type: 'down', link: B, reason: 'timeout', time: 20_020 },
      { type: 'down', link: C, reason: 'timeout', time: 20_030 },
    ]);
    assert.deepEqual(told(together.effects).filter((e) => e.startsWith('leave')), ['leave b timeout@20020', 'leave c timeout@20030'], 'both left');
    assert.deepEqual([together.state.peers.get('b')?.penalty, together.state.peers.get('c')?.penalty], [0, 0]);
    // b's reset is counted at once (nobody else lost yet); c's, 50 ms later, shows it was no lone fault
    const first = run([...threeJoined, { type: 'down', link: B, reason: 'lost', time: 20_000 }]);
    assert.equal(first.state.peers.get('b')?.penalty, 1, 'a lone loss counts');
    const second = reduceMembership(first.state, { type: 'down', link: C, reason: 'lost', time: 20_050 });
    assert.deepEqual([second.state.peers.get('b')?.penalty, second.state.peers.get('c')?.penalty], [0, 0], 'taken back');
    // a loss more than readTimeout after another is its own fault
    const apart = reduceMembership(first.state, { type: 'down', link: C, reason: 'lost', time: 20_000 + 11_001 });
    assert.deepEqual([apart.state.peers.get('b')?.penalty, apart.state.peers.get('c')?.penalty], [1, 1]);
  });

  it('should give a restarted peer (new incarnation) a clean damping record', () => {
    const inputs: MembershipInput[] = [{ type: 'configure', name: 'b', addr: 'b:1' }, { type: 'tune', readTimeout: 3000 }];
    for (let i = 0; i < 2; i++) inputs.push({ type: 'up', link: B, time: i * 10_000 }, { type: 'joinDue', link: B, time: i * 10_000 + 500 }, { type: 'down', link: B, reason: 'lost', time: i * 10_000 + 3000 });
    const fresh = link('b', { instance: 'b-2', incarnation: 2, seq: 9 });
    inputs.push({ type: 'up', link: fresh, time: 20_000 }, { type: 'joinDue', link: fresh, time: 20_500 });
    const { effects } = run(inputs);
    assert.deepEqual(told(effects).slice(-1), ['join b@20500']);
  });
});
