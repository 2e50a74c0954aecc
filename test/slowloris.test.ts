/**
 * Slowloris against one manager: hundreds of connections that open and then
 * say nothing, at the WebSocket level (upgrade done, no hello) and at the
 * HTTP level (a request that never ends), and a request with a huge header.
 * A real peer must still join and exchange broadcasts meanwhile; the idle
 * sockets must be closed by the manager's own deadlines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { CLOSE, CODES } from '../src/limits.js';
import { fastOptions, first, joinedAll, logText, sleep, startNode, type Node, membersNow } from './support/cluster.js';
import { RawClient, within, type CloseInfo } from './support/raw.js';
import { scope, type Release } from './support/scope.js';

type Defer = (release: Release) => void;

/** The headersTimeout src/transport/server.ts sets on its HTTP server. */
const HEADERS_TIMEOUT = 10_000;

/** A and its real peer B, joined; every membership event recorded as "A+B" / "A-B". */
async function pair(defer: Defer, connectTimeout?: number, maxPendingHandshakes?: number): Promise<{ a: Node; b: Node; events: string[] }> {
  const a = await startNode('A', fastOptions({ ...(connectTimeout === undefined ? {} : { settings: { connectTimeout } }), ...(maxPendingHandshakes === undefined ? {} : { maxPendingHandshakes }) }));
  defer(() => a.manager.shutdown());
  const b = await startNode('B');
  defer(() => b.manager.shutdown());
  const events: string[] = [];
  for (const node of [a, b]) {
    node.manager.nodeJoin$.subscribe((peer) => events.push(`${node.manager.name}+${peer}`));
    node.manager.nodeLeave$.subscribe((peer) => events.push(`${node.manager.name}-${peer}`));
  }
  a.manager.addNode('B', b.address);
  b.manager.addNode('A', a.address);
  await joinedAll([a, b]);
  return { a, b, events };
}

/**
 * A new real peer C joins A; resolves how long that took (from addNode to
 * both sides Online) after a broadcast went each way between A and C.
 */
async function peerJoins(defer: Defer, a: Node): Promise<number> {
  const c = await startNode('C');
  defer(() => c.manager.shutdown());
  const started = performance.now();
  a.manager.addNode('C', c.address);
  c.manager.addNode('A', a.address);
  await joinedAll([a, c], 10_000);
  const joinMs = performance.now() - started;
  const atC = first(c.manager.fromCluster$, (p) => p.name === 'A', 5000, "C to receive A's broadcast");
  a.manager.toCluster$.next({ to: 'all', from: 'A' });
  assert.deepEqual((await atC).message(), { to: 'all', from: 'A' });
  const atA = first(a.manager.fromCluster$, (p) => p.name === 'C', 5000, "A to receive C's broadcast");
  c.manager.toCluster$.next({ to: 'all', from: 'C' });
  assert.deepEqual((await atA).message(), { to: 'all', from: 'C' });
  return joinMs;
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** A raw TCP socket that sends `text` once connected, then nothing; records what comes back and when it closes. */
interface Lingerer {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  readonly closed: Promise<{ at: number; reply: string }>;
  readonly isClosed: () => boolean;
}

function linger(address: string, text: string): Lingerer {
  const { host, port } = hostPort(address);
  const socket = connect(port, host);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined); // a reset is a close too
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.write(text);
      resolve();
    });
    socket.once('close', () => reject(new Error('closed before it connected')));
  });
  connected.catch(() => undefined);
  let isClosed = false;
  const closed = new Promise<{ at: number; reply: string }>((resolve) => {
    socket.once('close', () => {
      isClosed = true;
      resolve({ at: performance.now(), reply: Buffer.concat(chunks).toString('latin1') });
    });
  });
  return { socket, connected, closed, isClosed: () => isClosed };
}

