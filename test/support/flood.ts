/**
 * A pre-authentication flood against one address, run as a child process so
 * its own work does not count against the victim's event loop:
 *
 *   node --import tsx test/support/flood.ts <host:port> <rawSockets> <bigClients> <frameBytes>
 *
 * Opens `rawSockets` TCP connections that never send a byte, and
 * `bigClients` WebSocket clients on the mesh path that each send one text
 * frame of `frameBytes` before any handshake, interleaved. Prints
 * `{"type":"ready"}` once loaded and starts on a `go` line on stdin; prints
 * one JSON line when every attempt has been started, then one with the tallies once
 * all have settled (or after 20 s); stays until killed. 127.0.0.1 only.
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { WS_SUBPROTOCOL } from '../../src/limits.js';
import { MESH_PATH } from '../../src/transport/ws/server.js';

const [address = '', rawArg = '0', bigArg = '0', bytesArg = '0'] = process.argv.slice(2);
const at = address.lastIndexOf(':');
const host = address.slice(0, at);
const port = Number(address.slice(at + 1));
if (host !== '127.0.0.1') throw new Error('flood: 127.0.0.1 only');
const rawCount = Number(rawArg);
const bigCount = Number(bigArg);
const frame = 'x'.repeat(Number(bytesArg));

const sockets: Socket[] = [];
const tally = { rawClosed: 0, bigOpened: 0, bigClosedCodes: {} as Record<string, number> };
const settled: Promise<void>[] = [];

function raw(): void {
  const socket = connect(port, host);
  socket.on('error', () => undefined);
  sockets.push(socket);
  settled.push(new Promise((resolve) => socket.once('close', () => {
    tally.rawClosed++;
    resolve();
  })));
}

function big(): void {
  const ws = new WebSocket(`ws://${address}${MESH_PATH}`, WS_SUBPROTOCOL, { perMessageDeflate: false });
  ws.on('error', () => undefined);
  ws.on('open', () => {
    tally.bigOpened++;
    ws.send(frame);
  });
  settled.push(new Promise((resolve) => ws.once('close', (code: number) => {
    tally.bigClosedCodes[code] = (tally.bigClosedCodes[code] ?? 0) + 1;
    resolve();
  })));
}

process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
await new Promise<void>((resolve) => {
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    if (chunk.includes('go')) resolve();
  });
});

// interleaved: one big client after every few raw sockets, in small batches so the loop breathes
const total = rawCount + bigCount;
let raws = 0;
let bigs = 0;
for (let i = 0; i < total; i++) {
  if (bigs < bigCount && (raws >= rawCount || i % Math.ceil(total / Math.max(1, bigCount)) === 0)) {
    big();
    bigs++;
  } else {
    raw();
    raws++;
  }
  if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
}
process.stdout.write(`${JSON.stringify({ type: 'started', raw: raws, big: bigs })}\n`);
await Promise.race([Promise.all(settled), new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
process.stdout.write(`${JSON.stringify({ type: 'settled', ...tally })}\n`);
setInterval(() => undefined, 60_000);
