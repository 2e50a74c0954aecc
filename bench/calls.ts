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
 * Then a mesh forming (`formation`): BENCH_CALLS_MESH (16) managers on the
 * in-memory network in virtual time, configured one after another, counted
 * from the first configuration to the last join, per pair of nodes.
 *
 * Unlike a time, a count does not move with the load on the machine: the
 * same code gives the same figure, so a change to the hot path shows here
 * even when `npm run bench` cannot tell it from noise (the formation count
 * is exact: virtual time and a seeded jitter). With both processes
 * of a pair on one CPU, each wake-up finds caches the other process used,
 * and the code a message runs weighs more than its instructions (see
 * bench/README.md, "Calibration knobs").
 */
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { VirtualTimeScheduler } from 'rxjs';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { Manager } from '../src/index.js';
import { MemoryNetwork } from '../src/testing.js';
import { encodeMsg } from '../src/protocol/frames.js';

const ROUNDS = Number(process.env['BENCH_CALLS_ROUNDS'] ?? 10_000);
const WARMUP = 2_000;
/** `BENCH_CALLS_TOP=n` also lists the n most called functions of each count. */
const TOP = Number(process.env['BENCH_CALLS_TOP'] ?? 0);
/** The mesh that forms in memory: this many managers, configured this many ms apart, on a network of this latency (ms). */
const MESH = Number(process.env['BENCH_CALLS_MESH'] ?? 16);
const MESH_GAP = 20;
const MESH_LATENCY = 5;
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

/** Calls counted since the last reset: in all, per source, and how many functions ran at least `every` times. */
interface Tally {
  readonly calls: number;
  readonly functions: number;
  readonly bySource: ReadonlyMap<string, number>;
}

/**
 * Takes the counts since the last take (which resets them) and sums them.
 * With BENCH_CALLS_TOP=n, also lists the n most called functions, per `per`.
 */
