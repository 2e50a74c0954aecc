import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { childLine, spawnNode } from './support/child.js';
import { fastOptions, first, sleep, startNode } from './support/cluster.js';

/**
 * No false leaves: a node whose own event loop is blocked (a GC pause, a long
 * synchronous job) for 80 % of readTimeout is neither declared dead by its
 * peer, nor declares its peer dead when it wakes up, although its overdue
 * readTimeout deadline fires before it has read the frames that waited.
 */
describe('a node whose event loop was blocked', () => {
  const settings = { readTimeout: 1000, pingInterval: 100, joinDelay: 100, connectInterval: 100, maxConnectInterval: 1000, connectTimeout: 2000 };

  it('is not declared dead for a block of 80 % of readTimeout, and accuses no one when it wakes', { timeout: 30_000 }, async () => {
    const a = await startNode('A', fastOptions({ settings }));
    const b = await spawnNode('B', { peers: { A: a.address }, settings, env: { RXC_BLOCK_MS: String(0.8 * settings.readTimeout) } });
    try {
      const aEvents: string[] = [];
      a.manager.membership$.subscribe((e) => {
        if (e.type === 'leave') aEvents.push(`leave ${e.node} (${e.reason})`);
      });
      const joined = first(a.manager.nodeJoin$, (n) => n === 'B', 5000, 'A to announce B');
      a.manager.addNode('B', b.address);
      await joined;
      await childLine(b, (l) => l.type === 'join' && l.node === 'A', 5000, 'B to announce A');
      let bLeaves = 0;
      const counting = b.lines$.subscribe(({ line }) => {
        if (line.type === 'leave') bLeaves++;
      });
      for (let round = 0; round < 3; round++) {
        const unblocked = childLine(b, (l) => l.type === 'unblocked', 5000, 'B to wake up');
        b.child.kill('SIGUSR2');
        await unblocked;
        // the overdue deadlines have fired by now; let a few pings cross
        await sleep(500);
      }
      counting.unsubscribe();
      assert.deepEqual(aEvents, [], 'A never saw B leave');
      assert.equal(bLeaves, 0, 'B never declared A gone after waking');
      const readTimeouts = a.logs.filter((e) => e.code === 'RXC_ERR_READ_TIMEOUT');
      assert.deepEqual(readTimeouts.map(String), []);
      // and a real silence is still caught: freeze B for longer than readTimeout
      const left = first(a.manager.nodeLeave$, (n) => n === 'B', 5000, 'A to drop a frozen B');
      b.child.kill('SIGSTOP');
      assert.equal(await left, 'B');
    } finally {
      await b.stop();
      await a.manager.shutdown();
    }
  });

  it('blocked past readTimeout, it is dropped, but on waking it reads what waited instead of accusing its peer of silence', { timeout: 30_000 }, async () => {
    const a = await startNode('A', fastOptions({ settings }));
    const b = await spawnNode('B', { peers: { A: a.address }, settings, env: { RXC_BLOCK_MS: String(1.5 * settings.readTimeout) } });
    try {
      const joined = first(a.manager.nodeJoin$, (n) => n === 'B', 5000, 'A to announce B');
      a.manager.addNode('B', b.address);
      await joined;
      await childLine(b, (l) => l.type === 'join' && l.node === 'A', 5000, 'B to announce A');
      const dropped = first(a.manager.membership$, (e) => e.type === 'leave' && e.node === 'B', 5000, 'A to drop the silent B');
      const unblocked = childLine(b, (l) => l.type === 'unblocked', 5000, 'B to wake up');
      b.child.kill('SIGUSR2');
      const leave = await dropped;
      assert.equal(leave.type === 'leave' && leave.reason, 'timeout', 'A rightly dropped B: it was silent');
      await unblocked;
      // on waking, B's overdue deadline for A fires before B has read A's
      // frames and A's close: B must read them rather than blame A
      const bLeft = await childLine(b, (l) => l.type === 'leave' && l.node === 'A', 3000, 'B to see A gone');
      assert.ok(bLeft.line.type === 'leave');
      await sleep(200);
      const accusations: string[] = [];
      b.lines$.subscribe(({ line }) => {
        if (line.type === 'log' && line.code === 'RXC_ERR_READ_TIMEOUT') accusations.push(line.message);
      }).unsubscribe();
      assert.deepEqual(accusations, [], 'B did not accuse A of a silence it could not observe');
      // and they find each other again
      await first(a.manager.members$, (m) => m.get('B')?.status === 'Online', 5000, 'B to rejoin A');
    } finally {
      await b.stop();
      await a.manager.shutdown();
    }
  });
});
