/**
 * The behaviour suite, once per transport: the same sentences of DESIGN.md
 * proven over a full ws mesh on 127.0.0.1 and over a real nats-server. A
 * fixture per transport starts its nodes; every test below runs on both.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom } from 'rxjs';
import type { ManagerOptions, MembershipEvent } from '../src/index.js';
import { fastOptions, first, joinedAll, logText, membersNow, shutdownAll, sleep, startMesh, type Node } from './support/cluster.js';
import { natsMesh } from './support/natsNodes.js';
import { startNatsServer, type NatsServer } from './support/natsServer.js';

/** Resolves once `check()` holds, polling every 20 ms; rejects after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface TransportFixture {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** Listening managers, each configured with all the others. */
  mesh(names: readonly string[], options?: ManagerOptions): Promise<Node[]>;
}

let prefixes = 0;

const ws: TransportFixture = {
  name: 'ws',
  setUp: async () => undefined,
  tearDown: async () => undefined,
  mesh: (names, options) => startMesh(names, options ?? fastOptions()),
};

let server: NatsServer | undefined;
const nats: TransportFixture = {
  name: 'nats',
  setUp: async () => {
    server = await startNatsServer();
  },
  tearDown: async () => {
    await server?.stop();
  },
  mesh: (names, options) => {
    if (server === undefined) throw new Error('no nats-server');
    return natsMesh(names, [server.url], options ?? fastOptions(), `rxc.behaviour${++prefixes}`);
  },
};

for (const fixture of [ws, nats]) {
  describe(`behaviour over ${fixture.name}`, () => {
    before(() => fixture.setUp());
    after(() => fixture.tearDown());

    it('joins each pair exactly once, after joinDelay, and keeps quorum', { timeout: 20_000 }, async () => {
      const started = performance.now();
      const nodes = await fixture.mesh(['a', 'b', 'c']);
      try {
        const joins: string[] = [];
        for (const n of nodes) n.manager.nodeJoin$.subscribe((peer) => joins.push(`${n.manager.name}<${peer}`));
        await joinedAll(nodes);
        assert.ok(performance.now() - started >= 100, 'not before joinDelay (100 ms)');
        await sleep(500);
        assert.deepEqual(joins.sort(), ['a<b', 'a<c', 'b<a', 'b<c', 'c<a', 'c<b']);
        for (const n of nodes) assert.equal(await firstValueFrom(n.manager.quorum$), true);
      } finally {
        await shutdownAll(nodes);
      }
    });

    it("delivers a sender's broadcasts and private messages once each, in order, never to the sender", { timeout: 20_000 }, async () => {
      const nodes = await fixture.mesh(['a', 'b', 'c']);
      try {
        await joinedAll(nodes);
        const [a, b, c] = nodes.map((n) => n.manager) as [Node['manager'], Node['manager'], Node['manager']];
        const atB: unknown[] = [];
        const atC: unknown[] = [];
        const atA: unknown[] = [];
        b.fromCluster$.subscribe((p) => atB.push(p.message()));
        c.fromCluster$.subscribe((p) => atC.push(p.message()));
        a.fromCluster$.subscribe((p) => atA.push(p.message()));
        for (let i = 0; i < 200; i++) {
          a.toCluster$.next(i);
          if (i % 10 === 0) a.toNode$.next({ node: 'b', message: `only b ${i}` });
        }
        await until(() => atC.length >= 200 && atB.length >= 220, 5000, 'c to get all 200 and b all 220');
        await sleep(100); // nothing more may come
        assert.deepEqual(atC, Array.from({ length: 200 }, (_, i) => i));
        assert.deepEqual(atB.filter((m) => typeof m === 'number'), Array.from({ length: 200 }, (_, i) => i));
        assert.deepEqual(atB.filter((m) => typeof m === 'string'), Array.from({ length: 20 }, (_, i) => `only b ${i * 10}`));
        assert.deepEqual(atA, [], 'never to the sender');
      } catch (error) {
        throw new Error(`${String(error)}\n${nodes.map(logText).join('\n')}`, { cause: error });
      } finally {
        await shutdownAll(nodes);
      }
    });

    it('announces a shutdown at once with reason shutdown, and a removeNode with reason removed; quorum follows', { timeout: 20_000 }, async () => {
      const nodes = await fixture.mesh(['a', 'b', 'c']);
      const [na, nb, nc] = nodes as [Node, Node, Node];
      try {
        await joinedAll(nodes);
        const seenByA: MembershipEvent[] = [];
        na.manager.membership$.subscribe((e) => seenByA.push(e));
        const left = first(na.manager.membership$, (e) => e.type === 'leave' && e.node === 'c', 2000, 'c leaves');
        const t0 = performance.now();
        await nc.manager.shutdown();
        const leave = await left;
        assert.ok(leave.type === 'leave' && leave.reason === 'shutdown', JSON.stringify(leave));
        assert.ok(performance.now() - t0 < 1000, 'at once, not after readTimeout');
        assert.equal(await firstValueFrom(na.manager.quorum$), true, '2 of 3');
        const removed = first(na.manager.membership$, (e) => e.type === 'leave' && e.node === 'b', 2000, 'b removed');
        na.manager.removeNode('b');
        const r = await removed;
        assert.ok(r.type === 'leave' && r.reason === 'removed', JSON.stringify(r));
        assert.equal(membersNow(na.manager).has('b'), false);
        assert.equal(membersNow(na.manager).get('c')?.status, 'Offline');
        // the seed's rule: with 0 or 1 configured peers a node has quorum, whoever is online
        assert.equal(await firstValueFrom(na.manager.quorum$), true, 'one configured peer left: quorum by the seed rule');
        na.manager.addNode('b2', fixture.name === 'ws' ? '127.0.0.1:1' : undefined);
        assert.equal(await firstValueFrom(na.manager.quorum$), false, '2 configured, none online: (2 + 1) / 2 < 0 + 1 is false');
        void nb;
      } finally {
        await shutdownAll(nodes);
      }
    });

    it('answers a request, carries a typed channel message and metadata, and bytes as bytes', { timeout: 20_000 }, async () => {
      const nodes = await fixture.mesh(['a', 'b'], fastOptions({ metadata: { zone: fixture.name } }));
      try {
        await joinedAll(nodes);
        const [a, b] = nodes.map((n) => n.manager) as [Node['manager'], Node['manager']];
        assert.deepEqual(membersNow(a).get('b')?.metadata, { zone: fixture.name });
        b.requests$.subscribe((req) => req.reply({ echo: req.message() }));
        const reply = await firstValueFrom(a.request$('b', 'ping', { timeout: 2000 }));
        assert.deepEqual(reply.message(), { echo: 'ping' });
        const bytes = first(b.fromCluster$, (p) => p.binary, 3000, 'the bytes');
        a.toNode$.next({ node: 'b', message: Buffer.from([0, 1, 254, 255]) });
        assert.deepEqual([...(await bytes).bytes()], [0, 1, 254, 255]);
      } finally {
        await shutdownAll(nodes);
      }
    });
  });
}
