import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fastOptions, first, joinedAll, logText, membersNow, shutdownAll, sleep } from './support/cluster.js';
import { natsMesh, startNatsNode, type NatsNode } from './support/natsNodes.js';
import { startNatsServer, type NatsServer } from './support/natsServer.js';

describe('NATS transport: behaviour', () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await server.stop();
  });

  it('addNode takes no address; listen connects; both sides join after joinDelay, once', { timeout: 15_000 }, async () => {
    const a = await startNatsNode('node one', [server.url], fastOptions({ settings: { joinDelay: 400 } }), 'rxc.t1');
    const b = await startNatsNode('node.two>*', [server.url], fastOptions({ settings: { joinDelay: 400 } }), 'rxc.t1');
    try {
      assert.match(a.address, /^nats:rxc\.t1\/node one$/);
      assert.throws(() => a.manager.addNode('x', '127.0.0.1:1'), /routes by node name/);
      const aJoins: string[] = [];
      a.manager.nodeJoin$.subscribe((n) => aJoins.push(n));
      const started = performance.now();
      const joined = first(a.manager.nodeJoin$, () => true, 5000, 'join');
      a.manager.addNode('node.two>*');
      b.manager.addNode('node one');
      assert.equal(await joined, 'node.two>*');
      assert.ok(performance.now() - started >= 380, 'the join waits joinDelay');
      await joinedAll([a, b]);
      await sleep(500);
      assert.deepEqual(aJoins, ['node.two>*'], 'exactly one join');
      const members = membersNow(a.manager);
      assert.equal(members.get('node.two>*')?.status, 'Online');
    } finally {
      await shutdownAll([a, b]);
    }
  });

  it('delivers broadcasts and private messages in order, measures lag from heartbeats, sees a shutdown at once', { timeout: 20_000 }, async () => {
    const nodes = await natsMesh(['a', 'b', 'c'], [server.url], undefined, 'rxc.t2');
    const [a, b, c] = nodes as [NatsNode, NatsNode, NatsNode];
    try {
      await joinedAll(nodes);
      const atB: unknown[] = [];
      const atC: unknown[] = [];
      b.manager.fromCluster$.subscribe((p) => p.name === 'a' && atB.push(p.message()));
      c.manager.fromCluster$.subscribe((p) => p.name === 'a' && atC.push(p.message()));
      const N = 500;
      // broadcasts and private messages to b interleaved: the order holds between them
      for (let i = 0; i < N; i++) {
        a.manager.toCluster$.next({ n: i, kind: 'all' });
        if (i % 5 === 0) a.manager.toNode$.next({ node: 'b', message: { n: i, kind: 'private' } });
      }
      const deadline = Date.now() + 5000;
      while ((atB.length < N + N / 5 || atC.length < N) && Date.now() < deadline) await sleep(20);
      const expectB: unknown[] = [];
      for (let i = 0; i < N; i++) {
        expectB.push({ n: i, kind: 'all' });
        if (i % 5 === 0) expectB.push({ n: i, kind: 'private' });
      }
      assert.deepEqual(atB, expectB, 'b: every broadcast and private message, in the order sent');
      assert.deepEqual(atC, expectB.filter((m) => (m as { kind: string }).kind === 'all'), 'c: every broadcast, in order, no private');
      assert.equal(a.transport.stats.broadcastsSent, N, 'each broadcast sent once, whatever the number of peers');

      const lagged = await first(a.manager.members$, (m) => typeof m.get('b')?.lag === 'number', 3000, 'a lag for b');
      const lag = lagged.get('b')?.lag as number;
      assert.ok(lag >= 0 && lag < 500, `lag ${lag} ms is a loopback round trip`);

      const left = first(a.manager.membership$, (e) => e.type === 'leave' && e.node === 'c', 2000, 'leave of c');
      const started = performance.now();
      await c.manager.shutdown();
      const event = await left;
      assert.ok(performance.now() - started < 500, 'a shutdown is seen at once, not after readTimeout');
      assert.equal(event.type === 'leave' ? event.reason : '', 'shutdown');
      assert.equal(a.transport.stats.forged + a.transport.stats.replayed + a.transport.stats.lost, 0, logText(a));
    } finally {
      await shutdownAll(nodes);
    }
  });

  it('quorum follows the joined peers', { timeout: 20_000 }, async () => {
    const nodes = await natsMesh(['q1', 'q2', 'q3'], [server.url], undefined, 'rxc.t3');
    const [q1, q2, q3] = nodes as [NatsNode, NatsNode, NatsNode];
    try {
      assert.equal(await first(q1.manager.quorum$), false, 'alone of three: no quorum');
      await joinedAll(nodes);
      assert.equal(await first(q1.manager.quorum$), true);
      const left = first(q1.manager.nodeLeave$, (n) => n === 'q3', 2000, 'leave of q3');
      await q3.manager.shutdown();
      await left;
      assert.equal(await first(q1.manager.quorum$), true, 'two of three still have quorum');
      await q2.manager.shutdown();
      assert.equal(await first(q1.manager.quorum$, (q) => !q, 2000, 'quorum lost'), false);
    } finally {
      await shutdownAll(nodes);
    }
  });
});