function count<T>(values: readonly T[]): Map<T, number> {
  const out = new Map<T, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe('slowloris at the WebSocket level', () => {
  it('keeps serving a real peer while 500 upgraded sockets say nothing, then closes all 500 with 4004 after connectTimeout', { timeout: 40_000 }, async (t) => {
    const connectTimeout = 1500;
    const idle = 500;
    const defer = scope(t);
    // room for all 500 to be pending at once (the default, 64, would refuse most at their accept)
    const { a, events } = await pair(defer, connectTimeout, 1000);
    const memoryBefore = process.memoryUsage();
    const socketsBefore = tcpSockets();
    const timeoutsBefore = a.logs.filter((e) => e.code === CODES.HANDSHAKE_TIMEOUT).length;

    // open the 500 (upgrade done, nothing sent), in batches, each with its open and close times
    const clients: { client: RawClient; openedAt: number; closed: Promise<CloseInfo & { at: number }> }[] = [];
    defer(() => {
      for (const { client } of clients) client.destroy();
    });
    const openStart = performance.now();
    for (let i = 0; i < idle; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, idle - i) }, async () => {
          const client = await RawClient.open(a.address, { ms: 10_000 });
          const openedAt = performance.now();
          return { client, openedAt, closed: client.closed.then((info) => ({ ...info, at: performance.now() })) };
        }),
      );
      clients.push(...batch);
    }
    const openMs = performance.now() - openStart;
    const closedSoFar = (): number => clients.filter(({ client }) => !client.isOpen).length;

    // while they are open, a real peer joins and exchanges broadcasts both ways
    const joinMs = await peerJoins(defer, a);
    const stillOpenAtJoin = idle - closedSoFar();
    t.diagnostic(`opened ${idle} idle sockets in ${openMs.toFixed(0)} ms; a real peer then joined in ${joinMs.toFixed(0)} ms with ${stillOpenAtJoin} of them still open`);
    assert.ok(stillOpenAtJoin >= idle * 0.9, `the peer joined while the idle sockets were open (${stillOpenAtJoin} of ${idle} still open)`);
    assert.ok(joinMs < 3000, `the real peer took ${joinMs.toFixed(0)} ms to join`);

    // every idle socket is closed by A with 4004, within connectTimeout + a margin of its opening
    const lastOpen = Math.max(...clients.map((c) => c.openedAt));
    const margin = 2000;
    const closes = await within(Promise.all(clients.map((c) => c.closed)), Math.max(0, lastOpen + connectTimeout + margin - performance.now()) + 500, `all ${idle} idle sockets to be closed`);
    const burstMs = Math.max(...closes.map((c) => c.at)) - openStart;
    const codes = count(closes.map((c) => c.code));
    const lifetimes = clients.map((c, i) => (closes[i]?.at ?? Infinity) - c.openedAt);
    const shortest = Math.min(...lifetimes);
    const longest = Math.max(...lifetimes);
    t.diagnostic(`all ${closes.length} closed ${burstMs.toFixed(0)} ms after the first opened; lifetimes ${shortest.toFixed(0)}-${longest.toFixed(0)} ms (connectTimeout ${connectTimeout} ms); codes ${JSON.stringify([...codes])}`);
    assert.equal(closes.length, idle);
    assert.deepEqual([...codes], [[CLOSE.HANDSHAKE_TIMEOUT, idle]], 'every idle socket closed with 4004');
    assert.ok(shortest >= connectTimeout * 0.9, `one was closed after ${shortest.toFixed(0)} ms, before connectTimeout`);
    assert.ok(longest <= connectTimeout + margin, `one was closed only after ${longest.toFixed(0)} ms`);

    const timeouts = a.logs.filter((e) => e.code === CODES.HANDSHAKE_TIMEOUT).slice(timeoutsBefore);
    t.diagnostic(`A logged ${timeouts.length} ${CODES.HANDSHAKE_TIMEOUT}, e.g. "${String(timeouts[0])}"`);
    assert.ok(timeouts.length >= idle, `A logged ${timeouts.length} handshake timeouts for ${idle} idle sockets`);
    assert.ok(timeouts.every((e) => e.level === 'warn'));

    // the burst of 500 closes disturbed no real peer, and nothing was left behind
    assert.deepEqual(events.filter((e) => e.includes('-')), [], `no real peer left; A's log:\n${logText(a)}`);
    const members = membersNow(a.manager);
    assert.deepEqual([...members.keys()].sort(), ['B', 'C'], 'no idle socket became a member');
    assert.ok([...members.values()].every((m) => m.status === 'Online'));
    assert.deepEqual(a.logs.filter((e) => e.level === 'error').map(String), [], 'A logged no error');
    const deadline = performance.now() + 3000;
    while (tcpSockets() > socketsBefore + 4 && performance.now() < deadline) await sleep(20);
    const socketsAfter = tcpSockets();
    const memoryAfter = process.memoryUsage();
    t.diagnostic(`TCP sockets in this process ${socketsBefore} before, ${socketsAfter} after (+2 for C's link both ways); heapUsed ${mb(memoryBefore.heapUsed)} -> ${mb(memoryAfter.heapUsed)}, rss ${mb(memoryBefore.rss)} -> ${mb(memoryAfter.rss)}`);
    assert.ok(socketsAfter <= socketsBefore + 4, `${socketsAfter - socketsBefore} more TCP sockets than before the 500`);
    assert.ok(memoryAfter.heapUsed - memoryBefore.heapUsed < 100 * 1024 * 1024, 'heap grew by less than 100 MB');
    assert.ok(memoryAfter.rss < 1024 * 1024 * 1024, 'rss under 1 GB');
  });
});

