/**
 * Request/reply and bytes, against baselines run in this same process:
 *
 * - round trip: `request$` (one request, one reply) against a `toNode$`
 *   ping-pong (a message there, a message back) between the same two managers
 *   on 127.0.0.1; p50 and p99 over BENCH_ROUNDS rounds, after BENCH_WARMUP
 *   unmeasured rounds of both. Target: request$ p50 at most 1.3x the
 *   ping-pong's.
 * - 64 KiB binary broadcast: one rxcluster manager sending BENCH_BLOBS binary
 *   messages of 64 KiB to one peer, against bare ws sending the same bytes
 *   over one socket with ws's defaults (a random masking key per frame from
 *   the client); delivered MB/s. Target: at least 0.9x bare ws. rxcluster's
 *   dialing side sends a zero key (WsTransportOptions.randomMask), so a
 *   second baseline, bare ws with a zero key too, is printed beside it.
 *
 * Both sides run in one process (one CPU), so the ratios compare like with
 * like; absolute figures depend on the machine. Run: `npm run bench:messaging`.
 */
import { count, firstValueFrom, filter, take, tap } from 'rxjs';
import { WebSocketServer, WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { Manager } from '../src/index.js';
import { FAST_SETTINGS } from '../src/settings.js';

const SECRET = 'bench-secret-of-at-least-32-bytes!!';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 2000);
const BLOBS = Number(process.env['BENCH_BLOBS'] ?? 2000);
const BLOB = Buffer.alloc(64 * 1024, 7);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function pair(): Promise<[Manager, Manager]> {
  const options = { settings: FAST_SETTINGS, api: { enabled: false }, sendBufferBytes: 512 * 1024 * 1024 };
  const a = new Manager('a', SECRET, options);
  const b = new Manager('b', SECRET, options);
  const [aa, ba] = await Promise.all([a.listen('127.0.0.1:0'), b.listen('127.0.0.1:0')]);
  const joined = Promise.all([firstValueFrom(a.nodeJoin$), firstValueFrom(b.nodeJoin$)]);
  a.addNode('b', ba);
  b.addNode('a', aa);
  await joined;
  return [a, b];
}

async function roundTrips(a: Manager, b: Manager): Promise<{ pingPong: number[]; request: number[] }> {
  b.fromCluster$.subscribe((p) => b.toNode$.next({ node: 'a', message: p.message() }));
  b.requests$.subscribe((req) => req.reply(req.message()));
  const pingPong: number[] = [];
  const request: number[] = [];
  // warm-up rounds of both, not measured: the JIT compiles each path before either is timed
  for (let i = 0; i < WARMUP; i++) {
    const back = firstValueFrom(a.fromCluster$);
    a.toNode$.next({ node: 'b', message: i });
    await back;
    await firstValueFrom(a.request$('b', i));
  }
  for (let i = 0; i < ROUNDS; i++) {
    // interleaved, so both see the same machine state
    let t = performance.now();
    const back = firstValueFrom(a.fromCluster$);
    a.toNode$.next({ node: 'b', message: i });
    await back;
    pingPong.push(performance.now() - t);
    t = performance.now();
    await firstValueFrom(a.request$('b', i));
    request.push(performance.now() - t);
  }
  return { pingPong, request };
}

async function rxBlobs(a: Manager, b: Manager): Promise<number> {
  // like the baseline's receiver: each blob's length is checked and the blob dropped (none is kept)
  let cut = 0;
  const all = firstValueFrom(
    b.fromCluster$.pipe(
      filter((p) => p.binary),
      tap((p) => {
        if (p.bytes().length !== BLOB.length) cut++;
      }),
      take(BLOBS),
      count(),
    ),
  );
  const t = performance.now();
  for (let i = 0; i < BLOBS; i++) {
    // the baseline's producer, exactly: past 8 MiB unsent, let the event loop write
    if (a.bufferedAmount > 8 * 1024 * 1024) await new Promise<void>((resolve) => setImmediate(resolve));
    a.toCluster$.next(BLOB);
  }
  const got = await all;
  const ms = performance.now() - t;
  if (cut > 0 || got !== BLOBS) throw new Error(`${cut} blobs arrived cut, ${got} of ${BLOBS} counted`);
  return (BLOBS * BLOB.length) / 1e6 / (ms / 1000);
}

async function wsBlobs(zeroKey = false): Promise<number> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const received = new Promise<void>((resolve) => {
    server.on('connection', (ws) => {
      let n = 0;
      ws.on('message', (data: Buffer) => {
        if (data.length !== BLOB.length) throw new Error('a blob arrived cut');
        if (++n === BLOBS) resolve();
      });
    });
  });
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, ...(zeroKey ? { generateMask: (mask: Buffer) => void mask.fill(0, 0, 4) } : {}) });
  await new Promise<void>((resolve) => client.once('open', resolve));
  const t = performance.now();
  for (let i = 0; i < BLOBS; i++) {
    if (client.bufferedAmount > 8 * 1024 * 1024) await new Promise<void>((resolve) => setImmediate(resolve));
    client.send(BLOB, { binary: true });
  }
  await received;
  const ms = performance.now() - t;
  client.close();
  server.close();
  return (BLOBS * BLOB.length) / 1e6 / (ms / 1000);
}

const watchdog = setTimeout(() => {
  console.error('bench:messaging took over 5 minutes; stopped');
  process.exit(1);
}, 300_000);

const [a, b] = await pair();
const { pingPong, request } = await roundTrips(a, b);
const rx: number[] = [];
const ws: number[] = [];
const wsZero: number[] = [];
for (let run = 0; run < 3; run++) {
  ws.push(await wsBlobs());
  wsZero.push(await wsBlobs(true));
  rx.push(await rxBlobs(a, b));
}
await Promise.all([a.shutdown(), b.shutdown()]);
clearTimeout(watchdog);

const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
const median = (v: number[]): number => quantile(v, 0.5);
const ratio = median(request) / median(pingPong);
const blobRatio = median(rx) / median(ws);
const zeroRatio = median(rx) / median(wsZero);
console.log(`round trip over ${ROUNDS} rounds (two managers, one process, 127.0.0.1)`);
console.log(`  toNode$ ping-pong  p50 ${us(median(pingPong))}  p99 ${us(quantile(pingPong, 0.99))}`);
console.log(`  request$           p50 ${us(median(request))}  p99 ${us(quantile(request, 0.99))}`);
console.log(`  request$ / ping-pong p50: ${ratio.toFixed(2)}x (target <= 1.3x) ${ratio <= 1.3 ? 'ok' : 'MISSED'}`);
console.log(`64 KiB binary broadcast, ${BLOBS} messages x 3 runs (MB/s, median)`);
console.log(`  bare ws   ${median(ws).toFixed(0)}  [${ws.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`  bare ws, zero masking key  ${median(wsZero).toFixed(0)}  [${wsZero.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`  rxcluster ${median(rx).toFixed(0)}  [${rx.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`  rxcluster / bare ws: ${blobRatio.toFixed(2)}x (target >= 0.9x) ${blobRatio >= 0.9 ? 'ok' : 'MISSED'}`);
console.log(`  rxcluster / bare ws with a zero key too: ${zeroRatio.toFixed(2)}x (information: the same framing on both)`);
