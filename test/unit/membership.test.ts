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
      case 'log':
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
