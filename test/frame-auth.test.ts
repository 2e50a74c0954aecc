/**
 * Frames after the handshake are bound to the session on plain ws (DESIGN.md,
 * "Behaviour that must hold"): an on-path injector between two real managers
 * writes well-formed frames into the stream, acceptor → dialer and dialer →
 * acceptor, text and binary, replays a frame it saw and injects a close. With frame MACs (the default) the dialer takes neither,
 * closes that connection, says why, and the two join again; with them turned
 * off (`wsTransport({ frameMacs: false })`) the same injected frame is
 * delivered as a message of b's, which is what the MACs are for.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { CODES } from '../src/limits.js';
import { wsTransport, type ManagerOptions, type Packet } from '../src/index.js';
import { fastOptions, startNode, type Node } from './support/cluster.js';
import { startProxy, type Proxy } from './support/proxy.js';
import { authOf, helloOf, isChallenge, RawClient, sinkServer } from './support/raw.js';
import { handshakeProof } from '../src/protocol/handshake.js';
import { stretchSecret } from '../src/protocol/keyring.js';
import { SECRET } from './support/cluster.js';
import { scope } from './support/scope.js';

/** A server → client ws text frame (unmasked, one fragment) carrying `text`. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126, 'a short frame');
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** A client → server ws frame (masked with a zero key, so the bytes show as they are; one fragment): opcode 1 text, 2 binary. */
function maskedFrame(opcode: 1 | 2, payload: Buffer): Buffer {
  assert.ok(payload.length < 126, 'a short frame');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

const FORGED = JSON.stringify({ type: 'msg', from: 'b', time: 0, data: 'forged by an injector' });

/** a dials b through the proxy; b's own dials to a go nowhere, so the proxied connection is the pair's only one. */
async function pair(t: Parameters<typeof scope>[0], options: () => ManagerOptions): Promise<{ a: Node; b: Node; proxy: Proxy; received: unknown[] }> {
  const defer = scope(t);
  const a = await startNode('a', options());
  defer(() => a.manager.shutdown());
  const b = await startNode('b', options());
  defer(() => b.manager.shutdown());
  const proxy = await startProxy(b.address);
  defer(() => proxy.close());
  const sink = await sinkServer();
  defer(() => sink.close());
  const received: unknown[] = [];
  a.manager.fromCluster$.subscribe((p: Packet) => received.push(p.message()));
  const joined = firstValueFrom(a.manager.nodeJoin$.pipe(filter((n) => n === 'b'), timeout(5000)));
  b.manager.addNode('a', sink.address);
  a.manager.addNode('b', proxy.address);
  await joined;
  return { a, b, proxy, received };
}

/** Waits until traffic has been quiet for `ms` (so an injected frame lands between two frames), at most 3 s. */
async function quiet(proxy: Proxy, ms = 60): Promise<void> {
  const until = performance.now() + 3000;
  while (performance.now() < until) {
    const last = Math.max(proxy.lastDelivered.toClient, proxy.lastDelivered.toTarget);
    if (performance.now() - last >= ms) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no quiet moment on the link in 3 s');
}

describe('frames bound to the session on plain ws', () => {
  it('refuses a frame injected into the stream and a frame replayed, delivering neither, and the pair joins again', { timeout: 30_000 }, async (t) => {
    const { a, b, proxy, received } = await pair(t, () => fastOptions());
    const links = proxy.accepted;

    // injected: a well-formed msg frame, as b would send it, without a valid MAC
    const left = firstValueFrom(a.manager.nodeLeave$.pipe(filter((n) => n === 'b'), timeout(5000)));
    await quiet(proxy);
    assert.equal(proxy.inject('toClient', textFrame(FORGED)), 1, 'written into the one connection');
    await left;
    const forged = a.logs.filter((e) => e.code === CODES.FORGED);
    assert.equal(forged.length, 1, `a logs the forged frame once: ${a.logs.map((e) => `${e.code ?? ''} ${e.message}`).join('\n')}`);
    assert.match(forged[0]?.message ?? '', /MAC does not hold/);
    assert.equal(a.manager.stats.snapshot().refused.forged, 1, 'counted: rxcluster_frames_refused_total{reason="forged"}');
    const rejoined = firstValueFrom(a.manager.nodeJoin$.pipe(filter((n) => n === 'b'), timeout(10_000)));
    await rejoined;
    assert.ok(proxy.accepted > links, 'a dialed b again, through the proxy');

    // replayed: a frame b really sent (a broadcast), written again after it was delivered
    const once = firstValueFrom(a.manager.fromCluster$.pipe(filter((p) => p.message() === 'sent once'), timeout(5000)));
    await quiet(proxy);
    b.manager.toCluster$.next('sent once');
    await once;
    const chunk = proxy.recentChunks('toClient').find((c) => c.includes('sent once'));
    assert.ok(chunk !== undefined, 'the broadcast went through the proxy');
    const leftAgain = firstValueFrom(a.manager.nodeLeave$.pipe(filter((n) => n === 'b'), timeout(5000)));
    await quiet(proxy);
    proxy.inject('toClient', chunk);
    await leftAgain;
    assert.equal(a.logs.filter((e) => e.code === CODES.FORGED).length, 2, 'the replay is refused too');
    assert.deepEqual(received, ['sent once'], 'nothing forged or replayed was delivered');
  });

  it('refuses frames injected the other way, dialer to acceptor, text and binary alike', { timeout: 30_000 }, async (t) => {
    const { a, b, proxy } = await pair(t, () => fastOptions());
    const onB: unknown[] = [];
    b.manager.fromCluster$.subscribe((p: Packet) => onB.push(p.message()));
    const forgedFromA = JSON.stringify({ type: 'msg', from: 'a', time: 0, data: 'forged toward b' });
    // a binary frame as rxcluster's encoding starts one (format byte 1), then a JSON header: refused for its MAC before any decoding
    const binary = Buffer.concat([Buffer.from([1]), Buffer.from('{"type":"msg","from":"a","time":0}')]);
    for (const [what, frame] of [['text', maskedFrame(1, Buffer.from(forgedFromA))], ['binary', maskedFrame(2, binary)]] as const) {
      const before = b.manager.stats.snapshot().refused.forged;
      const left = firstValueFrom(b.manager.nodeLeave$.pipe(filter((n) => n === 'a'), timeout(5000)));
      await quiet(proxy);
      assert.equal(proxy.inject('toTarget', frame), 1, `${what}: written into the one connection`);
      await left;
      assert.equal(b.manager.stats.snapshot().refused.forged, before + 1, `${what}: b counted one forged frame`);
      await firstValueFrom(a.manager.nodeJoin$.pipe(filter((n) => n === 'b'), timeout(10_000)));
    }
    assert.deepEqual(onB, [], 'nothing injected was delivered to b');
    assert.equal(b.logs.filter((e) => e.code === CODES.FORGED).length, 2);
    // b's own close (1008) carried its MAC, so a read it as b's and not as a close anyone could have injected
    const told = a.logs.filter((e) => /^b closed the connection \(policy: refused\)/.test(e.message));
    assert.equal(told.length, 2, `a read b's two closes as b's: ${a.logs.map((e) => e.message).join('\n')}`);
    assert.equal(a.logs.filter((e) => /no valid MAC in its reason/.test(e.message)).length, 0, 'no close of b taken for an injected one');
  });

  it('takes a close injected with "shutting down" (1001) for a lost connection, while a real shutdown still says shutdown', { timeout: 30_000 }, async (t) => {
    const { a, b, proxy } = await pair(t, () => fastOptions());
    const reasons: string[] = [];
    a.manager.membership$.subscribe((e) => {
      if (e.type === 'leave' && e.node === 'b') reasons.push(e.reason);
    });
    // a ws close frame (server → client, unmasked): code 1001, reason "bye", no MAC
    const body = Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('bye')]);
    const left = firstValueFrom(a.manager.nodeLeave$.pipe(filter((n) => n === 'b'), timeout(5000)));
    await quiet(proxy);
    proxy.inject('toClient', Buffer.concat([Buffer.from([0x88, body.length]), body]));
    await left;
    assert.deepEqual(reasons, ['lost'], 'an injected shutdown is no shutdown: no incarnation forgotten, no leave in order');
    assert.ok(a.logs.some((e) => /no valid MAC in its reason/.test(e.message)), 'said why');
    // b rejoins, then really shuts down: its MAC'd leave says so
    await firstValueFrom(a.manager.nodeJoin$.pipe(filter((n) => n === 'b'), timeout(10_000)));
    const leftInOrder = firstValueFrom(a.manager.nodeLeave$.pipe(filter((n) => n === 'b'), timeout(5000)));
    await b.manager.shutdown();
    await leftInOrder;
    assert.deepEqual(reasons, ['lost', 'shutdown']);
  });

  it('refuses a peer whose frameMacs differs, each side saying why at its own dial, and never reads it as forgery', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const a = await startNode('a', fastOptions());
    defer(() => a.manager.shutdown());
    const b = await startNode('b', fastOptions({ transport: wsTransport({ frameMacs: false }) }));
    defer(() => b.manager.shutdown());
    const joins: string[] = [];
    a.manager.nodeJoin$.subscribe((n) => joins.push(`a saw ${n}`));
    b.manager.nodeJoin$.subscribe((n) => joins.push(`b saw ${n}`));
    const said = (node: Node, pattern: RegExp): Promise<unknown> =>
      firstValueFrom(node.manager.log$.pipe(filter((e) => e.code === CODES.PEER_REFUSED && pattern.test(e.message) && /frameMacs must be the same on every node/.test(e.message)), timeout(5000)));
    const aSaid = said(a, /^b at .* sends frames without a MAC and this node requires one/);
    const bSaid = said(b, /^a at .* requires a MAC on every frame and this node sends none/);
    a.manager.addNode('b', b.address);
    b.manager.addNode('a', a.address);
    await Promise.all([aSaid, bSaid]);
    // a few more dials' worth (fast settings redial within a second): still nobody joined, nothing forged
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(joins, []);
    assert.equal(a.manager.stats.snapshot().refused.forged, 0);
    assert.equal(b.manager.stats.snapshot().refused.forged, 0);
    assert.equal([...a.logs, ...b.logs].filter((e) => e.code === CODES.FORGED).length, 0, 'no frame taken for a forgery');
  });

  it('refuses, after its proof, a dialer whose hello says it sends frames without a MAC', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const a = await startNode('a', fastOptions());
    defer(() => a.manager.shutdown());
    a.manager.addNode('b', '127.0.0.1:1');
    const client = await RawClient.open(a.address);
    defer(() => client.destroy());
    const hello: Record<string, unknown> = { ...helloOf({ name: 'b', to: 'a' }), macs: false };
    client.send(hello);
    const challenge = await client.next(3000, 'the challenge');
    assert.ok(isChallenge(challenge), `a bare challenge (a MACs its frames: no macs field): ${JSON.stringify(challenge)}`);
    const transcript = { dialer: 'b', acceptor: 'a', dialerNonce: String(hello['nonce']), acceptorNonce: challenge.nonce };
    const logged = firstValueFrom(a.manager.log$.pipe(filter((e) => e.code === CODES.PEER_REFUSED), timeout(5000)));
    client.send(authOf(handshakeProof(stretchSecret(SECRET), 'dialer', transcript)));
    const closed = await client.waitClosed(3000);
    assert.deepEqual([closed.code, closed.reason], [1008, 'refused']);
    const entry = await logged;
    assert.match(entry.message, /^b at .* sends frames without a MAC and this node requires one/);
  });

  it('without frame MACs (frameMacs: false) the same injected frame is delivered as b\'s: the attack the MACs stop', { timeout: 30_000 }, async (t) => {
    const { a, proxy, received } = await pair(t, () => fastOptions({ transport: wsTransport({ frameMacs: false }) }));
    const delivered = firstValueFrom(a.manager.fromCluster$.pipe(timeout(5000)));
    await quiet(proxy);
    proxy.inject('toClient', textFrame(FORGED));
    const packet = await delivered;
    assert.equal(packet.name, 'b', 'taken as a message of b');
    assert.deepEqual(received, ['forged by an injector']);
    assert.equal(a.logs.filter((e) => e.code === CODES.FORGED).length, 0);
  });
  it('counts a received text message in UTF-8 bytes, as its sender counts it, MAC aside', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const a = await startNode('a', fastOptions());
    defer(() => a.manager.shutdown());
    const b = await startNode('b', fastOptions());
    defer(() => b.manager.shutdown());
    const joined = firstValueFrom(b.manager.nodeJoin$.pipe(filter((n) => n === 'a'), timeout(5000)));
    a.manager.addNode('b', b.address);
    b.manager.addNode('a', a.address);
    await joined;
    await firstValueFrom(a.manager.nodeJoin$.pipe(filter((n) => n === 'b'), timeout(5000)));
    // non-ASCII: its UTF-8 bytes outnumber its UTF-16 units (é 2 bytes, ✓ 3, 🛰 4 as 2 units)
    const message = 'héllo ✓ 🛰'.repeat(20);
    const got = firstValueFrom(b.manager.fromCluster$.pipe(filter((p) => p.message() === message), timeout(5000)));
    const sentBefore = a.manager.stats.bytesSent;
    const receivedBefore = b.manager.stats.bytesReceived;
    a.manager.toNode$.next({ node: 'b', message });
    await got;
    const sent = a.manager.stats.bytesSent - sentBefore;
    assert.ok(sent > JSON.stringify(message).length, `the sender counts bytes, more than the characters: ${sent}`);
    assert.equal(b.manager.stats.bytesReceived - receivedBefore, sent, 'the receiver counts the very bytes the sender counted');
  });
});
