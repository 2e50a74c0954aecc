/**
 * Bench child, the baseline: a bare ws WebSocketServer / WebSocket pair
 * (perMessageDeflate off, maxPayload 1 MiB like rxcluster's default) carrying
 * byte-identical frames built with rxcluster's own encodeMsg. The receiver
 * JSON.parses each frame; the sender paces on ws.bufferedAmount.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { DEFAULT_MAX_PAYLOAD } from '../../src/limits.js';
import { encodeMsg } from '../../src/protocol/frames.js';
import { MESH_PATH } from '../../src/transport/ws/server.js';
import { driver, num, serve, str, waitUntil, type Wire } from './common.js';

let name = '';
let server: WebSocketServer | undefined;
let socket: WebSocket | undefined;
const problems: string[] = [];

function open(): WebSocket {
  if (socket === undefined || socket.readyState !== WebSocket.OPEN) throw new Error('no open socket');
  return socket;
}

/**
 * The baseline broadcasts Buffer.from(frame) as a text frame, exactly as
 * rxcluster's toCluster$ does, so the ratio compares like with like;
 * BENCH_WS_SEND=string makes it hand ws the string instead.
 */
const sendBuffer = process.env['BENCH_WS_SEND'] !== 'string';

/**
 * BENCH_WS_CORK=on: the baseline's broadcasts of one turn go out in one
 * write, as rxcluster's do (it corks the socket from the second frame sent
 * with nothing heard from the peer in between, until the turn's end or
 * 64 KiB; a broadcast hears nothing, so here every frame is corked): the
 * like-for-like figure for rxcluster's write coalescing.
 */
const cork = process.env['BENCH_WS_CORK'] === 'on';

/** Corks `ws`'s socket until the end of this turn (once per turn), flushing every 64 KiB. */
function corked(ws: WebSocket): void {
  const raw = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  if (raw === undefined) return;
  if (corkedBytes < 0) {
    raw.cork();
    corkedBytes = 0;
    process.nextTick(() => {
      corkedBytes = -1;
      raw.uncork();
    });
  } else if (corkedBytes > 64 * 1024) {
    raw.uncork();
    raw.cork();
    corkedBytes = 0;
  }
}
/** Bytes written since the socket was corked in this turn; -1 while not corked. */
let corkedBytes = -1;

const wire = (): Wire => {
  const ws = open();
  const send = (frame: Buffer): void => {
    if (cork) {
      corked(ws);
      corkedBytes += frame.length;
    }
    ws.send(frame, { binary: false });
  };
  return {
    broadcast: sendBuffer
      ? (data) => send(Buffer.from(encodeMsg(name, Date.now(), data)))
      : (data) => ws.send(encodeMsg(name, Date.now(), data)),
    sendTo: (_peer, data) => ws.send(encodeMsg(name, Date.now(), data)),
    bufferedAmount: () => ws.bufferedAmount,
  };
};
const { deliver, handlers } = driver(wire);

/**
 * Calibration knobs, off by default: extra work for the baseline after each
 * message it receives, to price what rxcluster does on top of it.
 * BENCH_WS_GARBAGE=n allocates n short-lived objects of six fields (about
 * 40 bytes each); BENCH_WS_CODE=n runs n distinct small functions (a few
 * arithmetic steps each, made once at start), so the code a message runs
 * grows while its instructions barely do. See bench/README.md.
 */
const CALIBRATION = ((): ((text: string) => void) | undefined => {
  const garbage = Number(process.env['BENCH_WS_GARBAGE'] ?? 0);
  const functions = Array.from({ length: Number(process.env['BENCH_WS_CODE'] ?? 0) }, (_, k) =>
    // each its own code: distinct constants, so V8 compiles one function per k
    new Function('v', `let a = v + ${k}; for (let j = 0; j < 4; j++) { a = (a * ${k + 3} + j) | 0; if (a === ${k * 7 + 1}) a ^= ${k}; } return a + ${k % 5};`) as (v: number) => number,
  );
  if (garbage === 0 && functions.length === 0) return undefined;
  let kept: unknown;
  return (text) => {
    for (let i = 0; i < garbage; i++) kept = { a: i, b: null, c: text, d: i + 1, e: null, f: undefined };
    let x = text.length;
    for (const f of functions) x = f(x);
    if (x === 0.5) kept = x; // never: keeps the results live
    void kept;
  };
})();

function attach(ws: WebSocket): void {
  socket = ws;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    const frame = JSON.parse(text) as { type?: unknown; data?: unknown };
    if (frame.type === 'msg') deliver(frame.data);
    if (CALIBRATION !== undefined) CALIBRATION(text);
  });
  ws.on('error', (error) => problems.push(`socket error: ${error.message}`));
  ws.on('close', (code) => problems.push(`socket closed (${code})`));
}

serve({
  ...handlers,
  async listen(args) {
    name = str(args, 'name');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: DEFAULT_MAX_PAYLOAD });
    server = wss;
    wss.on('connection', (ws) => attach(ws));
    await once(wss, 'listening');
    const { address, port } = wss.address() as AddressInfo;
    return `${address}:${port}`;
  },
  async connect(args) {
    // ws's default: a random masking key per frame; BENCH_WS_MASK=zero sends a zero key, as rxcluster's dialing side does by default
    const zeroKey = process.env['BENCH_WS_MASK'] === 'zero' ? { generateMask: (mask: Buffer) => void mask.fill(0, 0, 4) } : {};
    const ws = new WebSocket(`ws://${str(args, 'addr')}${MESH_PATH}`, { perMessageDeflate: false, maxPayload: DEFAULT_MAX_PAYLOAD, ...zeroKey });
    const timeoutMs = num(args, 'timeoutMs');
    await Promise.race([
      once(ws, 'open'),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    attach(ws);
    return true;
  },
  async waitConnected(args) {
    await waitUntil(() => socket?.readyState === WebSocket.OPEN, num(args, 'timeoutMs'), 'a connection');
    return true;
  },
  status() {
    return { problems };
  },
  async shutdown() {
    socket?.close(1000);
    server?.close();
    return true;
  },
});
