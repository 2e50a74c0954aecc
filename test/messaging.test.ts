import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { firstValueFrom, VirtualTimeScheduler, type Observable } from 'rxjs';
import { Manager, RequestError, type IncomingRequest, type MembershipEvent, type Packet } from '../src/index.js';
import { MemoryNetwork } from '../src/testing.js';
import { fastOptions, first, joinedAll, logText, membersNow, shutdownAll, startMesh } from './support/cluster.js';

const SECRET = 'messaging-test-secret-of-32-bytes!';

/** Three managers on a memory network in virtual time, all joined. */
async function virtualCluster(names: readonly string[] = ['a', 'b', 'c'], metadata: Record<string, Record<string, unknown>> = {}) {
  const scheduler = new VirtualTimeScheduler();
  const network = new MemoryNetwork({ scheduler });
  const nodes = names.map(
    (name) => new Manager(name, SECRET, { transport: network.transport(), scheduler, random: () => 0.5, ...(metadata[name] === undefined ? {} : { metadata: metadata[name] }) }),
  );
  const logs = new Map(nodes.map((m) => [m.name, [] as string[]]));
  for (const m of nodes) m.log$.subscribe((e) => logs.get(m.name)?.push(`${e.code ?? ''} ${e.message}`));
  for (const m of nodes) for (const peer of names) if (peer !== m.name) m.addNode(peer, peer);
  for (const m of nodes) await m.listen(m.name);
  network.advance(1000);
  const stop = async (): Promise<void> => {
    const done = Promise.all(nodes.map((m) => m.shutdown()));
    network.advance(3000);
    await done;
  };
  return { scheduler, network, nodes: nodes as [Manager, Manager, Manager], logs, stop };
}

/** Subscribes now and records every value, error and completion of `source$`. */
function record<T>(source$: Observable<T>): { values: T[]; error: unknown; done: boolean } {
  const out: { values: T[]; error: unknown; done: boolean } = { values: [], error: undefined, done: false };
  source$.subscribe({ next: (v) => out.values.push(v), error: (e: unknown) => (out.error = e), complete: () => (out.done = true) });
  return out;
}