describe('slowloris at the HTTP level', () => {
  /** Half stop inside the request line, half after a header, with no blank line. */
  const partial = (i: number): string => (i % 2 === 0 ? 'GET /rxclus' : 'GET /rxcluster/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');

  it('keeps serving a real peer while 200 TCP connections hold a partial HTTP request', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const { a, events } = await pair(defer);
    const lingerers = Array.from({ length: 200 }, (_, i) => linger(a.address, partial(i)));
    defer(() => {
      for (const l of lingerers) l.socket.destroy();
    });
    await within(Promise.all(lingerers.map((l) => l.connected)), 10_000, 'the 200 TCP connections');

    const joinMs = await peerJoins(defer, a);
    const closedMeanwhile = lingerers.filter((l) => l.isClosed()).length;
    t.diagnostic(`a real peer joined in ${joinMs.toFixed(0)} ms while 200 partial HTTP requests were open (${closedMeanwhile} of them closed meanwhile)`);
    assert.ok(joinMs < 3000, `the real peer took ${joinMs.toFixed(0)} ms to join`);
    assert.deepEqual(events.filter((e) => e.includes('-')), [], `no real peer left; A's log:\n${logText(a)}`);
    assert.deepEqual(a.logs.filter((e) => e.level === 'error').map(String), [], 'A logged no error');
  });

  it(`closes TCP connections holding a partial HTTP request once headersTimeout (${HEADERS_TIMEOUT} ms) has passed, within a 3 s margin`, { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const { a } = await pair(defer);
    const lingerers = Array.from({ length: 200 }, (_, i) => linger(a.address, partial(i)));
    defer(() => {
      for (const l of lingerers) l.socket.destroy();
    });
    await within(Promise.all(lingerers.map((l) => l.connected)), 10_000, 'the 200 TCP connections');
    const openedAt = performance.now();

    const limit = HEADERS_TIMEOUT + 3000;
    const results = await Promise.all(lingerers.map((l) => within(l.closed, limit, 'a close').catch(() => undefined)));
    const closed = results.filter((r): r is { at: number; reply: string } => r !== undefined);
    const replies = count(closed.map((r) => r.reply.split('\r\n')[0] ?? ''));
    const times = closed.map((r) => r.at - openedAt);
    t.diagnostic(
      `${closed.length} of 200 closed within ${limit} ms` +
        (closed.length > 0 ? ` (after ${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)} ms; replies ${JSON.stringify([...replies])})` : ''),
    );
    assert.equal(closed.length, 200, `only ${closed.length} of 200 partial requests were closed within headersTimeout + 3 s (${limit} ms): the server enforces headersTimeout only on its connectionsCheckingInterval (Node's default 30 s)`);
  });

  it('answers a request with a 100 KB header with a 4xx and closes it, leaving the mesh untouched', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const { a, b, events } = await pair(defer);
    const jointime = membersNow(a.manager).get('B')?.jointime?.getTime();
    const big = `X-Big: ${'a'.repeat(100 * 1024)}\r\n`;
    const requests = [
      `GET /api/v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n${big}\r\n`,
      `GET /api/v1/cluster/A HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Many: b\r\n'.repeat(10_000)}\r\n`,
      `GET /rxcluster/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: rxcluster.v1\r\n${big}\r\n`,
    ];
    for (const request of requests) {
      const l = linger(a.address, request);
      defer(() => l.socket.destroy());
      const { reply } = await within(l.closed, 5000, 'the server to answer and close a huge header');
      const status = reply.split('\r\n')[0] ?? '';
      t.diagnostic(`${request.slice(0, request.indexOf(' HTTP'))} with ${request.length} bytes of headers: "${status}", then closed`);
      assert.match(status, /^HTTP\/1\.1 (431|400) /, `a huge header is refused (got "${status.slice(0, 80)}")`);
    }

    assert.deepEqual(events.filter((e) => e.includes('-')), [], 'nobody left');
    assert.equal(membersNow(a.manager).get('B')?.jointime?.getTime(), jointime, 'the link to B was never dropped');
    const atB = first(b.manager.fromCluster$, (p) => p.name === 'A', 3000, "B to receive A's broadcast");
    a.manager.toCluster$.next('after the huge headers');
    assert.equal((await atB).message(), 'after the huge headers');
    assert.deepEqual(a.logs.filter((e) => e.level === 'error').map(String), [], 'A logged no error');
  });
});
