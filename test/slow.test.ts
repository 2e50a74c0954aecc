import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filter, firstValueFrom } from 'rxjs';
import { childLine, spawnNode } from './support/child.js';
import { fastOptions, first, joinedAll, shutdownAll, startMesh, startNode } from './support/cluster.js';

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a slow consumer', () => {
  it('is disconnected once its unsent data passes sendBufferBytes, while the other peer gets every message in order', { timeout: 60_000 }, async () => {
    const sendBufferBytes = 512 * 1024;
    const a = await startNode('A', fastOptions({ sendBufferBytes }));
    const b = await startNode('B');
    const c = await spawnNode('C', { peers: { A: a.address } });
    try {
      a.manager.addNode('B', b.address);
      b.manager.addNode('A', a.address);
      const cJoined = first(a.manager.members$, (m) => m.get('C')?.status === 'Online', 5000, 'A to see C Online');
      a.manager.addNode('C', c.address);
      await joinedAll([a, b]);
      await cJoined;
      await childLine(c, (l) => l.type === 'join' && l.node === 'A', 5000, 'C to announce A');

      let received = 0;
      let inOrder = true;
      b.manager.fromCluster$.subscribe((p) => {
        const { n } = p.message() as { n: number };
        if (n !== received) inOrder = false;
        received++;
      });
      const cLeft = first(a.manager.membership$, (e) => e.type === 'leave' && e.node === 'C', 30_000, 'A to drop C');
      let mostQueued = 0;
      c.child.kill('SIGSTOP'); // C stops reading; its socket buffers fill up
      const payload = 'x'.repeat(1024);
      const total = 30_000; // about 31 MB: far more than the kernel buffers hold
      // B, in this process, reads only when the loop yields: keep it within 256 messages (about
      // 270 KB, half of sendBufferBytes) so that the healthy peer is never itself too slow on a
      // loaded machine (CI once saw B fall behind and stop at 12,434); C, stopped, falls behind all the same
      const paceUntil = performance.now() + 40_000;
      for (let n = 0; n < total; n++) {
        a.manager.toCluster$.next({ n, payload });
        mostQueued = Math.max(mostQueued, a.manager.bufferedAmount);
        if (n % 200 === 0) await yieldToLoop();
        while (n + 1 - received > 256 && performance.now() < paceUntil) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const leave = await cLeft;
      assert.equal(leave.type === 'leave' && leave.reason, 'slow');
      const logged = a.logs.find((e) => e.code === 'RXC_ERR_SLOW_CONSUMER');
      assert.ok(logged !== undefined && logged.node === 'C', 'the disconnect is logged, naming C');
      assert.ok(mostQueued <= sendBufferBytes + 2048, `A never held more than sendBufferBytes for one peer (most ${mostQueued})`);
      await first(b.manager.fromCluster$, () => received === total, 20_000, 'B to receive everything').catch(() => undefined);
      assert.equal(received, total, 'the healthy peer got every message');
      assert.ok(inOrder, 'in order');
      assert.equal((await first(a.manager.members$)).get('B')?.status, 'Online', 'B was never dropped');
    } finally {
      await c.stop();
      await shutdownAll([a, b]);
    }
  });
});

describe('writable$', () => {
  it('lets a fast producer pace itself: it closes under pressure, opens again, and nothing is dropped', { timeout: 60_000 }, async () => {
    const nodes = await startMesh(['P', 'Q'], fastOptions({ sendBufferBytes: 256 * 1024 }));
    const [p, q] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    try {
      await joinedAll(nodes);
      const states: boolean[] = [];
      p.manager.writable$.subscribe((w) => states.push(w));
      assert.deepEqual(states, [true], 'writable at once');
      let received = 0;
      let inOrder = true;
      q.manager.fromCluster$.subscribe((packet) => {
        if ((packet.message() as { n: number }).n !== received) inOrder = false;
        received++;
      });
      const total = 20_000;
      const payload = 'y'.repeat(2048);
      let waits = 0;
      for (let n = 0; n < total; n++) {
        if (states.at(-1) === false) {
          waits++;
          await firstValueFrom(p.manager.writable$.pipe(filter(Boolean)));
        }
        // no other pause: only writable$ lets the receiver, in this same process, read
        p.manager.toCluster$.next({ n, payload });
      }
      await first(q.manager.fromCluster$, () => received === total, 20_000, 'Q to receive everything').catch(() => undefined);
      assert.equal(received, total);
      assert.ok(inOrder);
      assert.ok(waits > 0 && states.includes(false), `the producer was told to wait (${waits} waits)`);
      assert.equal(p.logs.filter((e) => e.code === 'RXC_ERR_SLOW_CONSUMER').length, 0, 'a paced producer never drops its peer');
    } finally {
      await shutdownAll(nodes);
    }
  });
});
