import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeMap, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { MemoryNetwork } from '../../src/testing.js';
import { DialError, type Connection, type SocketEvent, type Transport } from '../../src/transport/types.js';

const MAX_PAYLOAD = 1024 * 1024;

interface World {
  readonly scheduler: VirtualTimeScheduler;
  readonly network: MemoryNetwork;
  /** The latency the network was made with, in ms. */
  readonly latency: number;
  /** Recorded events, as `time label event`. */
  readonly log: string[];
}

function world(latency = 0): World {
  const scheduler = new VirtualTimeScheduler();
  return { scheduler, network: new MemoryNetwork({ scheduler, latency }), latency, log: [] };
}

async function node(w: World, name: string, maxPayload = MAX_PAYLOAD): Promise<Transport> {
  const transport = w.network.transport();
  assert.equal(await transport.listen(name, { maxPayload }), name);
  return transport;
}

function describeEvent(event: SocketEvent): string {
  if (event.type === 'message') return `message ${typeof event.data === 'string' ? event.data : `<buffer ${event.data.toString()}>`}`;
  return `close ${event.cause} ${JSON.stringify(event.reason)} ${event.local ? 'local' : 'remote'}`;
}

/** Logs every event of `connection` as `time label event`. */
function record(w: World, connection: Connection, label: string): void {
  connection.events$.subscribe({
    next: (event) => w.log.push(`${w.scheduler.now()} ${label} ${describeEvent(event)}`),
    complete: () => w.log.push(`${w.scheduler.now()} ${label} complete`),
  });
}

interface DialResult {
  connection: Connection | undefined;
  error: unknown;
  completed: boolean;
  at: number | undefined;
}

function dial(w: World, from: Transport, to: string, timeout = 1000): DialResult {
  const result: DialResult = { connection: undefined, error: undefined, completed: false, at: undefined };
  from.dial$(to, to, timeout).subscribe({
    next: (connection) => {
      result.connection = connection;
      result.at = w.scheduler.now();
    },
    error: (error: unknown) => {
      result.error = error;
      result.at = w.scheduler.now();
    },
    complete: () => {
      result.completed = true;
    },
  });
  return result;
}

function firstIncoming(transport: Transport): { connection: Connection | undefined } {
  const box: { connection: Connection | undefined } = { connection: undefined };
  transport.incoming$.subscribe((connection) => {
    box.connection ??= connection;
  });
  return box;
}

/** Dials a→b, lets the dial land, and records both sides as `${a}>${b}` and `${b}<${a}`. */
async function pair(w: World, aName: string, bName: string): Promise<{ a: Transport; b: Transport; ab: Connection; ba: Connection }> {
  const a = await node(w, aName);
  const b = await node(w, bName);
  const accepted = firstIncoming(b);
  const dialed = dial(w, a, bName);
  w.network.advance(w.latency);
  assert.ok(dialed.connection, 'dial did not open');
  assert.ok(accepted.connection, 'nothing accepted');
  record(w, dialed.connection, `${aName}>${bName}`);
  record(w, accepted.connection, `${bName}<${aName}`);
  return { a, b, ab: dialed.connection, ba: accepted.connection };
}

/** Compares the recorded log (a function, so the log's type is not narrowed). */
function assertLog(w: World, expected: readonly string[], message?: string): void {
  assert.deepEqual(w.log, expected, message);
}

function assertDialError(error: unknown, message: string): void {
  assert.ok(error instanceof DialError, `expected a DialError, got ${String(error)}`);
  assert.equal(error.message, message);
  assert.equal(error.tls, false);
}

