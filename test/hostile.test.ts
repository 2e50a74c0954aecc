/**
 * Hostile input against a real manager: raw WebSocket clients that mangle the
 * mesh protocol, raw TCP, a wrong-secret peer, a replayed handshake. Each
 * fault must close that one client (with the right close code), be logged
 * with the right code, and leave the manager serving its real peers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { concat, defer as deferred, from } from 'rxjs';
import { CLOSE, CODES, PROTOCOL_VERSION, type Code } from '../src/limits.js';
import type { LogEntry } from '../src/log.js';
import { handshakeProof, verifyProof, type HandshakeTranscript } from '../src/protocol/handshake.js';
import { fastOptions, first, joinedAll, logText, SECRET, sleep, startNode, type Node } from './support/cluster.js';
import type { ManagerOptions } from '../src/index.js';
import { RawClient, nonce, rawTcp, sinkServer, upgradeStatus } from './support/raw.js';
import { scope, type Release } from './support/scope.js';
import { childLine, spawnNode } from './support/child.js';

type Defer = (release: Release) => void;

/** A and B, joined; every membership event of both recorded as "A+B" (A saw B join) or "A-B". */
interface Cluster {
  readonly a: Node;
  readonly b: Node;
  readonly events: string[];
}

function record(node: Node, events: string[]): void {
  node.manager.nodeJoin$.subscribe((peer) => events.push(`${node.manager.name}+${peer}`));
  node.manager.nodeLeave$.subscribe((peer) => events.push(`${node.manager.name}-${peer}`));
}

/** Starts A (with `aOptions`) and its real configured peer B, and waits until they joined. */
async function cluster(defer: Defer, aOptions: ManagerOptions = fastOptions()): Promise<Cluster> {
  const a = await startNode('A', aOptions);
  defer(() => a.manager.shutdown());
  const b = await startNode('B');
  defer(() => b.manager.shutdown());
  const events: string[] = [];
  record(a, events);
  record(b, events);
  a.manager.addNode('B', b.address);
  b.manager.addNode('A', a.address);
  await joinedAll([a, b]);
  return { a, b, events };
}

/** The first log entry of `node` with `code` (already logged or to come), or a rejection after `ms`. */
function logged(node: Node, code: Code, ms = 3000): Promise<LogEntry> {
  return first(
    concat(deferred(() => from([...node.logs])), node.manager.log$),
    (entry) => entry.code === code,
    ms,
    `${node.manager.name} to log ${code}; its log:\n${logText(node)}`,
  );
}

/**
 * Proves A still serves: B never left and still gets A's broadcasts; a new
 * real peer C joins A and exchanges a broadcast both ways; A logged no
 * unexpected fault. Resolves the time (performance.now()) C joined A.
 */
async function stillServes(defer: Defer, { a, b, events }: Cluster): Promise<number> {
  assert.deepEqual(events.filter((e) => e.includes('-')), [], `no leave expected; A's log:\n${logText(a)}`);
  assert.equal((await first(a.manager.members$)).get('B')?.status, 'Online', 'B is still Online on A');

  const c = await startNode('C');
  defer(() => c.manager.shutdown());
  const cJoined = first(a.manager.nodeJoin$, (peer) => peer === 'C', 5000, 'A to announce C').then(() => performance.now());
  a.manager.addNode('C', c.address);
  c.manager.addNode('A', a.address);
  await joinedAll([a, c]);
  const joinedAt = await cJoined;

  const atC = first(c.manager.fromCluster$, (p) => p.name === 'A', 3000, "C to receive A's broadcast");
  const atB = first(b.manager.fromCluster$, (p) => p.name === 'A', 3000, "B to receive A's broadcast");
  a.manager.toCluster$.next({ from: 'A', n: 1 });
  assert.deepEqual((await atC).message(), { from: 'A', n: 1 });
  assert.deepEqual((await atB).message(), { from: 'A', n: 1 });
  const atA = first(a.manager.fromCluster$, (p) => p.name === 'C', 3000, "A to receive C's broadcast");
  c.manager.toCluster$.next({ from: 'C', n: 2 });
  assert.deepEqual((await atA).message(), { from: 'C', n: 2 });

  assert.deepEqual(events.filter((e) => e.includes('-')), [], `no leave expected; A's log:\n${logText(a)}`);
  const errors = a.logs.filter((entry) => entry.level === 'error').map(String);
  assert.deepEqual(errors, [], 'A logged no unexpected fault');
  return joinedAt;
}