async function tally(session: Session, label: string, every: number, per: number, skip?: RegExp): Promise<Tally> {
  const { result } = (await session.post('Profiler.takePreciseCoverage')) as unknown as { result: Coverage[] };
  let calls = 0;
  let functions = 0;
  const bySource = new Map<string, number>();
  const byFunction: [string, number][] = [];
  for (const script of result) {
    if (skip?.test(script.url) === true) continue;
    const from = source(script.url);
    for (const fn of script.functions) {
      const n = fn.ranges[0]?.count ?? 0;
      if (n === 0) continue;
      calls += n;
      if (TOP > 0) byFunction.push([`${from} ${fn.functionName || '(anonymous)'}@${fn.ranges[0]?.startOffset ?? 0}`, n]);
      // (the measurement's own calls, a few per window, never reach `every`)
      if (n >= every) functions++;
      bySource.set(from, (bySource.get(from) ?? 0) + n);
    }
  }
  if (TOP > 0) {
    console.error(`${label}: the ${TOP} most called functions`);
    for (const [name, n] of byFunction.sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.error(`  ${(n / per).toFixed(1).padStart(7)} ${name}`);
  }
  return { calls, functions, bySource };
}

/** The `n` sources most called, per `per`, one decimal. */
function topSources(bySource: ReadonlyMap<string, number>, per: number, n = 12): Record<string, number> {
  const top = [...bySource].sort((x, y) => y[1] - x[1]).slice(0, n);
  return Object.fromEntries(top.map(([k, v]) => [k, Math.round((v / per) * 10) / 10]));
}

async function count(kind: 'rx' | 'ws', session: Session): Promise<{ callsPerRound: number; functionsPerRound: number; bySource: Record<string, number> }> {
  const pair = kind === 'rx' ? await rxPair() : await wsPair();
  try {
    await rounds(pair, WARMUP);
    await session.post('Profiler.takePreciseCoverage'); // resets the counts
    await rounds(pair, ROUNDS);
    const t = await tally(session, `${kind} (calls per round)`, ROUNDS, ROUNDS);
    return { callsPerRound: t.calls / ROUNDS, functionsPerRound: t.functions, bySource: topSources(t.bySource, ROUNDS) };
  } finally {
    await pair.close();
  }
}

/**
 * A mesh forming, counted: `MESH` managers on the in-memory network in
 * virtual time (latency MESH_LATENCY ms, joinDelay 100, a seeded jitter),
 * configured one after another MESH_GAP ms apart as a rolling start does
 * (each earlier node dials the later ones and is refused, then redials
 * after its back-off), until every node sees every other joined. No
 * socket, no timer, no randomness: the same code gives the same count,
 * exactly. It counts the core (sessions, handshakes, the membership fold,
 * gossip, dial loops) and the in-memory transport, not ws nor the kernel,
 * nor the virtual clock itself (rxjs's VirtualTimeScheduler.js).
 */
async function formation(session: Session): Promise<{ nodes: number; callsPerPair: number; functions: number; bySource: Record<string, number> }> {
  const scheduler = new VirtualTimeScheduler();
  const network = new MemoryNetwork({ scheduler, latency: MESH_LATENCY });
  let seed = 1;
  // (a Lehmer generator: back-off jitter the same every run)
  const random = (): number => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const names = Array.from({ length: MESH }, (_, i) => `n${String(i).padStart(2, '0')}`);
  const managers = names.map((name) => new Manager(name, 'rxcluster-bench-secret', { transport: network.transport(), scheduler, random, settings: { joinDelay: 100 } }));
  for (const m of managers) await m.listen(m.name);
  let joins = 0;
  for (const m of managers) m.nodeJoin$.subscribe(() => joins++);
  await session.post('Profiler.takePreciseCoverage'); // resets the counts
  for (const m of managers) {
    for (const peer of names) if (peer !== m.name) m.addNode(peer, peer);
    network.advance(MESH_GAP);
  }
  // bounded: a minute of virtual time at most
  for (let i = 0; i < 6_000 && joins < MESH * (MESH - 1); i++) network.advance(10);
  const pairs = (MESH * (MESH - 1)) / 2;
  // (without the virtual clock's own calls: it sorts its whole queue of actions at each one scheduled, half
  // of all calls here, where the real scheduler sets a timer)
  const t = await tally(session, `formation (calls per pair of nodes)`, pairs, pairs, /\/VirtualTimeScheduler\.js$/);
  if (joins < MESH * (MESH - 1)) throw new Error(`the in-memory mesh did not form: ${joins} of ${MESH * (MESH - 1)} joins`);
  const stops = managers.map((m) => m.shutdown());
  network.advance(5_000);
  await Promise.all(stops);
  return { nodes: MESH, callsPerPair: t.calls / pairs, functions: t.functions, bySource: topSources(t.bySource, pairs) };
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
const rx = await count('rx', session);
const ws = await count('ws', session);
const mesh = await formation(session);
await session.post('Profiler.stopPreciseCoverage');
session.disconnect();
const line = (name: string, r: typeof rx): string =>
  `${name}: ${r.callsPerRound.toFixed(1)} calls per round, ${r.functionsPerRound} functions run every round; most called: ${Object.entries(r.bySource)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`;
console.error(line('rxcluster', rx));
console.error(line('bare ws  ', ws));
console.error(`ratio rxcluster / bare ws: ${(rx.callsPerRound / ws.callsPerRound).toFixed(2)} in calls, ${(rx.functionsPerRound / ws.functionsPerRound).toFixed(2)} in functions`);
console.error(
  `mesh forming (${mesh.nodes} managers in memory, virtual time): ${mesh.callsPerPair.toFixed(0)} calls per pair of nodes, ${mesh.functions} functions run at least once per pair; most called: ${Object.entries(mesh.bySource)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`,
);
console.log(JSON.stringify({ bench: 'calls', rounds: ROUNDS, rx, ws, ratio: rx.callsPerRound / ws.callsPerRound, mesh }));
process.exit(0);
