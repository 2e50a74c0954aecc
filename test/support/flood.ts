/**
 * A pre-authentication flood against one address, run as a child process at
 * the lowest priority so its own work does not count against the victim's
 * event loop:
 *
 *   node --import tsx test/support/flood.ts <host:port> <rawSockets> <bigClients> <frameBytes>
 *
 * Opens `rawSockets` TCP connections that never send a byte, and
 * `bigClients` WebSocket clients on the mesh path that each send one text
 * frame of `frameBytes` before any handshake, interleaved. A big client cut
 * before its upgrade (the victim's maxPendingHandshakes) tries again after
 * 250-750 ms, as a determined attacker would, until its frame went out or 30 s
 * have passed. Prints `{"type":"ready"}` once loaded and starts on a `go`
 * line on stdin; prints one JSON line when every client has been started,
 * then one with the tallies once all have settled (or after 45 s); stays
 * until killed. 127.0.0.1 only.
 *
 * Tallies: `rawClosed` and `rawLongestMs` (the longest a raw socket lived);
 * per big client, `bigClosedCodes` (close codes of the clients whose upgrade
 * went through and who sent their frame) and `bigGaveUp`; per attempt cut
 * before its upgrade, `cutCodes`.
 */
import { connect, type Socket } from 'node:net';
import { setPriority } from 'node:os';
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
// a Buffer sent as text: no conversion per client; a zero masking key: no masking pass over it
const frame = Buffer.alloc(Number(bytesArg), 'x');
const TEXT = { binary: false } as const;
const zeroMask = (mask: Buffer): void => void mask.fill(0);
/** Ms a big client keeps trying to get its frame through. */
const PERSIST_MS = 30_000;

// an attacker's CPU is not its victim's: on the machine the test shares with its victim the
// flood yields the CPU (nice 19), so that what is measured is what the victim does, not what
// the flood costs (its loopback sends alone, 300 MiB, cost about as much CPU as the victim)
setPriority(19);

const sockets: Socket[] = [];
const tally = { rawClosed: 0, rawLongestMs: 0, bigOpened: 0, bigClosedCodes: {} as Record<string, number>, bigGaveUp: 0, cutCodes: {} as Record<string, number> };
const settled: Promise<void>[] = [];
const count = (codes: Record<string, number>, code: number): void => {
  codes[code] = (codes[code] ?? 0) + 1;
};

function raw(): void {
  const socket = connect(port, host);
  const start = performance.now();
  socket.on('error', () => undefined);
  sockets.push(socket);
  settled.push(new Promise((resolve) => socket.once('close', () => {
    tally.rawClosed++;
    tally.rawLongestMs = Math.max(tally.rawLongestMs, Math.round(performance.now() - start));
    resolve();
  })));
}

function big(): void {
  const until = performance.now() + PERSIST_MS;
  settled.push(new Promise((resolve) => {
    const attempt = (): void => {
      const ws = new WebSocket(`ws://${address}${MESH_PATH}`, WS_SUBPROTOCOL, { perMessageDeflate: false, generateMask: zeroMask });
      let opened = false;
      ws.on('error', () => undefined);
      ws.on('open', () => {
        opened = true;
        tally.bigOpened++;
        ws.send(frame, TEXT);
      });
      ws.once('close', (code: number) => {
        if (opened) {
          count(tally.bigClosedCodes, code);
          resolve();
        } else if (performance.now() > until) {
          count(tally.cutCodes, code);
          tally.bigGaveUp++;
          resolve();
        } else {
          count(tally.cutCodes, code);
          setTimeout(attempt, 250 + Math.random() * 500);
        }
      });
    };
    attempt();
  }));
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
await Promise.race([Promise.all(settled), new Promise((resolve) => setTimeout(resolve, 45_000).unref())]);
process.stdout.write(`${JSON.stringify({ type: 'settled', ...tally })}\n`);
setInterval(() => undefined, 60_000);