describe('request$ and requests$ (memory network, virtual time)', () => {
  it('should emit the one reply and complete; the replier sees the request once', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b], stop } = await virtualCluster();
    try {
      const seen: string[] = [];
      b.requests$.subscribe((req) => {
        seen.push(`${req.name}:${JSON.stringify(req.message())}`);
        req.reply({ sum: (req.message() as number[]).reduce((x, y) => x + y, 0) });
      });
      const got = record(a.request$('b', [1, 2, 3]));
      assert.equal(got.values.length, 0, 'cold: nothing before the reply travelled');
      network.advance(10);
      assert.deepEqual(got.values.map((p) => [p.name, p.message()]), [['b', { sum: 6 }]]);
      assert.equal(got.done, true);
      assert.ok(got.error === undefined);
      assert.deepEqual(seen, ['a:[1,2,3]']);
      // cold: each subscription is one request
      const again$ = a.request$('b', [4]);
      assert.deepEqual(seen.length, 1, 'no request before subscription');
      const twice = [record(again$), record(again$)];
      network.advance(10);
      assert.deepEqual(twice.map((r) => r.values.map((p) => p.message())), [[{ sum: 4 }], [{ sum: 4 }]]);
      assert.equal(seen.length, 3);
    } finally {
      await stop();
    }
  });

  it('should fail with RXC_ERR_REQUEST_TIMEOUT after exactly requestTimeout of virtual time, and count the late reply', { timeout: 10_000 }, async () => {
    const { scheduler, network, nodes: [a, b], logs, stop } = await virtualCluster();
    try {
      const held: IncomingRequest[] = [];
      b.requests$.subscribe((req) => held.push(req));
      const start = scheduler.now();
      const got = record(a.request$('b', 'slow'));
      network.advance(4999);
      assert.equal(got.done || got.error !== undefined, false, 'still waiting at 4999 ms');
      network.advance(1);
      assert.ok(got.error instanceof RequestError, String(got.error));
      assert.equal(got.error.code, 'RXC_ERR_REQUEST_TIMEOUT');
      assert.equal(got.error.node, 'b');
      assert.equal(scheduler.now() - start, 5000);
      assert.equal(held.length, 1);
      assert.equal(held[0]?.reply('too late'), true, 'b may still answer');
      network.advance(10);
      assert.equal(a.stats.lateReplies, 1, 'the late reply is dropped and counted');
      assert.match(logs.get('a')?.join('\n') ?? '', /RXC_ERR_REPLY reply \d+ from b matches no pending request/);
      // a per-call timeout wins over the setting
      const quick = record(a.request$('b', 'slow', { timeout: 50 }));
      network.advance(50);
      assert.ok(quick.error instanceof RequestError && quick.error.code === 'RXC_ERR_REQUEST_TIMEOUT');
      assert.throws(() => a.request$('b', 'x', { timeout: -1 }), /positive whole number/);
    } finally {
      await stop();
    }
  });

  it('should fail a request still waiting when its own node shuts down, at once, with RXC_ERR_NOT_ONLINE', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b], stop } = await virtualCluster();
    try {
      b.requests$.subscribe(() => undefined); // b never answers
      const got = record(a.request$('b', 'never answered'));
      network.advance(100);
      assert.equal(got.error, undefined, 'still waiting');
      const down = a.shutdown();
      // 3 s of virtual time, less than the 5 s requestTimeout: only the shutdown can have failed it
      network.advance(3000);
      await down;
      const error: unknown = got.error;
      assert.ok(error instanceof RequestError, `failed by the shutdown: ${String(error)}`);
      assert.equal(error.code, 'RXC_ERR_NOT_ONLINE');
      assert.match(error.message, /shut down before b replied/);
    } finally {
      await stop();
    }
  });

  it('should cancel on unsubscribe: the reply that comes later is dropped and counted', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b], stop } = await virtualCluster();
    try {
      network.latency(20);
      b.requests$.subscribe((req) => req.reply('pong'));
      const got: Packet[] = [];
      const sub = a.request$('b', 'ping').subscribe((p) => got.push(p));
      network.advance(10);
      sub.unsubscribe();
      network.advance(100);
      assert.deepEqual(got, []);
      assert.equal(a.stats.lateReplies, 1);
    } finally {
      await stop();
    }
  });

  it('should fail at once for a node not configured or not online, and with RXC_ERR_PEER_LEFT when the node leaves mid-request', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b, c], stop } = await virtualCluster();
    try {
      const unknown = record(a.request$('zed', 1));
      assert.ok(unknown.error instanceof RequestError && unknown.error.code === 'RXC_ERR_NOT_CONFIGURED', String(unknown.error));
      c.requests$.subscribe(() => undefined); // never answers
      const pending = record(a.request$('c', 1));
      network.advance(5);
      network.kill('c');
      network.advance(10);
      assert.ok(pending.error instanceof RequestError && pending.error.code === 'RXC_ERR_PEER_LEFT', String(pending.error));
      const offline = record(a.request$('c', 1));
      assert.ok(offline.error instanceof RequestError && offline.error.code === 'RXC_ERR_NOT_ONLINE', String(offline.error));
      void b;
    } finally {
      await stop();
    }
  });

  it('should refuse and log a second reply, never sending it', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b], logs, stop } = await virtualCluster();
    try {
      let second: boolean | undefined;
      b.requests$.subscribe((req) => {
        req.reply(1);
        second = req.reply(2);
      });
      const got = record(a.request$('b', 'q'));
      network.advance(10);
      assert.deepEqual(got.values.map((p) => p.message()), [1]);
      assert.equal(second, false);
      assert.match(logs.get('b')?.join('\n') ?? '', /RXC_ERR_REPLY request from a was already answered; second reply refused/);
      assert.equal(a.stats.lateReplies, 0, 'the second reply never left b');
    } finally {
      await stop();
    }
  });
});

describe('channel (memory network, virtual time)', () => {
  const Order = t.type({ id: t.number, item: t.string });

  it('should deliver typed messages by name, drop and log one that fails the codec with its path, and keep them off fromCluster$', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b, c], logs, stop } = await virtualCluster();
    try {
      const onB = record(b.channel('orders', Order).messages$);
      const onC = record(c.channel('orders', Order).messages$);
      const otherOnB = record(b.channel('audit').messages$);
      const plainOnB = record(b.fromCluster$);
      const orders = a.channel('orders', Order);
      orders.next({ id: 1, item: 'tea' });
      a.channel('orders').next({ id: 'two', item: 'cake' }); // fails the receivers' codec
      orders.toNode('c', { id: 3, item: 'jam' });
      network.advance(10);
      assert.deepEqual(onB.values.map((p) => [p.name, p.channel, p.value]), [['a', 'orders', { id: 1, item: 'tea' }]]);
      assert.deepEqual(onC.values.map((p) => p.value), [{ id: 1, item: 'tea' }, { id: 3, item: 'jam' }]);
      assert.deepEqual(otherOnB.values, [], 'another channel hears nothing');
      assert.deepEqual(plainOnB.values, [], 'channel messages never appear on fromCluster$');
      assert.equal(onB.error, undefined, 'a bad message never errors the subscriber');
      assert.match(logs.get('b')?.join('\n') ?? '', /RXC_ERR_CHANNEL_DECODE channel orders: message from a dropped: .*id: expected number/);
      assert.throws(() => a.channel(''), /Invalid channel name/);
    } finally {
      await stop();
    }
  });
});

