/**
 * Process faults with real child processes: a peer killed (SIGKILL), frozen
 * (SIGSTOP, then SIGCONT) or asked to stop (SIGTERM). The manager under test
 * runs in this process; the peer is test/support/node-process.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filter, skip } from 'rxjs';
import { CODES } from '../src/limits.js';
import { FAST_SETTINGS } from '../src/settings.js';
import { first, logText, sleep, startNode, type Node } from './support/cluster.js';
import { childLine, spawnNode, type ChildNode } from './support/child.js';
import { within } from './support/raw.js';
import { scope, type Release } from './support/scope.js';

type Defer = (release: Release) => void;

/** A in this process, B in a child, joined both ways; every join/leave A announces is recorded. */
async function parentAndChild(defer: Defer): Promise<{ a: Node; b: ChildNode; events: string[] }> {
  const a = await startNode('A');
  defer(() => a.manager.shutdown());
  const events: string[] = [];
  a.manager.nodeJoin$.subscribe((peer) => events.push(`+${peer}`));
  a.manager.nodeLeave$.subscribe((peer) => events.push(`-${peer}`));
  const b = await spawnNode('B', { peers: { A: a.address } });
  defer(() => b.stop());
  const joined = first(a.manager.nodeJoin$, (peer) => peer === 'B', 8000, 'A to announce B');
  a.manager.addNode('B', b.address);
  await joined;
  await childLine(b, (line) => line.type === 'join' && line.node === 'A', 5000, 'B to announce A');
  return { a, b, events };
}

/** Resolves the time (performance.now()) A next announces that B left. */
function leaveOfB(a: Node, ms: number): Promise<number> {
  return first(a.manager.nodeLeave$, (peer) => peer === 'B', ms, `A to announce that B left; A's log:\n${logText(a)}`).then(() => performance.now());
}

describe('a peer process that dies or freezes', () => {
  it('announces a SIGKILLed peer as left within 1000 ms', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const { a, b, events } = await parentAndChild(defer);

    const left = leaveOfB(a, 3000);
    const killedAt = performance.now();
    process.kill(b.pid, 'SIGKILL');
    const detection = (await left) - killedAt;
    t.diagnostic(`leave of B announced ${detection.toFixed(1)} ms after SIGKILL`);

    assert.ok(detection < 1000, `leave announced ${detection.toFixed(0)} ms after SIGKILL`);
    assert.equal((await within(b.exited, 3000, 'B to exit')).signal, 'SIGKILL');
    assert.deepEqual(events, ['+B', '-B']);
    const member = (await first(a.manager.members$)).get('B');
    assert.equal(member?.status, 'Offline');
    assert.equal(member?.leaveReason, 'lost');
  });

  it('announces a SIGSTOPped peer as left after readTimeout, and once it resumes it rejoins exactly once', { timeout: 30_000 }, async (t) => {
    const { readTimeout } = FAST_SETTINGS;
    const defer = scope(t);
    const { a, b, events } = await parentAndChild(defer);
    let frozen = false;
    defer(() => {
      if (frozen && !b.hasExited()) process.kill(b.pid, 'SIGCONT');
    });

    // start the clock right after a frame from B was read (a pong updates B's lag on members$),
    // so the silence A measures starts at the SIGSTOP, not up to a ping interval before it
    const left = leaveOfB(a, readTimeout + 5000);
    await first(a.manager.members$.pipe(skip(1)), () => true, 2000, 'a frame from B');
    const stoppedAt = performance.now();
    process.kill(b.pid, 'SIGSTOP');
    frozen = true;
    const leaveAfter = (await left) - stoppedAt;
    t.diagnostic(`leave of B announced ${leaveAfter.toFixed(1)} ms after SIGSTOP (readTimeout ${readTimeout} ms)`);

    assert.ok(leaveAfter >= readTimeout * 0.9, `leave announced ${leaveAfter.toFixed(0)} ms after SIGSTOP, before readTimeout (${readTimeout} ms)`);
    assert.ok(leaveAfter < readTimeout + 1500, `leave announced ${leaveAfter.toFixed(0)} ms after SIGSTOP, long after readTimeout (${readTimeout} ms)`);
    assert.ok(
      a.logs.some((entry) => entry.code === CODES.READ_TIMEOUT && entry.node === 'B'),
      `A logged the read timeout; its log:\n${logText(a)}`,
    );
    assert.equal((await first(a.manager.members$)).get('B')?.leaveReason, 'timeout');

    const rejoins: number[] = [];
    const counting = a.manager.nodeJoin$.pipe(filter((peer) => peer === 'B')).subscribe(() => rejoins.push(performance.now()));
    defer(() => counting.unsubscribe());
    const rejoined = first(a.manager.nodeJoin$, (peer) => peer === 'B', 8000, `A to announce B again; A's log:\n${logText(a)}`);
    const resumedAt = performance.now();
    process.kill(b.pid, 'SIGCONT');
    frozen = false;
    await rejoined;
    t.diagnostic(`B rejoined ${(performance.now() - resumedAt).toFixed(1)} ms after SIGCONT`);
    await sleep(1000); // prove no second join (and no flapping) follows

    const childSaw: string[] = [];
    b.lines$.subscribe(({ line }) => {
      if (line.type === 'join' || line.type === 'leave') childSaw.push(`${line.type === 'join' ? '+' : '-'}${line.node}`);
    });
    assert.equal(rejoins.length, 1, `exactly one rejoin; A announced: ${events.join(' ')}`);
    assert.deepEqual(events, ['+B', '-B', '+B']);
    assert.deepEqual(childSaw, ['+A', '-A', '+A'], 'B too saw A leave once and rejoin once');
    assert.equal(b.hasExited(), false, 'B survived the freeze');
    assert.equal((await first(a.manager.members$)).get('B')?.status, 'Online');
  });

  it('announces a SIGTERMed peer as left at once, and the peer exits with code 0 by itself', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const { a, b, events } = await parentAndChild(defer);

    const left = leaveOfB(a, 3000);
    const termAt = performance.now();
    process.kill(b.pid, 'SIGTERM');
    const leaveAfter = (await left) - termAt;
    t.diagnostic(`leave of B announced ${leaveAfter.toFixed(1)} ms after SIGTERM`);

    assert.ok(leaveAfter < 1000, `leave announced ${leaveAfter.toFixed(0)} ms after SIGTERM`);
    assert.equal((await first(a.manager.members$)).get('B')?.leaveReason, 'shutdown', 'an orderly leave, not a lost connection');
    assert.ok(!a.logs.some((entry) => entry.code === CODES.READ_TIMEOUT), 'no read timeout was needed');
    await childLine(b, (line) => line.type === 'stopped', 5000, 'B to finish its shutdown');
    const exit = await within(b.exited, 5000, 'B to exit by itself after its shutdown');
    const exitedAfter = performance.now() - termAt;
    t.diagnostic(`B exited ${exitedAfter.toFixed(1)} ms after SIGTERM`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(events, ['+B', '-B']);
  });
});