function hello(fields: Partial<{ version: number; name: string; to: string; nonce: string; instance: string }> = {}): Record<string, unknown> {
  return { type: 'hello', version: PROTOCOL_VERSION, name: 'B', to: 'A', nonce: nonce(), instance: nonce(), ...fields };
}

interface RefusedCase {
  readonly label: string;
  readonly frame: unknown;
  readonly close: number;
  readonly code: Code;
}

const REFUSED: readonly RefusedCase[] = [
  { label: 'garbage text', frame: 'GET / HTTP/1.1 but not really', close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'binary garbage', frame: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x7b, 0x22, 0xc3, 0x28, 0x0a]), close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'invalid JSON', frame: '{"type":"hello","version":1,', close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'valid JSON of an unknown frame type', frame: { type: 'gossip', rumours: ['A is down'] }, close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'a hello with a malformed nonce', frame: hello({ nonce: 'not-hex' }), close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'a msg frame before the handshake', frame: { type: 'msg', from: 'B', time: Date.now(), data: 'let me in' }, close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'a welcome frame before the handshake', frame: { type: 'welcome' }, close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME },
  { label: 'a hello with a wrong version', frame: hello({ version: PROTOCOL_VERSION + 1 }), close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED },
  { label: 'a hello from a name that is not configured', frame: hello({ name: 'mallory' }), close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED },
  { label: "a hello claiming the acceptor's own name", frame: hello({ name: 'A' }), close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED },
  { label: 'a hello whose `to` names another node', frame: hello({ to: 'C' }), close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED },
];

