/**
 * Write coalescing in the ws transport, over a real ws pair on 127.0.0.1:
 * frames sent to a peer one after another with nothing heard from it in
 * between reach the socket in one write (one system call) at the end of the
 * turn, at most CORK_LIMIT bytes at a time; a frame sent after hearing from
 * the peer (a reply, a ping-pong's next round) is written at once. Writes
 * are counted where the socket under ws hands them to the kernel (`_write`
 * / `_writev` of the net.Socket), and the other end checks every frame
 * arrived once and in order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { WsConnection } from '../src/transport/ws/connection.js';
import { scope } from './support/scope.js';

interface Pair {
  readonly conn: WsConnection;
  /** Frames the other end sent back, as this connection's events$ told them. */
  readonly heard: readonly string[];
  /** Writes the sending socket handed to the kernel so far. */
  writes(): number;
  /** Resolves with the first `n` text frames the other end received. */
  received(n: number): Promise<string[]>;
}

/** A client ws (wrapped as a WsConnection, sealed: no MACs here) dialed to a ws server that records what it receives. */
async function pair(t: Parameters<typeof scope>[0], echo = false): Promise<Pair> {
  const defer = scope(t);
  const server = await new Promise<WebSocketServer>((resolve) => {
    const s: WebSocketServer = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, () => resolve(s));
  });
  defer(() => new Promise<void>((resolve) => {
    for (const c of server.clients) c.terminate();
    server.close(() => resolve());
  }));
  const frames: string[] = [];
  const waiting: { n: number; resolve: (f: string[]) => void }[] = [];
  server.on('connection', (ws) =>
    ws.on('message', (data) => {
      frames.push(String(data));
      if (echo) ws.send(`echo ${String(data)}`);
      for (const w of waiting.splice(0)) {
        if (frames.length >= w.n) w.resolve(frames.slice(0, w.n));
        else waiting.push(w);
      }
    }),
  );
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false });
  defer(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const conn = new WsConnection(1, 'outbound', 'test', ws, { maxPayload: 1 << 20, sealed: true });
  conn.authenticated();
  // what the peer sends, as the session reads it
  const heard: string[] = [];
  const reading = conn.events$.subscribe((event) => {
    if (event.type === 'message') heard.push(String(event.data));
  });
  defer(() => reading.unsubscribe());
  // count what the socket under ws hands to the kernel
  const socket = (ws as unknown as { _socket: { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown } })._socket;
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  }
  return {
    conn,
    heard,
    writes: () => writes,
    received: (n) =>
      frames.length >= n
        ? Promise.resolve(frames.slice(0, n))
        : new Promise((resolve, reject) => {
            waiting.push({ n, resolve });
            setTimeout(() => reject(new Error(`only ${frames.length} of ${n} frames arrived in 5 s`)), 5000).unref();
          }),
  };
}

const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** Waits (at most 5 s) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('write coalescing on a ws connection', () => {
  it('sends a burst of frames in one turn as one write at the end of the turn, every frame arriving once and in order', { timeout: 10_000 }, async (t) => {
    const { conn, writes, received } = await pair(t);
    const before = writes();
    const sent = Array.from({ length: 200 }, (_, i) => JSON.stringify({ i, payload: 'x'.repeat(100) }));
    for (const frame of sent) conn.send(frame);
    assert.equal(writes() - before, 1, 'during the turn: the first frame written, the other 199 held');
    await tick();
    assert.equal(writes() - before, 2, 'at the end of the turn: the other 199 in a single write');
    assert.deepEqual(await received(200), sent);
  });

  it('writes a frame sent after hearing from the peer at once, and a lone frame by the end of its turn', { timeout: 10_000 }, async (t) => {
    const { conn, writes, received, heard } = await pair(t, true);
    for (let i = 0; i < 3; i++) {
      const before = writes();
      conn.send(`ping ${i}`);
      assert.equal(writes() - before, 1, `round ${i}: handed to the kernel in the call that sent it`);
      await until(() => heard.length === i + 1, `the echo of ping ${i}`);
    }
    // nothing heard since the last send: the next frame waits for the end of its turn, no longer
    const before = writes();
    conn.send('unanswered');
    await tick();
    assert.equal(writes() - before, 1, 'written by the end of the turn it was sent in');
    assert.deepEqual(await received(4), ['ping 0', 'ping 1', 'ping 2', 'unanswered']);
  });

  it('lets a long burst out every 64 KiB instead of holding the whole turn', { timeout: 10_000 }, async (t) => {
    const { conn, writes, received } = await pair(t);
    const before = writes();
    const frame = 'y'.repeat(4096);
    // 64 frames of 4 KiB: 256 KiB in one turn, about four times CORK_LIMIT
    for (let i = 0; i < 64; i++) conn.send(`${String(i).padStart(4, '0')}${frame}`);
    const inTurn = writes() - before;
    assert.ok(inTurn >= 4 && inTurn <= 6, `written during the turn: the first frame, then one write per 64 KiB (not 64, not 1): ${inTurn}`);
    await tick();
    const all = await received(64);
    assert.deepEqual(all.map((f) => Number(f.slice(0, 4))), Array.from({ length: 64 }, (_, i) => i));
  });
});
