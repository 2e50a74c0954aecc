import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { Manager } from '../src/index.js';
import { fastOptions, first, joinedAll, shutdownAll, sleep, startMesh, startNode, SECRET } from './support/cluster.js';

const Greeting = t.type({ text: t.string, n: t.number }, 'Greeting');

describe('two nodes', () => {
  it('join on both sides, exchange a typed broadcast, and see the leave at once after shutdown', { timeout: 15_000 }, async () => {
    const a = await startNode('node1');
    const b = await startNode('node2');
    try {
      const aJoins: string[] = [];
      const bJoins: string[] = [];
      a.manager.nodeJoin$.subscribe((n) => aJoins.push(n));
      b.manager.nodeJoin$.subscribe((n) => bJoins.push(n));
      const aJoined = first(a.manager.nodeJoin$);
      const bJoined = first(b.manager.nodeJoin$);
      assert.equal(a.manager.nodeConfigured('node2'), false);
      a.manager.addNode('node2', b.address);
      b.manager.addNode('node1', a.address);
      assert.equal(a.manager.nodeConfigured('node2'), true);
      assert.deepEqual(b.manager.nodesConfigured(), { node1: true });
      assert.equal(await aJoined, 'node2');
      assert.equal(await bJoined, 'node1');

      const received = first(a.manager.fromCluster$);
      b.manager.toCluster$.next({ text: 'Hello World!', n: 42 });
      const packet = await received;
      assert.equal(packet.name, 'node2');
      assert.equal(packet.dataType, 'object');
      assert.deepEqual(packet.message(Greeting), { text: 'Hello World!', n: 42 });
      assert.equal(packet.dataMessage, '{"text":"Hello World!","n":42}');
      assert.ok(Math.abs(packet.time.getTime() - Date.now()) < 5000);
      assert.throws(() => packet.message(t.type({ text: t.number })), /text: expected number/);

      const members = await first(a.manager.members$, (m) => (m.get('node2')?.packets ?? 0) >= 1 || m.get('node2')?.lag !== undefined);
      assert.equal(members.get('node2')?.status, 'Online');
      assert.ok(members.get('node2')?.jointime instanceof Date);

      const left = first(a.manager.nodeLeave$, () => true, 2000, 'leave of node2');
      const started = performance.now();
      await b.manager.shutdown();
      assert.equal(await left, 'node2');
      assert.ok(performance.now() - started < 500, 'a shutdown is seen at once, not after readTimeout');
      await sleep(300);
      assert.deepEqual(aJoins, ['node2'], 'exactly one join');
      assert.deepEqual(bJoins, ['node1'], 'exactly one join');
      const after = await first(a.manager.members$);
      assert.equal(after.get('node2')?.status, 'Offline');
      assert.equal(after.get('node2')?.leaveReason, 'shutdown');
    } finally {
      await shutdownAll([a, b]);
    }
  });

  it('measures lag as a ping round trip', { timeout: 10_000 }, async () => {
    const nodes = await startMesh(['a', 'b']);
    try {
      await joinedAll(nodes);
      const members = await first(nodes[0]!.manager.members$, (m) => (m.get('b')?.lag ?? 0) > 0, 3000, 'a lag');
      const lag = members.get('b')?.lag ?? -1;
      assert.ok(lag > 0 && lag < 500, `lag ${lag} ms on loopback`);
    } finally {
      await shutdownAll(nodes);
    }
  });

  it('applies updateSettings to running connections', { timeout: 15_000 }, async () => {
    const nodes = await startMesh(['a', 'b'], fastOptions({ logTraffic: true }));
    try {
      await joinedAll(nodes);
      const a = nodes[0]!;
      const pingsSent = (): number => a.logs.filter((e) => e.message.startsWith('sending ping frame')).length;
      const before = pingsSent();
      await sleep(1000);
      const fast = pingsSent() - before;
      assert.ok(fast >= 3, `about 5 pings a second at pingInterval 200, saw ${fast}`);
      a.manager.updateSettings({ pingInterval: 3000, readTimeout: 9000 });
      const after = pingsSent();
      await sleep(1500);
      assert.equal(pingsSent() - after, 0, 'the running heartbeat took the new pingInterval at once');
      assert.equal((await first(a.manager.members$)).get('b')?.status, 'Online');
    } finally {
      await shutdownAll(nodes);
    }
  });
});