describe('hostile input from a raw ws client', () => {
  for (const c of REFUSED) {
    it(`closes only the client that sends ${c.label} (${c.close}, ${c.code}); the manager still serves`, { timeout: 20_000 }, async (t) => {
      const defer = scope(t);
      const cl = await cluster(defer);
      const raw = await RawClient.open(cl.a.address);
      defer(() => raw.destroy());

      raw.send(c.frame);
      const closed = await raw.waitClosed(3000);

      assert.equal(closed.code, c.close, `close code; reason "${closed.reason}"; A's log:\n${logText(cl.a)}`);
      assert.equal(raw.pending, 0, 'nothing was sent back before the close (no challenge to a refused hello)');
      const entry = await logged(cl.a, c.code, 1000);
      assert.equal(entry.level, 'warn', String(entry));
      await stillServes(defer, cl);
    });
  }

  it('closes a client that sends a text frame of invalid UTF-8 with 1007 and logs it as a bad frame', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer);
    const raw = await RawClient.open(cl.a.address);
    defer(() => raw.destroy());

    raw.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const closed = await raw.waitClosed(3000);

    assert.equal(closed.code, 1007, `close code (invalid frame payload data); A's log:\n${logText(cl.a)}`);
    const entry = await logged(cl.a, CODES.BAD_FRAME, 1000);
    assert.equal(entry.level, 'warn', String(entry));
    await stillServes(defer, cl);
  });

  it('closes a client whose frame passes maxPayload with 1009, logs it, and keeps serving', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer, fastOptions({ maxPayload: 4096 }));
    const raw = await RawClient.open(cl.a.address);
    defer(() => raw.destroy());

    raw.send('x'.repeat(10_000));
    const closed = await raw.waitClosed(3000);

    assert.equal(closed.code, CLOSE.MESSAGE_TOO_BIG, `close code; A's log:\n${logText(cl.a)}`);
    const entry = await logged(cl.a, CODES.FRAME_TOO_BIG, 2000);
    assert.equal(entry.level, 'warn', String(entry));
    await stillServes(defer, cl);
  });

  it('refuses a second process that claims the name of a connected node, and keeps the real one', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer);
    // an impostor that knows the secret and calls itself B, while B is connected
    const impostor = await startNode('B');
    defer(() => impostor.manager.shutdown());
    const impostorJoins: string[] = [];
    impostor.manager.nodeJoin$.subscribe((n) => impostorJoins.push(n));
    impostor.manager.addNode('A', cl.a.address);
    const entry = await logged(cl.a, CODES.PEER_REFUSED, 3000);
    assert.match(entry.message, /B is already connected from another process/);
    const refusedByA = await first(impostor.manager.log$, (e) => e.code === CODES.PEER_REFUSED || e.code === CODES.AUTH, 3000, 'the impostor to be told');
    assert.match(refusedByA.message, /refused/);
    await sleep(300);
    assert.deepEqual(impostorJoins, [], 'the impostor never joined');
    await stillServes(defer, cl);
  });

  it('closes a half-finished handshake after connectTimeout with 4004 while a real peer joins meanwhile', { timeout: 20_000 }, async (t) => {
    const connectTimeout = 500;
    const defer = scope(t);
    const cl = await cluster(defer, fastOptions({ settings: { connectTimeout } }));
    const raw = await RawClient.open(cl.a.address);
    defer(() => raw.destroy());
    const openedAt = performance.now();

    // claims to be H (configured, never reachable), then falls silent
    cl.a.manager.addNode('H', '127.0.0.1:1');
    raw.send(hello({ name: 'H' }));
    const challenge = (await raw.next(2000, 'the challenge')) as { type?: unknown; name?: unknown };
    assert.equal(challenge.type, 'challenge');
    assert.equal(challenge.name, 'A');

    const cJoinedAt = await stillServes(defer, cl);
    const closed = await raw.waitClosed(connectTimeout + 3000);
    const closedAt = performance.now();

    assert.equal(closed.code, CLOSE.HANDSHAKE_TIMEOUT, `close code; A's log:\n${logText(cl.a)}`);
    const elapsed = closedAt - openedAt;
    t.diagnostic(`half-finished handshake closed ${elapsed.toFixed(1)} ms after it opened (connectTimeout ${connectTimeout} ms)`);
    assert.ok(elapsed >= connectTimeout * 0.9, `closed after ${elapsed.toFixed(0)} ms, before connectTimeout (${connectTimeout} ms)`);
    assert.ok(elapsed < connectTimeout + 1000, `closed after ${elapsed.toFixed(0)} ms, long after connectTimeout (${connectTimeout} ms)`);
    assert.ok(cJoinedAt < closedAt, 'C joined while the half-finished handshake was still pending');
    const entry = await logged(cl.a, CODES.HANDSHAKE_TIMEOUT, 1000);
    assert.equal(entry.level, 'warn', String(entry));
    assert.deepEqual(cl.events.filter((e) => e.includes('-')), [], 'the half-finished handshake did not disturb B');
  });

  it('refuses a peer with another secret on both sides, with no join or leave, and still serves', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer);
    const w = await startNode('W', fastOptions(), `not-${SECRET}`);
    defer(() => w.manager.shutdown());
    const wEvents: string[] = [];
    record(w, wEvents);

    cl.a.manager.addNode('W', w.address);
    w.manager.addNode('A', cl.a.address);
    const atA = await logged(cl.a, CODES.AUTH, 3000);
    const atW = await logged(w, CODES.AUTH, 3000);
    assert.equal(atA.node, 'W', String(atA));
    assert.equal(atW.node, 'A', String(atW));

    await sleep(1500); // both keep redialing and keep being refused: nothing may be announced
    assert.deepEqual([...cl.events].sort(), ['A+B', 'B+A'], `A and B announced nothing new; A's log:\n${logText(cl.a)}`);
    assert.deepEqual(wEvents, [], `W announced nothing; W's log:\n${logText(w)}`);
    assert.notEqual((await first(cl.a.manager.members$)).get('W')?.status, 'Online');
    assert.ok(cl.a.logs.filter((e) => e.code === CODES.AUTH).length >= 2, 'A refused W more than once (W redials)');

    await stillServes(defer, cl);
  });

  it('lets an outside implementation join with handshakeProof, and refuses its auth frame replayed on a new connection', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const sink = await sinkServer();
    defer(() => sink.close());
    const cl = await cluster(defer);
    cl.a.manager.addNode('R', sink.address); // configured; A's own dials to R never get through

    // the outside implementation: a raw client that speaks the handshake by hand
    const rJoined = first(cl.a.manager.nodeJoin$, (peer) => peer === 'R', 3000, 'A to announce R');
    const r = await RawClient.open(cl.a.address, { autoPong: true });
    defer(() => r.destroy());
    const firstHello = hello({ name: 'R' });
    r.send(firstHello);
    const challenge = (await r.next(2000, 'the challenge')) as { type: string; version: number; name: string; nonce: string; proof?: string };
    assert.equal(challenge.type, 'challenge');
    assert.equal(challenge.version, PROTOCOL_VERSION);
    assert.equal(challenge.name, 'A');
    assert.equal(challenge.proof, undefined, 'A shows nothing derived from the secret before R has proved it');
    const transcript: HandshakeTranscript = { dialer: 'R', acceptor: 'A', dialerNonce: String(firstHello.nonce), acceptorNonce: challenge.nonce };
    const auth = { type: 'auth', proof: handshakeProof(SECRET, 'dialer', transcript) };
    r.send(auth);
    const welcome = (await r.next(2000, 'the welcome')) as { type: string; proof: string };
    assert.equal(welcome.type, 'welcome');
    assert.ok(verifyProof(SECRET, 'acceptor', transcript, welcome.proof), "A's proof checks out against the shared secret");
    assert.equal(await rJoined, 'R');

    // and it is a full member: broadcasts both ways
    const fromR = first(cl.a.manager.fromCluster$, () => true, 2000, "A to receive R's msg"); // nobody else sends now
    r.send({ type: 'msg', from: 'B', time: Date.now(), data: { hello: 'from outside' } });
    const packet = await fromR;
    assert.deepEqual(packet.message(), { hello: 'from outside' });
    assert.equal(packet.name, 'R', "a msg is R's whatever its `from` field claims");
    cl.a.manager.toCluster$.next('to everyone');
    const msg = (await r.next(2000, "A's broadcast")) as { type: string; from: string; data: unknown };
    assert.deepEqual([msg.type, msg.from, msg.data], ['msg', 'A', 'to everyone']);

    // a replay: the same hello, then the recorded auth against a fresh challenge
    const replay = await RawClient.open(cl.a.address);
    defer(() => replay.destroy());
    replay.send(firstHello);
    const challenge2 = (await replay.next(2000, 'the second challenge')) as { type: string; nonce: string };
    assert.equal(challenge2.type, 'challenge');
    assert.notEqual(challenge2.nonce, challenge.nonce, 'every connection gets a fresh acceptor nonce');
    const authBefore = cl.a.logs.filter((e) => e.code === CODES.AUTH).length;
    replay.send(auth);
    const closed = await replay.waitClosed(3000);

    assert.equal(closed.code, CLOSE.POLICY_VIOLATION, `close code; A's log:\n${logText(cl.a)}`);
    assert.equal(replay.pending, 0, 'no welcome for the replay');
    const refusals = cl.a.logs.filter((e) => e.code === CODES.AUTH).slice(authBefore);
    assert.equal(refusals.length, 1, `one AUTH entry for the replay; A's log:\n${logText(cl.a)}`);
    assert.equal(refusals[0]?.node, 'R');
    assert.ok(r.isOpen, 'the genuine R connection is untouched');
    await stillServes(defer, cl);
    assert.ok(!cl.events.includes('A-R'), 'R never left');
  });
});