describe('MemoryNetwork', () => {
  it('connects two nodes and carries frames both ways', async () => {
    const w = world();
    const { ab, ba } = await pair(w, 'a', 'b');
    assert.equal(ab.direction, 'outbound');
    assert.equal(ab.remote, 'b');
    assert.equal(ba.direction, 'inbound');
    assert.equal(ba.remote, 'a');
    ab.send('ping');
    ba.send(Buffer.from('pong ✓'));
    assertLog(w, [], 'nothing is delivered inside send()');
    w.network.advance(0);
    assertLog(w, ['0 b<a message ping', '0 a>b message pong ✓']);
    assert.equal(ab.bufferedAmount, 0);
  });

  it('gives connection ids that grow per transport', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const result = dial(w, a, 'b');
      w.network.advance(0);
      assert.ok(result.connection);
      ids.push(result.connection.id);
    }
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids ${ids.join(',')}`);
    const back = dial(w, b, 'a');
    w.network.advance(0);
    assert.ok(back.connection);
    assert.ok(back.connection.id > ids[0]!, 'b counts its inbound sides too');
  });

  it('delays the dial and every frame by exactly the latency', async () => {
    const w = world(10);
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const accepted = firstIncoming(b);
    const dialed = dial(w, a, 'b');
    w.network.advance(9);
    assert.equal(dialed.at, undefined);
    assert.ok(accepted.connection === undefined);
    w.network.advance(1);
    assert.equal(dialed.at, 10);
    assert.ok(dialed.connection && accepted.connection);
    record(w, accepted.connection, 'b');
    dialed.connection.send('x');
    w.network.advance(9);
    assertLog(w, []);
    w.network.advance(1);
    assertLog(w, ['20 b message x']);
  });

  it('keeps frames in order per direction when the latency changes', async () => {
    const w = world();
    const { ab } = await pair(w, 'a', 'b');
    w.network.latency(100);
    ab.send('1');
    w.network.latency(0);
    ab.send('2');
    w.network.advance(50);
    ab.send('3');
    w.network.latency(20);
    w.network.advance(50);
    ab.send('4');
    w.network.advance(100);
    assertLog(w, ['100 b<a message 1', '100 b<a message 2', '100 b<a message 3', '120 b<a message 4']);
  });

  it('drops frames across a partition silently and keeps the connection open', async () => {
    const w = world();
    const { ab, ba } = await pair(w, 'a', 'b');
    w.network.partition(['a'], ['b']);
    ab.send('lost 1');
    ba.send('lost 2');
    w.network.advance(10_000);
    assertLog(w, []);
    w.network.heal();
    ab.send('after heal');
    ba.send('back');
    w.network.advance(0);
    assertLog(w, ['10000 b<a message after heal', '10000 a>b message back']);
  });

  it('puts nodes named in no group of a partition into one group of their own', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const c = await node(w, 'c');
    const sides: Connection[] = [];
    for (const transport of [a, b, c]) transport.incoming$.subscribe((connection) => sides.push(connection));
    for (const [from, to] of [[a, 'b'], [c, 'a'], [c, 'b']] as const) {
      const result = dial(w, from, to);
      w.network.advance(0);
      assert.ok(result.connection);
      sides.push(result.connection);
    }
    assert.equal(sides.length, 6);
    for (const side of sides) record(w, side, `${side.direction === 'outbound' ? 'to' : 'from'}-${side.remote}`);
    w.network.partition(['a']);
    for (const side of sides) side.send(`via ${side.id}`);
    w.network.advance(0);
    // only b and c (in no group, so together) still hear each other
    assert.equal(w.log.length, 2, w.log.join('; '));
    assert.ok(w.log.every((line) => / (to-b|from-c) message /.test(line)), w.log.join('; '));
  });

  it('cuts one direction only', async () => {
    const w = world();
    const { ab, ba } = await pair(w, 'a', 'b');
    w.network.cut('a', 'b');
    ab.send('a to b');
    ba.send('b to a');
    w.network.advance(5);
    assertLog(w, ['0 a>b message b to a']);
    w.network.heal();
    ab.send('healed');
    w.network.advance(0);
    assertLog(w, ['0 a>b message b to a', '5 b<a message healed']);
  });

  it('fails a dial across a partition or cut only after its timeout', async () => {
    for (const block of ['partition', 'cut there', 'cut back'] as const) {
      const w = world();
      const a = await node(w, 'a');
      await node(w, 'b');
      if (block === 'partition') w.network.partition(['a'], ['b']);
      else if (block === 'cut there') w.network.cut('a', 'b');
      else w.network.cut('b', 'a');
      const result = dial(w, a, 'b', 500);
      w.network.advance(499);
      assert.equal(result.at, undefined, `${block}: settled early`);
      w.network.advance(1);
      assert.equal(result.at, 500, block);
      assertDialError(result.error, 'timed out');
      assert.equal(result.connection, undefined);
    }
  });

  it('refuses a dial to an unknown name after one latency', async () => {
    const w = world(7);
    const a = await node(w, 'a');
    const result = dial(w, a, 'nobody');
    w.network.advance(6);
    assert.equal(result.at, undefined);
    w.network.advance(1);
    assert.equal(result.at, 7);
    assertDialError(result.error, 'connection refused');
  });

  it('refuses dials before listen and after close', async () => {
    const w = world();
    const idle = w.network.transport();
    const before = dial(w, idle, 'b');
    assertDialError(before.error, 'not listening');
    const a = await node(w, 'a');
    await a.close();
    const after = dial(w, a, 'b');
    assertDialError(after.error, 'transport closed');
  });

  it('kills a node: peers see reset, it sees nothing, dials to it are refused', async () => {
    const w = world(3);
    const { ab } = await pair(w, 'a', 'b');
    const c = await node(w, 'c');
    const cb = dial(w, c, 'b');
    w.network.advance(3);
    assert.ok(cb.connection);
    record(w, cb.connection, 'c>b');
    w.network.kill('b');
    cb.connection.send('to the dead');
    w.network.advance(2);
    assertLog(w, []);
    w.network.advance(1);
    assertLog(w, ['9 a>b close reset "" remote', '9 a>b complete', '9 c>b close reset "" remote', '9 c>b complete']);
    const again = dial(w, c, 'b');
    w.network.advance(3);
    assertDialError(again.error, 'connection refused');
    ab.send('late');
    w.network.advance(100);
    assert.equal(w.log.filter((line) => line.includes('b<a')).length, 0, 'the dead side observed something');
    assert.throws(() => w.network.kill('b'), /no node named "b"/);
    const reborn = w.network.transport();
    assert.equal(await reborn.listen('b', { maxPayload: MAX_PAYLOAD }), 'b');
  });

  it('kills a node whose frames in flight are lost with it', async () => {
    const w = world(5);
    const { ba } = await pair(w, 'a', 'b');
    ba.send('in flight');
    w.network.advance(2);
    w.network.kill('b');
    w.network.advance(100);
    assertLog(w, ['12 a>b close reset "" remote', '12 a>b complete']);
  });

  it('kills a node whose own sends and dials go nowhere', async () => {
    const w = world();
    const { b, ba } = await pair(w, 'a', 'b');
    await node(w, 'c');
    w.network.kill('b');
    ba.send('ghost');
    ba.close('normal', 'bye');
    const fromDead = dial(w, b, 'c');
    w.network.advance(60_000);
    assertLog(w, ['0 a>b close reset "" remote', '0 a>b complete']);
    assert.equal(fromDead.at, undefined);
    assert.equal(fromDead.completed, false);
  });

  it('holds frames to and from a frozen node and delivers them in order on thaw', async () => {
    const w = world(2);
    const { ab, ba } = await pair(w, 'a', 'b');
    w.network.freeze('b');
    ab.send('one');
    ab.send('two!');
    ba.send('from frozen');
    w.network.advance(1000);
    assertLog(w, []);
    assert.equal(ab.bufferedAmount, 7, 'bytes held for the frozen receiver');
    assert.equal(ba.bufferedAmount, 0, 'a is not frozen');
    w.network.thaw('b');
    assertLog(w, [], 'nothing inside thaw()');
    w.network.advance(0);
    assertLog(w, ['1002 b<a message one', '1002 b<a message two!', '1002 a>b message from frozen']);
    assert.equal(ab.bufferedAmount, 0);
  });

  it('lets a dial to a frozen node wait: it opens on thaw, or times out', async () => {
    const w = world();
    const a = await node(w, 'a');
    await node(w, 'b');
    w.network.freeze('b');
    const late = dial(w, a, 'b', 100);
    const waiting = dial(w, a, 'b', 1000);
    w.network.advance(500);
    assertDialError(late.error, 'timed out');
    assert.equal(late.at, 100);
    assert.equal(waiting.at, undefined);
    w.network.thaw('b');
    w.network.advance(0);
    assert.equal(waiting.at, 500);
    assert.ok(waiting.connection);
    assert.equal(waiting.error, undefined);
  });

  it('closes with cause and reason: the peer hears after one latency, the closer after a round trip', async () => {
    const w = world(5);
    const { ab, ba } = await pair(w, 'a', 'b');
    ab.send('before');
    ab.close('shutdown', 'bye');
    ab.send('after');
    ab.close('normal', 'again');
    ba.send('reply in flight');
    w.network.advance(20);
    assertLog(w, [
      '10 b<a message before',
      '10 b<a close shutdown "bye" remote',
      '10 b<a complete',
      '10 a>b message reply in flight',
      '15 a>b close shutdown "bye" local',
      '15 a>b complete',
    ]);
  });

  it('completes the dial when its connection closes', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const accepted = firstIncoming(b);
    const result = dial(w, a, 'b');
    w.network.advance(0);
    assert.ok(accepted.connection && result.connection);
    assert.equal(result.completed, false);
    accepted.connection.close('removed', 'gone');
    w.network.advance(0);
    assert.equal(result.completed, true);
  });

  it('terminates with reset on both sides', async () => {
    const w = world(4);
    const { ab } = await pair(w, 'a', 'b');
    ab.terminate();
    ab.terminate();
    w.network.advance(10);
    assertLog(w, ['4 a>b close reset "" local', '4 a>b complete', '8 b<a close reset "" remote', '8 b<a complete']);
  });

  it('terminates a connection whose events$ is unsubscribed before close', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const accepted = firstIncoming(b);
    const result = dial(w, a, 'b');
    w.network.advance(0);
    assert.ok(accepted.connection && result.connection);
    record(w, accepted.connection, 'b');
    result.connection.events$.subscribe().unsubscribe();
    w.network.advance(0);
    assertLog(w, ['0 b close reset "" remote', '0 b complete']);
  });

  it('buffers events until events$ is subscribed, and takes one subscriber', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b');
    const accepted = firstIncoming(b);
    const result = dial(w, a, 'b');
    w.network.advance(0);
    assert.ok(accepted.connection && result.connection);
    result.connection.send('early');
    result.connection.close('normal', '');
    w.network.advance(0);
    record(w, accepted.connection, 'b');
    assertLog(w, ['0 b message early', '0 b close normal "" remote', '0 b complete']);
    let error: unknown;
    accepted.connection.events$.subscribe({ error: (e: unknown) => (error = e) });
    assert.match(String(error), /one subscriber/);
  });

  it('closes a frame over maxPayload with too-big: local on the receiver, remote on the sender', async () => {
    const w = world(1);
    const a = await node(w, 'a');
    await node(w, 'b', 4);
    const result = dial(w, a, 'b');
    w.network.advance(1);
    assert.ok(result.connection);
    record(w, result.connection, 'a');
    result.connection.send('éé');
    w.network.advance(1);
    assertLog(w, [], 'four bytes pass');
    result.connection.send('ééé');
    w.network.advance(10);
    assertLog(w, ['4 a close too-big "Max payload size exceeded" remote', '4 a complete']);
  });

  it('reports too-big on the receiver with local true and the error', async () => {
    const w = world();
    const a = await node(w, 'a');
    const b = await node(w, 'b', 3);
    const events: SocketEvent[] = [];
    b.incoming$.pipe(mergeMap((connection) => connection.events$)).subscribe((event) => events.push(event));
    const result = dial(w, a, 'b');
    w.network.advance(0);
    result.connection?.send(Buffer.from('abcd'));
    w.network.advance(0);
    assert.equal(events.length, 1);
    const [close] = events;
    assert.ok(close?.type === 'close');
    assert.equal(close.cause, 'too-big');
    assert.equal(close.local, true);
    assert.ok(close.error instanceof RangeError);
  });

  it('closes a transport: name freed, peers reset, streams complete, idempotent', async () => {
    const w = world();
    const { b } = await pair(w, 'a', 'b');
    let incomingDone = false;
    let refusedDone = false;
    b.incoming$.subscribe({ complete: () => (incomingDone = true) });
    b.refused$.subscribe({ complete: () => (refusedDone = true) });
    const first = b.close();
    assert.equal(b.close(), first);
    await first;
    assert.ok(incomingDone && refusedDone);
    w.network.advance(0);
    assertLog(w, ['0 b<a close reset "" local', '0 b<a complete', '0 a>b close reset "" remote', '0 a>b complete']);
    const next = w.network.transport();
    assert.equal(await next.listen('b', { maxPayload: MAX_PAYLOAD }), 'b');
  });

  it('rejects a second listen, a taken name and TLS', async () => {
    const w = world();
    const a = await node(w, 'a');
    await assert.rejects(a.listen('a2', { maxPayload: MAX_PAYLOAD }), /listens already/);
    await assert.rejects(w.network.transport().listen('a', { maxPayload: MAX_PAYLOAD }), /"a" listens already/);
    await assert.rejects(w.network.transport().listen('t', { maxPayload: 1, tls: { key: 'k', cert: 'c' } }), /no TLS/);
    await assert.rejects(w.network.transport().listen('', { maxPayload: 1 }), TypeError);
  });

  it('parses addresses: node names only', () => {
    const transport = world().network.transport();
    assert.equal(transport.kind, 'memory');
    assert.equal(transport.parseAddress('node-1', 'dial'), 'node-1');
    assert.equal(transport.parseAddress('x'.repeat(128), 'listen'), 'x'.repeat(128));
    for (const bad of [undefined, '', 'a\nb', 'tab\there', 'x'.repeat(129)]) {
      assert.throws(
        () => transport.parseAddress(bad, 'dial'),
        (error: unknown) => error instanceof TypeError && /Invalid address .* for the memory transport: expected a node name/.test(error.message),
        `accepted ${JSON.stringify(bad)}`,
      );
    }
  });

  it('advances now() exactly and runs nothing beyond', () => {
    const w = world();
    const ran: string[] = [];
    w.scheduler.schedule(() => ran.push(`5@${w.scheduler.now()}`), 5);
    w.scheduler.schedule(() => {
      ran.push(`10@${w.scheduler.now()}`);
      w.scheduler.schedule(() => ran.push(`nested@${w.scheduler.now()}`), 0);
      w.scheduler.schedule(() => ran.push(`later@${w.scheduler.now()}`), 1);
    }, 10);
    w.scheduler.schedule(() => ran.push(`11@${w.scheduler.now()}`), 11);
    w.network.advance(10);
    assert.equal(w.scheduler.now(), 10);
    assert.deepEqual(ran, ['5@5', '10@10', 'nested@10']);
    w.network.advance(0.5);
    assert.equal(w.scheduler.now(), 10.5);
    assert.deepEqual(ran, ['5@5', '10@10', 'nested@10']);
    w.network.advance(0.5);
    // same time: in the order they were scheduled
    assert.deepEqual(ran, ['5@5', '10@10', 'nested@10', '11@11', 'later@11']);
    w.network.advance(89);
    assert.equal(w.scheduler.now(), 100);
  });

  it('advances a TestScheduler outside run(), past its default maxFrames', () => {
    const scheduler = new TestScheduler(assert.deepEqual);
    const network = new MemoryNetwork({ scheduler });
    const ran: number[] = [];
    scheduler.schedule(() => ran.push(scheduler.now()), 5000);
    network.advance(4999);
    assert.deepEqual(ran, []);
    network.advance(1);
    assert.deepEqual(ran, [5000]);
    assert.equal(scheduler.now(), 5000);
  });

  it('throws on a runaway action instead of looping forever', () => {
    const scheduler = new VirtualTimeScheduler();
    const network = new MemoryNetwork({ scheduler, maxActionsPerAdvance: 1000 });
    let runs = 0;
    scheduler.schedule(function again() {
      runs++;
      this.schedule(undefined, 0);
    }, 1);
    assert.throws(() => network.advance(10), /more than 1000 scheduled actions/);
    assert.equal(runs, 1000);
  });

  it('refuses bad arguments', () => {
    const scheduler = new VirtualTimeScheduler();
    const network = new MemoryNetwork({ scheduler });
    assert.throws(() => network.advance(-1), TypeError);
    assert.throws(() => network.advance(Number.NaN), TypeError);
    assert.throws(() => network.latency(Infinity), TypeError);
    assert.throws(() => network.partition(['a', 'b'], ['b']), /more than one group/);
    assert.throws(() => new MemoryNetwork({ scheduler, latency: -1 }), TypeError);
    assert.throws(() => new MemoryNetwork({ scheduler: {} as VirtualTimeScheduler }), /VirtualTimeScheduler/);
  });

  it('is deterministic: the same script gives the same timed events', async () => {
    async function script(): Promise<string[]> {
      const w = world(3);
      const { ab, ba } = await pair(w, 'a', 'b');
      const c = await node(w, 'c');
      const cb = dial(w, c, 'b');
      w.network.advance(1);
      for (let i = 0; i < 5; i++) {
        ab.send(`a${i}`);
        ba.send(`b${i}`);
        w.network.latency(i % 3);
        w.network.advance(1);
      }
      w.network.freeze('a');
      ba.send('held');
      w.network.advance(4);
      w.network.thaw('a');
      w.network.advance(3);
      assert.ok(cb.connection);
      record(w, cb.connection, 'c>b');
      w.network.kill('b');
      w.network.advance(10);
      return w.log;
    }
    const first = await script();
    const second = await script();
    assert.ok(first.length > 10, `too few events: ${first.length}`);
    assert.deepEqual(second, first);
  });
});
