/**
 * Back-pressure over NATS behaves as over ws (issue 9, point 1): the
 * nats-server is paused (SIGSTOP) so that the client's bytes back up; a
 * producer that sends while `writable$` is true and waits while it is false
 * sees it turn false when the NATS client's unsent bytes pass a quarter of
 * sendBufferBytes and true again once the server resumes and they are down to
 * a sixteenth; nothing is lost, the order holds, nobody leaves. It also keeps the reading of the
 * NATS client's unsent bytes honest: if nats.js stopped exposing them,
 * bufferedAmount would stay 0 and writable$ would never turn false.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filter, firstValueFrom, take, toArray, timeout } from 'rxjs';
import { fastOptions, joinedAll } from './support/cluster.js';
import { natsMesh, type NatsNode } from './support/natsNodes.js';
import { startNatsServer } from './support/natsServer.js';
import { scope } from './support/scope.js';

const SEND_BUFFER = 8 * 1024 * 1024;
const BLOB = 64 * 1024;
const COUNT = 400; // 25 MiB: several times the high-water mark

describe('NATS: back-pressure', () => {
  it('writable$ turns false past a quarter of sendBufferBytes unsent and true again once drained; every message arrives, in order, no leave', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    // a readTimeout well past the pause: the heartbeats stop while the server is paused
    const nodes = await natsMesh(['a', 'b'], [server.url], fastOptions({ sendBufferBytes: SEND_BUFFER, maxPayload: 1024 * 1024, settings: { readTimeout: 15_000, pingInterval: 1000 } }), 'rxc.bp');
    defer(async () => Promise.all(nodes.map((n) => n.manager.shutdown())));
    const [a, b] = nodes as [NatsNode, NatsNode];
    await joinedAll(nodes, 8000);
    const leaves: string[] = [];
    for (const n of nodes) n.manager.nodeLeave$.subscribe((p) => leaves.push(`${n.manager.name}-${p}`));

    const writable: boolean[] = [];
    let resumed = false;
    a.manager.writable$.subscribe((w) => {
      writable.push(w);
      // the buffers backed up: resume the server a little later, so they drain
      if (!w && !resumed) {
        resumed = true;
        setTimeout(() => server.signal('SIGCONT'), 500);
      }
    });
    defer(() => server.signal('SIGCONT'));
    const received = firstValueFrom(
      b.manager.fromCluster$.pipe(
        filter((p) => p.binary),
        take(COUNT),
        toArray(),
        timeout({ first: 45_000, with: () => Promise.reject(new Error('b did not get every message within 45 s')) }),
      ),
    );
    let most = 0;
    let waits = 0;
    assert.equal(server.signal('SIGSTOP'), true, 'the server is paused');
    for (let i = 0; i < COUNT; i++) {
      if (writable.at(-1) === false) {
        waits++;
        await firstValueFrom(a.manager.writable$.pipe(filter(Boolean)));
      }
      const blob = Buffer.alloc(BLOB, i % 251);
      blob.writeUInt32BE(i, 0);
      a.manager.toCluster$.next(blob);
      most = Math.max(most, a.manager.bufferedAmount);
    }
    // resumed in any case, so that a failure below is told by its own assertion, not by a timeout
    server.signal('SIGCONT');
    t.diagnostic(`${COUNT} × 64 KiB: writable$ ${writable.map(String).join(' ')}; the producer waited ${waits} times; at most ${(most / 1024).toFixed(0)} KiB unsent (high-water ${SEND_BUFFER / 4 / 1024} KiB)`);
    assert.ok(most > SEND_BUFFER / 4, `the NATS client's unsent bytes were read: at most ${most} bytes seen`);
    assert.ok(most <= SEND_BUFFER, `a producer that waits never reaches sendBufferBytes (${most} bytes)`);
    assert.ok(waits > 0, 'writable$ turned false and the producer waited');
    assert.ok(resumed, 'the server was resumed once the buffers backed up');
    const packets = await received;
    assert.equal(writable[0], true, 'writable$ starts true');
    assert.ok(writable.includes(false) && writable.at(-1) === true, `writable$ turned false, then true again: ${writable.join(' ')}`);
    const order = packets.map((p) => p.bytes().readUInt32BE(0));
    assert.deepEqual(order, Array.from({ length: COUNT }, (_, i) => i), 'every message once, in order');
    assert.deepEqual(leaves, [], 'no leave: no slow-consumer disconnect');
  });
});