describe('three nodes, fully configured', () => {
  it('follows quorum, joins, broadcasts, private messages and leaves', { timeout: 30_000 }, async () => {
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((name) => startNode(name)));
    const [n1, n2, n3] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    try {
      const joins = new Map<string, string[]>(nodes.map((n) => [n.manager.name, []]));
      const leaves = new Map<string, string[]>(nodes.map((n) => [n.manager.name, []]));
      const quorums: boolean[] = [];
      for (const n of nodes) {
        n.manager.nodeJoin$.subscribe((x) => joins.get(n.manager.name)?.push(x));
        n.manager.nodeLeave$.subscribe((x) => leaves.get(n.manager.name)?.push(x));
      }
      n1.manager.quorum$.subscribe((q) => quorums.push(q));
      // n1 configures both others while they do not yet know it: alone, no quorum
      n1.manager.addNode('n2', n2.address);
      n1.manager.addNode('n3', n3.address);
      assert.equal(await first(n1.manager.quorum$), false, 'quorum false while alone');
      // n2 knows n1: two of three
      n2.manager.addNode('n1', n1.address);
      n2.manager.addNode('n3', n3.address);
      assert.equal(await first(n1.manager.quorum$, (q) => q, 5000, 'quorum at two'), true);
      n3.manager.addNode('n1', n1.address);
      n3.manager.addNode('n2', n2.address);
      await joinedAll(nodes);
      assert.equal(await first(n1.manager.quorum$), true, 'quorum at three');
      for (const n of nodes) assert.equal(await first(n.manager.quorum$), true);
      await sleep(200);
      for (const [name, seen] of joins) assert.deepEqual([...seen].sort(), ['n1', 'n2', 'n3'].filter((x) => x !== name), `joins seen by ${name}`);
      assert.deepEqual(quorums, [true, false, true], 'quorum$ emits its value at once, then only changes');

      // broadcast reaches both others
      const at2 = first(n2.manager.fromCluster$);
      const at3 = first(n3.manager.fromCluster$);
      const selfReceived: unknown[] = [];
      n1.manager.fromCluster$.subscribe((p) => selfReceived.push(p.message()));
      n1.manager.toCluster$.next('to all');
      assert.equal((await at2).message(), 'to all');
      assert.equal((await at3).message(), 'to all');

      // private message reaches only its target
      const got2: unknown[] = [];
      const got3: unknown[] = [];
      n2.manager.fromCluster$.subscribe((p) => got2.push(p.message()));
      n3.manager.fromCluster$.subscribe((p) => got3.push(p.message()));
      const private3 = first(n3.manager.fromCluster$);
      n1.manager.toNode$.next({ node: 'n3', message: { secret: 'only for n3' } });
      assert.deepEqual((await private3).message(), { secret: 'only for n3' });
      await sleep(200);
      assert.deepEqual(got2, [], 'n2 does not see a private message to n3');
      assert.deepEqual(got3, [{ secret: 'only for n3' }]);
      assert.deepEqual(selfReceived, []);

      // n3 shuts down: quorum stays, both survivors see the leave
      const left1 = first(n1.manager.nodeLeave$);
      const left2 = first(n2.manager.nodeLeave$);
      await n3.manager.shutdown();
      assert.equal(await left1, 'n3');
      assert.equal(await left2, 'n3');
      assert.equal(await first(n1.manager.quorum$), true, 'two of three still have quorum');

      // an unreachable fourth: 2 of 4 is no majority
      n1.manager.addNode('n4', '127.0.0.1:1');
      assert.equal(await first(n1.manager.quorum$), false);
      // removing it and the dead n3 brings quorum back
      n1.manager.removeNode('n4');
      n1.manager.removeNode('n3');
      assert.equal(await first(n1.manager.quorum$), true);
      assert.deepEqual(n1.manager.nodesConfigured(), { n2: true });
      assert.deepEqual(leaves.get('n1'), ['n3']);
      assert.deepEqual(leaves.get('n2'), ['n3']);
    } finally {
      await shutdownAll(nodes);
    }
  });

  it('removeNode closes the connection and announces the leave', { timeout: 10_000 }, async () => {
    const nodes = await startMesh(['a', 'b']);
    try {
      await joinedAll(nodes);
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const leftA = first(a.manager.nodeLeave$);
      const leftB = first(b.manager.nodeLeave$);
      const told = first(b.manager.log$, (e) => /closed the connection \(removed: removed from configuration\)/.test(e.message), 3000, 'b to be told why');
      a.manager.removeNode('b');
      assert.equal(await leftA, 'b');
      assert.equal(await leftB, 'a');
      await told;
      // b keeps redialing a, which now refuses it as unconfigured
      await first(a.manager.log$, (e) => e.code === 'RXC_ERR_PEER_REFUSED', 3000, 'refusal of b');
      assert.equal((await first(a.manager.members$)).has('b'), false);
    } finally {
      await shutdownAll(nodes);
    }
  });
});

