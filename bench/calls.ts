/**
 * JavaScript function calls per ping-pong round, counted, not timed: two
 * Managers in this process over real ws on 127.0.0.1 (frame MACs on, the
 * default), then a bare ws pair carrying the same frames, each running
 * `BENCH_CALLS_ROUNDS` (10 000) round trips after 2 000 warm-up rounds while
 * V8's precise coverage counts every call (`Profiler.startPreciseCoverage`,
 * callCount, function granularity). Prints, per side, the calls per round,
 * the functions run at least once a round, and the sources most called;
 * the last stdout line is one JSON object.
 *
 * Unlike a time, a count does not move with the load on the machine: the
 * same code gives the same figure, so a change to the hot path shows here
 * even when `npm run bench` cannot tell it from noise. With both processes
 * of a pair on one CPU, each wake-up finds caches the other process used,
 * and the code a message runs weighs more than its instructions (see
 * bench/README.md, "Calibration knobs").
 */
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { Manager } from '../src/index.js';
import { encodeMsg } from '../src/protocol/frames.js';

const ROUNDS = Number(process.env['BENCH_CALLS_ROUNDS'] ?? 10_000);
const WARMUP = 2_000;
const TIMEOUT_MS = 120_000;

interface Coverage {
  readonly url: string;
  readonly functions: readonly { readonly functionName: string; readonly ranges: readonly { readonly startOffset: number; readonly count: number }[] }[];
}

/** A ping-pong: `send(i)` starts round i; `onReply` is called with each reply. */
interface Pair {
  send(i: number): void;
  onReply(handler: () => void): void;
  close(): Promise<void>;
}

async function rxPair(): Promise<Pair> {
  const a = new Manager('A', 'rxcluster-bench-secret');
  const b = new Manager('B', 'rxcluster-bench-secret');
  const addrA = await a.listen('127.0.0.1:0');
  const addrB = await b.listen('127.0.0.1:0');
  const joined = new Promise<void>((resolve) => a.nodeJoin$.subscribe(() => resolve()));
  a.addNode('B', addrB);
  b.addNode('A', addrA);
  await withTimeout(joined, 'A and B to join');
  b.fromCluster$.subscribe((packet) => b.toNode$.next({ node: 'A', message: packet.message() }));
  let handler = (): void => undefined;
  a.fromCluster$.subscribe((packet) => {
    packet.message();
    handler();
  });
  return {
    send: (i) => a.toNode$.next({ node: 'B', message: { i } }),
    onReply: (h) => (handler = h),
    close: async () => {
      await a.shutdown();
      await b.shutdown();
    },
  };
}

async function wsPair(): Promise<Pair> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await withTimeout(new Promise((resolve) => server.once('listening', resolve)), 'the ws server to listen');
  const text = (data: RawData): string => (Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
  server.on('connection', (socket) =>
    socket.on('message', (data) => {
      const frame = JSON.parse(text(data)) as { data: unknown };
      socket.send(Buffer.from(encodeMsg('B', Date.now(), frame.data)), { binary: false });
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await withTimeout(new Promise((resolve) => client.once('open', resolve)), 'the ws client to open');
  let handler = (): void => undefined;
  client.on('message', (data) => {
    JSON.parse(text(data));
    handler();
  });
  return {
    send: (i) => client.send(Buffer.from(encodeMsg('A', Date.now(), { i })), { binary: false }),
    onReply: (h) => (handler = h),
    close: async () => {
      client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS)))]).finally(() => clearTimeout(timer));
}

/** `n` sequential round trips. */
function rounds(pair: Pair, n: number): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      let i = 0;
      pair.onReply(() => {
        if (++i < n) pair.send(i);
        else resolve();
      });
      pair.send(0);
    }),
    `${n} round trips`,
  );
}

/** Where a function lives, shortly: a package, a Node module, or a file of this repository. */
function source(url: string): string {
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (inPackage !== null) return inPackage[1] as string;
  if (url.startsWith('node:')) return url;
  const inRepo = /\/(src|bench)\/(.*)$/.exec(url);
  return inRepo === null ? url || '(native)' : `${inRepo[1]}/${inRepo[2]}`;
}

async function count(kind: 'rx' | 'ws', session: Session): Promise<{ callsPerRound: number; functionsPerRound: number; bySource: Record<string, number> }> {
  const pair = kind === 'rx' ? await rxPair() : await wsPair();
  try {
    await rounds(pair, WARMUP);
    await session.post('Profiler.takePreciseCoverage'); // resets the counts
    await rounds(pair, ROUNDS);
    const { result } = (await session.post('Profiler.takePreciseCoverage')) as unknown as { result: Coverage[] };
    let calls = 0;
    let everyRound = 0;
    const bySource = new Map<string, number>();
    for (const script of result) {
      const from = source(script.url);
      for (const fn of script.functions) {
        const n = fn.ranges[0]?.count ?? 0;
        if (n === 0) continue;
        calls += n;
        // (the measurement's own calls, a few per window, never reach a count per round)
        if (n >= ROUNDS) everyRound++;
        bySource.set(from, (bySource.get(from) ?? 0) + n);
      }
    }
    const top = [...bySource].sort((x, y) => y[1] - x[1]).slice(0, 12);
    return { callsPerRound: calls / ROUNDS, functionsPerRound: everyRound, bySource: Object.fromEntries(top.map(([k, v]) => [k, Math.round((v / ROUNDS) * 10) / 10])) };
  } finally {
    await pair.close();
  }
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
const rx = await count('rx', session);
const ws = await count('ws', session);
await session.post('Profiler.stopPreciseCoverage');
session.disconnect();
const line = (name: string, r: typeof rx): string =>
  `${name}: ${r.callsPerRound.toFixed(1)} calls per round, ${r.functionsPerRound} functions run every round; most called: ${Object.entries(r.bySource)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`;
console.error(line('rxcluster', rx));
console.error(line('bare ws  ', ws));
console.error(`ratio rxcluster / bare ws: ${(rx.callsPerRound / ws.callsPerRound).toFixed(2)} in calls, ${(rx.functionsPerRound / ws.functionsPerRound).toFixed(2)} in functions`);
console.log(JSON.stringify({ bench: 'calls', rounds: ROUNDS, rx, ws, ratio: rx.callsPerRound / ws.callsPerRound }));
process.exit(0);
