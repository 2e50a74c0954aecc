/**
 * Faults over NATS with real nats-server processes and real child processes:
 * a node killed (SIGKILL) or frozen (SIGSTOP), a NATS server killed under
 * load (clients fail over), a whole NATS outage past readTimeout, and a short
 * one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CODES } from '../src/limits.js';
import type { MembershipEvent } from '../src/types.js';
import { childLine } from './support/child.js';
import { fastOptions, first, joinedAll, logText, membersNow, shutdownAll, sleep } from './support/cluster.js';
import { natsMesh, spawnNatsNode, startNatsNode, type NatsNode } from './support/natsNodes.js';
import { startNatsCluster, startNatsServer, stopAll } from './support/natsServer.js';
import { within } from './support/raw.js';
import { scope } from './support/scope.js';

const READ_TIMEOUT = 1000;

describe('NATS: a node process that dies or freezes', () => {
  it('announces a SIGKILLed node as left after readTimeout, and a SIGSTOPped one too, which rejoins once on SIGCONT', { timeout: 40_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const a = await startNatsNode('A', [server.url], fastOptions(), 'rxc.f1');
    defer(() => a.manager.shutdown());
    const events: string[] = [];
    a.manager.nodeJoin$.subscribe((n) => events.push(`+${n}`));
    a.manager.membership$.subscribe((e) => e.type === 'leave' && events.push(`-${e.node}:${e.reason}`));
    a.manager.addNode('B');
    a.manager.addNode('C');
    const b = await spawnNatsNode('B', [server.url], ['A'], 'rxc.f1');
    defer(() => b.stop());
    const c = await spawnNatsNode('C', [server.url], ['A'], 'rxc.f1');
    defer(() => c.stop());
    let frozen = false;
    defer(() => {
      if (frozen && !c.hasExited()) process.kill(c.pid, 'SIGCONT');
    });
    await first(a.manager.members$, (m) => m.get('B')?.status === 'Online' && m.get('C')?.status === 'Online', 8000, 'B and C online');
    await childLine(b, (l) => l.type === 'join' && l.node === 'A', 5000, 'B to see A');

    // kill -9: no notice; the heartbeats stop
    const bLeft = first(a.manager.nodeLeave$, (n) => n === 'B', READ_TIMEOUT + 3000, `leave of B; ${logText(a)}`);
    const killedAt = performance.now();
    process.kill(b.pid, 'SIGKILL');
    await bLeft;
    const killDetect = performance.now() - killedAt;
    t.diagnostic(`SIGKILL seen after ${killDetect.toFixed(0)} ms`);
    assert.ok(killDetect >= READ_TIMEOUT * 0.75 && killDetect < READ_TIMEOUT + 1500, `B left ${killDetect.toFixed(0)} ms after SIGKILL, not about readTimeout`);
    assert.equal((await within(b.exited, 3000, 'B to exit')).signal, 'SIGKILL');
    assert.equal(membersNow(a.manager).get('B')?.leaveReason, 'timeout');
    assert.ok(a.logs.some((e) => e.code === CODES.READ_TIMEOUT && e.node === 'B'), logText(a));

    // SIGSTOP: silent, alive; SIGCONT: back, once
    const cLeft = first(a.manager.nodeLeave$, (n) => n === 'C', READ_TIMEOUT + 3000, 'leave of C');
    const stoppedAt = performance.now();
    process.kill(c.pid, 'SIGSTOP');
    frozen = true;
    await cLeft;
    const stopDetect = performance.now() - stoppedAt;
    assert.ok(stopDetect >= READ_TIMEOUT * 0.75 && stopDetect < READ_TIMEOUT + 1500, `C left ${stopDetect.toFixed(0)} ms after SIGSTOP`);
    const rejoined = first(a.manager.nodeJoin$, (n) => n === 'C', 8000, 'C to rejoin');
    process.kill(c.pid, 'SIGCONT');
    frozen = false;
    await rejoined;
    await sleep(1500);
    assert.deepEqual(events.sort(), ['+B', '+C', '+C', '-B:timeout', '-C:timeout'], 'one leave each, one rejoin of C');
    assert.equal(membersNow(a.manager).get('C')?.status, 'Online');
  });
});

describe('NATS: the NATS servers fail', () => {
  it('a NATS server killed under load: its clients fail over, peers stay joined, every message arrives once in order or is counted lost', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const servers = await startNatsCluster(3);
    defer(() => stopAll(servers));
    const urls = servers.map((s) => s.url);
    // node i connects to server i first, the others after
    const order = (i: number): string[] => [urls[i]!, ...urls.filter((_, j) => j !== i)];
    const opts = fastOptions({ settings: { pingInterval: 200, readTimeout: 3000 } });
    const nodes = await natsMesh(['a', 'b', 'c'], order, opts, 'rxc.f2');
    defer(() => shutdownAll(nodes));
    const [a, b, c] = nodes as [NatsNode, NatsNode, NatsNode];
    await joinedAll(nodes, 10_000);
    const leaves: MembershipEvent[] = [];
    for (const n of nodes) n.manager.membership$.subscribe((e) => e.type === 'leave' && leaves.push(e));
    const got = { b: [] as number[], c: [] as number[], cPrivate: [] as number[] };
    b.manager.fromCluster$.subscribe((p) => p.name === 'a' && got.b.push((p.message() as { n: number }).n));
    c.manager.fromCluster$.subscribe((p) => {
      const m = p.message() as { n: number; private?: true };
      if (p.name === 'a') (m.private === true ? got.cPrivate : got.c).push(m.n);
    });

    // a sends 2000 broadcasts and 400 private messages to c over about two seconds; c's server dies midway
    const SENT = 2000;
    let killed = false;
    for (let i = 0; i < SENT; i++) {
      a.manager.toCluster$.next({ n: i });
      if (i % 5 === 0) a.manager.toNode$.next({ node: 'c', message: { n: i, private: true } });
      if (i === SENT / 2) {
        await servers[2]!.stop();
        killed = true;
      }
      if (i % 20 === 0) await sleep(20);
    }
    assert.ok(killed);
    await first(c.manager.log$, (e) => e.code === CODES.NATS && /connected to the NATS server/.test(e.message), 5000, 'c to fail over').catch(() => undefined);
    // a last message after the failover, so a loss at the end shows as a gap too
    await sleep(500);
    a.manager.toCluster$.next({ n: SENT });
    a.manager.toNode$.next({ node: 'c', message: { n: SENT, private: true } });
    const deadline = Date.now() + 5000;
    while ((got.b.at(-1) !== SENT || got.c.at(-1) !== SENT || got.cPrivate.at(-1) !== SENT) && Date.now() < deadline) await sleep(50);

    const increasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
    assert.equal(leaves.length, 0, `nobody left: ${JSON.stringify(leaves)}\n${logText(c)}`);
    assert.deepEqual(got.b, Array.from({ length: SENT + 1 }, (_, i) => i), 'b (its server lived): every broadcast, once, in order');
    assert.ok(increasing(got.c) && increasing(got.cPrivate), 'c: in order, no duplicates');
    const lostAtC = c.transport.stats.lost;
    const missing = SENT + 1 - got.c.length + (SENT / 5 + 1 - got.cPrivate.length);
    t.diagnostic(`c failed over: ${missing} of ${SENT + SENT / 5 + 2} messages lost in the gap, ${lostAtC} counted as lost`);
    assert.equal(lostAtC, missing, 'every message c missed is counted (RXC_ERR_FRAMES_LOST)');
    if (missing > 0) assert.ok(c.logs.some((e) => e.code === CODES.FRAMES_LOST), logText(c));
    assert.ok(c.logs.some((e) => e.code === CODES.NATS && /lost the NATS server/.test(e.message)), 'the disconnect is logged');
    assert.equal(membersNow(a.manager).get('c')?.status, 'Online');
  });

  it('an outage of every NATS server past readTimeout: all leave (lost), quorum false; back without a restart when NATS is back', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const nodes = await natsMesh(['x', 'y', 'z'], [server.url], fastOptions(), 'rxc.f3');
    defer(() => shutdownAll(nodes));
    const [x] = nodes as [NatsNode];
    await joinedAll(nodes, 8000);
    assert.equal(await first(x.manager.quorum$), true);
    const events: string[] = [];
    x.manager.membership$.subscribe((e) => (e.type === 'leave' ? events.push(`-${e.node}:${e.reason}`) : e.type === 'join' && events.push(`+${e.node}`)));

    const allLeft = first(x.manager.members$, (m) => m.get('y')?.status === 'Offline' && m.get('z')?.status === 'Offline', READ_TIMEOUT + 3000, 'x to see everyone leave');
    const downAt = performance.now();
    await server.stop();
    await allLeft;
    const seen = performance.now() - downAt;
    t.diagnostic(`everyone left ${seen.toFixed(0)} ms into the outage`);
    assert.ok(seen < READ_TIMEOUT + 500, `left after ${seen.toFixed(0)} ms`);
    assert.equal(await first(x.manager.quorum$), false, 'no quorum alone');
    assert.equal(membersNow(x.manager).get('y')?.leaveReason, 'lost');
    assert.equal(membersNow(x.manager).get('z')?.leaveReason, 'lost');
    await sleep(1000);

    await server.start();
    await joinedAll(nodes, 10_000);
    assert.equal(await first(x.manager.quorum$), true);
    await sleep(1000);
    assert.deepEqual(events.sort(), ['+y', '+z', '-y:lost', '-z:lost'], 'one leave and one rejoin each');
  });

  it('a NATS restart shorter than readTimeout: nobody leaves', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const opts = fastOptions({ settings: { pingInterval: 200, readTimeout: 4000 } });
    const nodes = await natsMesh(['s1', 's2'], [server.url], opts, 'rxc.f4');
    defer(() => shutdownAll(nodes));
    const [s1, s2] = nodes as [NatsNode, NatsNode];
    await joinedAll(nodes, 8000);
    const leaves: string[] = [];
    for (const n of nodes) n.manager.nodeLeave$.subscribe((l) => leaves.push(l));
    const reconnected = first(s1.manager.log$, (e) => /connected to the NATS server/.test(e.message), 8000, 's1 reconnects');
    await server.stop();
    const back = performance.now();
    await server.start();
    await reconnected;
    t.diagnostic(`NATS back after ${(performance.now() - back).toFixed(0)} ms`);
    await sleep(1500);
    assert.deepEqual(leaves, [], `nobody left\n${logText(s1)}`);
    const got = first(s2.manager.fromCluster$, () => true, 3000, 'a broadcast after the restart');
    s1.manager.toCluster$.next('still here');
    assert.equal((await got).message(), 'still here');
  });
});