describe('messages a peer would refuse', () => {
  it('are refused at the sender with RXC_ERR_SEND, and cost neither the connection nor the messages behind them', { timeout: 10_000 }, async () => {
    const nodes = await startMesh(['a', 'b'], fastOptions({ maxPayload: 64 * 1024 }));
    try {
      await joinedAll(nodes);
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const got: unknown[] = [];
      b.manager.fromCluster$.subscribe((p) => got.push(p.message()));
      const leaves: string[] = [];
      a.manager.nodeLeave$.subscribe((n) => leaves.push(n));
      const deep = JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`) as unknown;
      const last = first(b.manager.fromCluster$, (p) => p.message() === 'after', 3000, 'the message after');
      a.manager.toCluster$.next('before');
      a.manager.toCluster$.next('x'.repeat(100 * 1024)); // over b's (and a's) maxPayload
      a.manager.toNode$.next({ node: 'b', message: deep }); // deeper than any peer accepts
      a.manager.toCluster$.next('after');
      await last;
      assert.deepEqual(got, ['before', 'after']);
      const refusals = a.logs.filter((e) => e.code === 'RXC_ERR_SEND').map((e) => e.message);
      assert.equal(refusals.length, 2, refusals.join('\n'));
      assert.match(refusals[0] ?? '', /toCluster\$ message not sent: the frame is \d+ bytes, over maxPayload \(65536\)/);
      assert.match(refusals[1] ?? '', /toNode\$ message not sent: the message nests deeper than 256 levels/);
      assert.deepEqual(leaves, []);
    } finally {
      await shutdownAll(nodes);
    }
  });
});

describe('membership$', () => {
  it('tells each leave with its reason: removed, then shutdown', { timeout: 10_000 }, async () => {
    const nodes = await startMesh(['a', 'b', 'c']);
    try {
      await joinedAll(nodes);
      const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
      const events: string[] = [];
      a.manager.membership$.subscribe((e) => events.push(e.type === 'join' ? `join ${e.node}` : e.type === 'leave' ? `leave ${e.node} ${e.reason}` : `update ${e.node}`));
      const removed = first(a.manager.membership$, (e) => e.type === 'leave' && e.node === 'b');
      a.manager.removeNode('b');
      await removed;
      const shut = first(a.manager.membership$, (e) => e.type === 'leave' && e.node === 'c');
      await c.manager.shutdown();
      await shut;
      assert.deepEqual(events, ['leave b removed', 'leave c shutdown']);
      const members = await first(a.manager.members$);
      assert.equal(members.get('c')?.leaveReason, 'shutdown');
      assert.equal(members.has('b'), false);
      void b;
    } finally {
      await shutdownAll(nodes);
    }
  });
});

describe('simultaneous dialing', () => {
  it('ends with exactly one connection and one join on each side', { timeout: 20_000 }, async () => {
    let duplicatesResolved = 0;
    for (let round = 0; round < 5; round++) {
      const a = new Manager('alpha', SECRET, fastOptions());
      const b = new Manager('beta', SECRET, fastOptions());
      const joins: string[] = [];
      const leaves: string[] = [];
      for (const m of [a, b]) {
        m.log$.subscribe((e) => {
          if (e.code === 'RXC_ERR_DUPLICATE') duplicatesResolved++;
        });
        m.nodeJoin$.subscribe((n) => joins.push(`${m.name}<-${n}`));
        m.nodeLeave$.subscribe((n) => leaves.push(`${m.name}<-${n}`));
      }
      try {
        const [addrA, addrB] = await Promise.all([a.listen('127.0.0.1:0'), b.listen('127.0.0.1:0')]);
        // both dial at once
        a.addNode('beta', addrB);
        b.addNode('alpha', addrA);
        await Promise.all([first(a.nodeJoin$), first(b.nodeJoin$)]);
        await sleep(400);
        assert.deepEqual(joins.sort(), ['alpha<-beta', 'beta<-alpha'], `round ${round}`);
        assert.deepEqual(leaves, [], `round ${round}`);
        // one connection each: a broadcast arrives once
        const got: unknown[] = [];
        b.fromCluster$.subscribe((p) => got.push(p.message()));
        a.toCluster$.next(round);
        await first(b.fromCluster$, () => true, 2000).catch(() => undefined);
        await sleep(100);
        assert.deepEqual(got, [round]);
      } finally {
        await Promise.all([a.shutdown(), b.shutdown()]);
      }
    }
    assert.ok(duplicatesResolved > 0, 'the rounds really dialed each other at once');
  });
});
