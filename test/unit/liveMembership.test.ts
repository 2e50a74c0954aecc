import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualTimeScheduler } from 'rxjs';
import { LiveMembership } from '../../src/membership/live.js';
import type { ApiClusterNode } from '../../src/membership/index.js';
import type { Link } from '../../src/session/link.js';

/** A link as far as the fold and its streams use one (no connection behind it). */
function fakeLink(peer: string): Link {
  return { peer, instance: `${peer}-1`, incarnation: 1, dialer: 'self', seq: 1, remote: `${peer}:1`, metadata: {}, send() {}, end() {} } as unknown as Link;
}

/** self joined with b and c, on a virtual clock; every members$ value recorded. */
function joined(): { live: LiveMembership; members: ReadonlyMap<string, ApiClusterNode>[]; b: Link } {
  const scheduler = new VirtualTimeScheduler();
  const live = new LiveMembership('self', { leave() {}, log() {}, gossip() {} }, { inc: 1, quorum: { strategy: 'majority' }, scheduler });
  const links = ['b', 'c'].map(fakeLink);
  for (const link of links) {
    live.input({ type: 'configure', name: link.peer, addr: `${link.peer}:1` });
    live.input({ type: 'up', link, time: 0 });
  }
  for (const link of links) live.input({ type: 'joinDue', link, time: 500 });
  scheduler.flush();
  const members: ReadonlyMap<string, ApiClusterNode>[] = [];
  live.members$.subscribe((m) => members.push(m));
  return { live, members, b: links[0] as Link };
}

describe('LiveMembership streams', () => {
  it('should give a pong of one peer a new members$ entry for that peer only: the others are the same objects', () => {
    const { live, members, b } = joined();
    assert.equal(members.length, 1, 'the current map, replayed');
    live.input({ type: 'lag', link: b, ms: 7 });
    assert.equal(members.length, 2, 'a new map for the new lag');
    const [before, after] = members as [ReadonlyMap<string, ApiClusterNode>, ReadonlyMap<string, ApiClusterNode>];
    assert.equal(after.get('b')?.lag, 7);
    assert.notEqual(after.get('b'), before.get('b'));
    assert.equal(after.get('c'), before.get('c'), "c's entry is not rebuilt");
  });

  it('should rebuild an entry whose packet count changed, even when the peer state did not', () => {
    const { live, members, b } = joined();
    live.countPacket('c');
    live.input({ type: 'lag', link: b, ms: 9 });
    const [before, after] = members as [ReadonlyMap<string, ApiClusterNode>, ReadonlyMap<string, ApiClusterNode>];
    assert.equal(before.get('c')?.packets, 0);
    assert.equal(after.get('c')?.packets, 1);
    assert.equal(live.members().get('c')?.packets, 1);
    assert.equal(live.members().get('b'), after.get('b'), 'members() reuses the views members$ made');
  });

  it('should make the lists of links once per state: the same array while nothing changes, a new one that holds the change after', () => {
    const { live, b } = joined();
    const online = live.onlineLinks();
    assert.deepEqual(online.map((l) => l.peer), ['b', 'c']);
    assert.equal(live.onlineLinks(), online, 'asked again with no change: the same array, not a copy per message');
    assert.equal(live.links(), live.links());
    assert.ok(Object.isFrozen(online), 'nobody can change the list a later broadcast reads');
    live.input({ type: 'down', link: b, reason: 'lost', time: 600 });
    assert.deepEqual(live.onlineLinks().map((l) => l.peer), ['c'], 'b left: a broadcast no longer goes to it');
    assert.deepEqual(live.links().map((l) => l.peer), ['c']);
    assert.deepEqual(online.map((l) => l.peer), ['b', 'c'], 'the old list is left as it was');
  });
});