describe('hostile input below the WebSocket layer', () => {
  it('closes a raw TCP connection that sends garbage instead of HTTP, and keeps serving', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer);

    const { reply } = await rawTcp(cl.a.address, Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n', 'latin1'));

    assert.match(reply, /^HTTP\/1\.1 400 /, 'a bad request is answered 400, then closed');
    await stillServes(defer, cl);
  });

  it('answers an upgrade on another path with 404, and keeps serving', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const cl = await cluster(defer);

    assert.equal(await upgradeStatus(cl.a.address, '/not-the-mesh'), 404);
    assert.equal(await upgradeStatus(cl.a.address, '/rxcluster/v1/../v2'), 404);
    await stillServes(defer, cl);
  });
});

describe('hostile input that could crash the process', () => {
  it('refuses a hello whose name is long in UTF-8 bytes without crashing the node process', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const b = await startNode('B');
    defer(() => b.manager.shutdown());
    const bEvents: string[] = [];
    record(b, bEvents);
    const node = await spawnNode('A', { peers: { B: b.address } });
    defer(() => node.stop());
    const joined = first(b.manager.nodeJoin$, (peer) => peer === 'A', 5000, 'B to announce A');
    b.manager.addNode('A', node.address);
    await joined;

    // 100 two-byte characters: a valid NodeName (100 characters) but 200 bytes in a close reason
    const raw = await RawClient.open(node.address);
    defer(() => raw.destroy());
    raw.send(hello({ name: 'é'.repeat(100) }));
    const closed = await raw.waitClosed(3000);
    await sleep(500); // a crash surfaces after the close: prove none comes

    const exit = node.hasExited() ? await node.exited : undefined;
    assert.equal(exit, undefined, `the node process died (${JSON.stringify(exit)}) on a refused hello`);
    assert.equal(closed.code, CLOSE.POLICY_VIOLATION, `close code; reason "${closed.reason}"`);
    await childLine(node, (line) => line.type === 'log' && line.code === CODES.PEER_REFUSED, 1000, 'the node to log RXC_ERR_PEER_REFUSED');
    const next = await RawClient.open(node.address);
    defer(() => next.destroy());
    next.send('still there?');
    assert.equal((await next.waitClosed(3000)).code, CLOSE.PROTOCOL_ERROR, 'the node still handles new connections');
    assert.deepEqual(bEvents, ['B+A'], 'B never saw A leave');
  });
});
