/**
 * A transport whose `send` throws (a custom transport's bug, a socket in a
 * state it did not expect) ends that one connection, logged as an
 * unexpected fault: it never escapes as an uncaught exception that would
 * take the whole node down. On the memory network in virtual time, with the
 * throw armed for ping frames only, so the ping timer is what hits it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { map, VirtualTimeScheduler } from 'rxjs';
import { Manager, type LogEntry } from '../src/index.js';
import { MemoryNetwork } from '../src/testing.js';
import type { Connection, Transport } from '../src/transport/types.js';

const SECRET = 'a-secret-of-more-than-thirty-two-bytes!!';
const settings = { pingInterval: 1000, readTimeout: 3000, joinDelay: 100 };

/** `transport`, with every connection's `send` throwing on a ping frame while `armed.on` is true. */
function throwingOnPing(transport: Transport, armed: { on: boolean; thrown: number }): Transport {
  const wrap = (conn: Connection): Connection =>
    new Proxy(conn, {
      get(target, prop) {
        if (prop === 'send') {
          return (data: string | Buffer, binary?: boolean): void => {
            if (armed.on && String(data).includes('"type":"ping"')) {
              armed.thrown++;
              throw new Error('send failed: the socket is in a state this transport did not expect');
            }
            target.send(data, binary);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === 'dial$') return (address: string, peer: string, timeout: number) => target.dial$(address, peer, timeout).pipe(map(wrap));
      if (prop === 'incoming$') return target.incoming$.pipe(map(wrap));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('a transport whose send throws', () => {
  it('ends that connection with a logged fault, and the peer rejoins; nothing escapes as an uncaught exception', { timeout: 20_000 }, async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const scheduler = new VirtualTimeScheduler();
    const network = new MemoryNetwork({ scheduler });
    const armed = { on: false, thrown: 0 };
    const a = new Manager('a', SECRET, { transport: throwingOnPing(network.transport(), armed), scheduler, settings });
    const b = new Manager('b', SECRET, { transport: network.transport(), scheduler, settings });
    const logs: LogEntry[] = [];
    const leaves: string[] = [];
    let joins = 0;
    a.log$.subscribe((entry) => logs.push(entry));
    a.membership$.subscribe((e) => {
      if (e.type === 'leave') leaves.push(`${e.node}:${e.reason}@${scheduler.now()}`);
      if (e.type === 'join') joins++;
    });
    try {
      a.addNode('b', 'b');
      b.addNode('a', 'a');
      await a.listen('a');
      await b.listen('b');
      network.advance(1_000);
      assert.equal(joins, 1, 'a joined b');

      armed.on = true;
      const armedAt = scheduler.now();
      network.advance(1_500); // past the next ping tick
      armed.on = false;
      assert.ok(armed.thrown >= 1, `the transport threw on a ping (${armed.thrown} times)`);
      const fault = logs.find((e) => e.level === 'error' && e.code === 'RXC_ERR_SOCKET' && e.node === 'b');
      assert.ok(fault !== undefined && /send failed/.test(fault.message), `the fault is logged as an error naming b: ${logs.map(String).join(' | ')}`);
      assert.ok(leaves.some((l) => l.startsWith('b:lost@') && Number(l.split('@')[1]) >= armedAt), `a saw b leave (lost) after the throw: ${leaves.join(', ')}`);

      network.advance(30_000); // redial with back-off, then joinDelay
      assert.equal(joins, 2, 'b joined again once the transport stopped throwing');
      assert.equal(a.nodeConfigured('b'), true);
      // an error rethrown by rxjs surfaces from a real timer: give it the chance to
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(uncaught.map(String), [], 'no uncaught exception');
    } finally {
      process.off('uncaughtException', onUncaught);
      const done = Promise.all([a.shutdown(), b.shutdown()]);
      for (let i = 0; i < 10; i++) {
        network.advance(1_000);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await done;
    }
  });
});