describe('metadata (memory network, virtual time)', () => {
  it('should carry options.metadata in the handshake to members$, and announce setMetadata as an update on every peer', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b, c], stop } = await virtualCluster(['a', 'b', 'c'], { a: { role: 'scheduler', zone: 'eu' } });
    try {
      assert.deepEqual(membersNow(b).get('a')?.metadata, { role: 'scheduler', zone: 'eu' });
      assert.deepEqual(membersNow(c).get('a')?.metadata, { role: 'scheduler', zone: 'eu' });
      assert.deepEqual(membersNow(a).get('b')?.metadata, {});
      const onB = record(b.membership$);
      a.setMetadata({ role: 'leader' });
      network.advance(10);
      const updates = onB.values.filter((e): e is Extract<MembershipEvent, { type: 'update' }> => e.type === 'update');
      assert.deepEqual(updates.map((e) => [e.node, e.metadata]), [['a', { role: 'leader' }]]);
      assert.deepEqual(membersNow(c).get('a')?.metadata, { role: 'leader' });
      assert.deepEqual(a.metadata, { role: 'leader' });
      assert.throws(() => a.setMetadata({ blob: 'x'.repeat(5000) }), /over 4096/);
      assert.throws(() => a.setMetadata([] as never), /expected a JSON object/);
      assert.throws(() => new Manager('z', SECRET, { metadata: 'no' as never }), /Invalid metadata/);
      assert.deepEqual(a.metadata, { role: 'leader' }, 'a refused update changes nothing');
    } finally {
      await stop();
    }
  });
});

describe('binary payloads (memory network, virtual time)', () => {
  it('should carry a Uint8Array as bytes on fromCluster$, requests and channels', { timeout: 10_000 }, async () => {
    const { network, nodes: [a, b], stop } = await virtualCluster();
    try {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const got = record(b.fromCluster$);
      a.toCluster$.next(bytes);
      b.requests$.subscribe((req) => req.reply(Buffer.concat([req.bytes(), Buffer.from([0xff])])));
      const reply = record(a.request$('b', Buffer.from([1, 2])));
      network.advance(10);
      const packet = got.values[0];
      assert.ok(packet !== undefined);
      assert.equal(packet.binary, true);
      assert.equal(packet.dataType, 'binary');
      assert.deepEqual([...packet.bytes()], [...bytes]);
      assert.throws(() => packet.message(t.string), /binary: read it with bytes\(\)/);
      assert.deepEqual([...(reply.values[0]?.bytes() ?? [])], [1, 2, 0xff]);
      assert.deepEqual([...Buffer.from(JSON.parse(packet.dataMessage) as string, 'base64')], [...bytes], 'dataMessage is base64 JSON text');
    } finally {
      await stop();
    }
  });
});

describe('request$, channels, metadata and bytes over real sockets', () => {
  it('should work end to end between real managers on 127.0.0.1', { timeout: 20_000 }, async () => {
    const nodes = await startMesh(['r1', 'r2'], fastOptions({ metadata: { role: 'cache' } }));
    try {
      await joinedAll(nodes);
      const [r1, r2] = nodes.map((n) => n.manager) as [Manager, Manager];
      assert.deepEqual(membersNow(r1).get('r2')?.metadata, { role: 'cache' });
      r2.requests$.subscribe((req) => req.reply(`echo ${String(req.message())}`));
      const reply = await firstValueFrom(r1.request$('r2', 'hi', { timeout: 2000 }));
      assert.equal(reply.message(), 'echo hi');
      const onChannel = first(r2.channel('c', t.number).messages$, () => true, 3000, 'the channel message');
      const big = Buffer.alloc(64 * 1024, 7);
      const bytes = first(r2.fromCluster$, (p) => p.binary, 5000, 'the binary packet');
      r1.channel('c', t.number).next(42);
      r1.toCluster$.next(big);
      const packet = await bytes;
      assert.equal(Buffer.compare(packet.bytes(), big), 0);
      assert.equal((await onChannel).value, 42);
      const updated = first(r2.membership$, (e) => e.type === 'update', 3000, 'the update');
      r1.setMetadata({ role: 'primary' });
      const event = await updated;
      assert.ok(event.type === 'update');
      assert.deepEqual(event.metadata, { role: 'primary' });
    } catch (error) {
      throw new Error(`${String(error)}\n${nodes.map(logText).join('\n')}`, { cause: error });
    } finally {
      await shutdownAll(nodes);
    }
  });
});
