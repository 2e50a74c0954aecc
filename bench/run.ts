/**
 * rxcluster benchmarks: each figure beside a bare-ws baseline measured in the
 * same run, as a ratio. `npm run bench`; see bench/README.md.
 *
 * Every child runs with the same loader (`node --import tsx`), on 127.0.0.1
 * and ephemeral ports. Every wait has a timeout, a watchdog bounds the whole
 * run, and every child is killed at the end, on failure too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Child, killAll, liveCount, median, portOf, PROFILE_DIR, sleep } from './lib.js';
import { quantile, type CountResult, type RttResult } from './workers/common.js';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
};

const CONFIG = {
  /** Messages per broadcast run. */
  n: envInt('BENCH_N', 200_000),
  /** Measured runs per side (broadcast and ping-pong), interleaved. */
  runs: envInt('BENCH_RUNS', 6),
  payloadBytes: 100,
  /** The producer yields while more than this is unsent. */
  highWater: 1024 * 1024,
  /** ... and every this many messages anyway. */
  yieldEvery: 8192,
  /** Runs longer than this are cut short and reported as such. */
  broadcastTimeoutMs: envInt('BENCH_BROADCAST_TIMEOUT_MS', 25_000),
  pingWarmup: envInt('BENCH_PING_WARMUP', 3_000),
  /** Measured round trips per side, in chunks that alternate between the sides. */
  pingRounds: envInt('BENCH_PING_ROUNDS', 15_000),
  pingChunk: envInt('BENCH_PING_CHUNK', 500),
  /** Round trips discarded at the start of each chunk (the pair sat idle during the other side's chunk). */
  pingChunkWarmup: 50,
  pingTimeoutMs: 30_000,
  /** Past this much time in one phase, no further pair of runs is started (at least one pair always runs). */
  phaseBudgetMs: envInt('BENCH_PHASE_BUDGET_MS', 50_000),
  settleMs: 2_000,
  /**
   * Wait before each reading of the memory-per-peer probe (env
   * BENCH_MEMORY_SETTLE_MS). V8 judges its allocation rate over the last 5 s
   * before it shrinks the young generation at a GC: a reading taken sooner
   * after the 36 joins can still carry the young generation their garbage grew.
   */
  memorySettleMs: envInt('BENCH_MEMORY_SETTLE_MS', 2_000),
  joinTimeoutMs: 15_000,
  /**
   * CPU placement of the throughput / latency pairs: `split` (default) pins
   * every A to CPU 0 and every B to CPU 1, `same` pins all to CPU 0, `off`
   * leaves it to the scheduler. See pinPair.
   */
  pin: (['split', 'same', 'off'] as const).find((p) => p === process.env['BENCH_PIN']) ?? 'split',
  /** Processes in the mesh-join phase. */
  meshSize: envInt('BENCH_MESH_SIZE', 16),
  /** Mesh-join runs per side, interleaved (each reuses the processes with fresh managers on fresh ports). */
  meshRuns: envInt('BENCH_MESH_RUNS', 3),
  /** joinDelay of the mesh phase (the baseline waits as long before it counts a peer Online). */
  meshJoinDelay: envInt('BENCH_MESH_JOIN_DELAY', 100),
  /** Peers of the memory probe at the first reading (at the second: every mesh node and every hosted one). */
  meshMemoryFrom: 4,
  /** Children that each host `memoryPerHost` more peers of the memory probe (bench/workers/hosts.ts). */
  memoryHosts: envInt('BENCH_MEMORY_HOSTS', 2),
  memoryPerHost: envInt('BENCH_MEMORY_PER_HOST', 12),
  /** Phases to run (env BENCH_ONLY, comma-separated): broadcast, pingpong, idle, mesh. All by default. */
  only: new Set((process.env['BENCH_ONLY'] ?? 'broadcast,pingpong,idle,mesh').split(',').map((p) => p.trim())),
  /** The whole bench is killed past this. */
  watchdogMs: envInt('BENCH_WATCHDOG_MS', 420_000),
} as const;

/**
 * Issue 8 point 6: broadcast at least 0.9 of bare ws, ping-pong p50 at most
 * 1.25 × bare ws with the pair split over two CPUs and on one CPU, a mesh
 * all Online within joinDelay + 300 ms of its last node being configured,
 * at most 100 KB per extra peer.
 */
const TARGETS = { throughput: 0.9, p50: 1.25, rss: 1.2, meshJoinExtraMs: 300, kbPerPeer: 100 } as const;

type Kind = 'rx' | 'ws';
interface Pair {
  readonly kind: Kind;
  readonly a: Child;
  readonly b: Child;
  readonly dialer: string;
}

// ---------------------------------------------------------------- lifecycle

let finished = false;
const watchdog = setTimeout(() => {
  console.error(`bench: watchdog fired after ${CONFIG.watchdogMs} ms; killing every child`);
  killAll();
  process.exit(1);
}, CONFIG.watchdogMs);
watchdog.unref();
process.on('exit', () => killAll());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}; killing every child`);
    killAll();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error('bench: uncaught', error);
  killAll();
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  console.error('bench: unhandled rejection', error);
  killAll();
  process.exit(1);
});

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------- pairs

/**
 * Two rxcluster managers joined so that A dials B (as the ws baseline's
 * client does): B configures A first, A refuses that dial (B is not yet
 * configured there) and B backs off for at least 1.5 s, in which A
 * configures B, dials it, and that connection is the one both keep.
 */
async function rxPair(worker: string, prefix: string, execArgv: readonly string[] = []): Promise<Pair> {
  const [a, b] = await Promise.all([Child.start(`${prefix}-A`, worker, execArgv), Child.start(`${prefix}-B`, worker, execArgv)]);
  const [addrA, addrB] = await Promise.all([a.call<string>('listen', { name: 'A' }), b.call<string>('listen', { name: 'B' })]);
  await b.call('addNode', { name: 'A', addr: addrA });
  await sleep(300);
  await a.call('addNode', { name: 'B', addr: addrB });
  await Promise.all([
    a.call('waitJoin', { peer: 'B', timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000),
    b.call('waitJoin', { peer: 'A', timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000),
  ]);
  let dialer = 'A';
  if (worker === 'rx-node.ts') {
    dialer = await a.call<string>('dialedBy', { a: 'A', portA: portOf(addrA), b: 'B', portB: portOf(addrB) });
    await Promise.all([a.call('status', { clear: true }), b.call('status', { clear: true })]);
  }
  return { kind: 'rx', a, b, dialer };
}

/** Two bare-ws processes, both listening; A dials B. */
async function wsPair(worker: string, prefix: string, execArgv: readonly string[] = []): Promise<Pair> {
  const [a, b] = await Promise.all([Child.start(`${prefix}-A`, worker, execArgv), Child.start(`${prefix}-B`, worker, execArgv)]);
  const [, addrB] = await Promise.all([a.call<string>('listen', { name: 'A' }), b.call<string>('listen', { name: 'B' })]);
  await a.call('connect', { addr: addrB, timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000);
  await b.call('waitConnected', { timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000);
  return { kind: 'ws', a, b, dialer: 'A' };
}

/**
 * Pins a pair as CONFIG.pin says. Without it, round-trip times depend on
 * where the scheduler happens to put each process (same CPU or not), which
 * on a small VM moves the p50 by a factor of 3 for seconds at a time, and it
 * moves it for one pair and not the other.
 */
function pinPair(pair: Pair, mode: 'split' | 'same' | 'off' = CONFIG.pin): string {
  if (mode === 'off' || cpus().length < 2) return 'off';
  const ok = pair.a.pin(0) && pair.b.pin(mode === 'split' ? 1 : 0);
  return ok ? mode : 'off (taskset failed)';
}

async function stopPair(pair: Pair | undefined): Promise<void> {
  if (pair === undefined) return;
  await Promise.all([pair.a.stop(), pair.b.stop()]);
}

// ---------------------------------------------------------------- runs

interface BroadcastRun extends CountResult {
  readonly sendMs: number;
  readonly yields: number;
  readonly maxBuffered: number;
}

async function broadcastRun(pair: Pair, n: number): Promise<BroadcastRun> {
  await pair.b.call('expect', { n, timeoutMs: CONFIG.broadcastTimeoutMs });
  const sent = pair.a.call<{ sendMs: number; yields: number; maxBuffered: number }>(
    'broadcast',
    { n, highWater: CONFIG.highWater, yieldEvery: CONFIG.yieldEvery, payloadBytes: CONFIG.payloadBytes },
    CONFIG.broadcastTimeoutMs * 2,
  );
  sent.catch(() => undefined);
  const counted = await pair.b.call<CountResult>('collect', {}, CONFIG.broadcastTimeoutMs + 5000);
  const s = await sent;
  return { ...counted, ...s };
}

interface PingPhase {
  readonly rounds: number;
  readonly chunks: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Median over chunks of each chunk's p50. */
  readonly chunkP50s: number[];
  /** CPU of both processes (user + system) per round trip, chunk warm-ups included, in µs. */
  readonly cpuUsPerRound: number;
}

/**
 * Ping-pong in short chunks that alternate between the two pairs (ABBA), the
 * samples pooled per side: latency on a small VM jumps between regimes that
 * last seconds (vCPU wake-ups), and fine interleaving lets both sides see the
 * same mix. One long warm-up per side first.
 */
async function pingPhase(pairs: Record<Kind, Pair>): Promise<Record<Kind, PingPhase>> {
  const kinds: Kind[] = ['ws', 'rx'];
  const call = (kind: Kind, warmup: number, rounds: number): Promise<RttResult> =>
    pairs[kind].a.call<RttResult>('pingpong', { peer: 'B', warmup, rounds, raw: true, timeoutMs: CONFIG.pingTimeoutMs }, CONFIG.pingTimeoutMs + 5000);
  const cpu = async (kind: Kind): Promise<number> => {
    const [a, b] = await Promise.all([pairs[kind].a.call<number>('cpu'), pairs[kind].b.call<number>('cpu')]);
    return a + b;
  };
  for (const kind of kinds) await call(kind, CONFIG.pingWarmup, CONFIG.pingChunk);
  const cpuBefore = { rx: await cpu('rx'), ws: await cpu('ws') };
  const samples: Record<Kind, number[]> = { rx: [], ws: [] };
  const chunkP50s: Record<Kind, number[]> = { rx: [], ws: [] };
  const started = Date.now();
  const chunks = Math.max(1, Math.ceil(CONFIG.pingRounds / CONFIG.pingChunk));
  let done = 0;
  for (; done < chunks; done++) {
    if (done > 0 && Date.now() - started > CONFIG.phaseBudgetMs) {
      log(`bench: ping-pong: time budget used, stopping after ${done} chunks per side`);
      break;
    }
    for (const kind of done % 2 === 0 ? kinds : [...kinds].reverse()) {
      const r = await call(kind, CONFIG.pingChunkWarmup, CONFIG.pingChunk);
      samples[kind].push(...(r.samples ?? []));
      chunkP50s[kind].push(r.p50);
    }
  }
  const cpuAfter = { rx: await cpu('rx'), ws: await cpu('ws') };
  const result = (kind: Kind): PingPhase => {
    const sorted = Float64Array.from(samples[kind]).sort();
    return {
      rounds: sorted.length,
      chunks: done,
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? 0,
      chunkP50s: chunkP50s[kind],
      cpuUsPerRound: (cpuAfter[kind] - cpuBefore[kind]) / (done * (CONFIG.pingChunk + CONFIG.pingChunkWarmup)),
    };
  };
  return { rx: result('rx'), ws: result('ws') };
}

/**
 * `runs` runs per side in ABBA order (ws rx rx ws ws rx ...), so slow drift
 * hits both sides alike; no new pair starts once the phase has used
 * `phaseBudgetMs`.
 */
async function interleaved<T>(phase: string, run: (kind: Kind) => Promise<T>): Promise<Record<Kind, T[]>> {
  const results: Record<Kind, T[]> = { rx: [], ws: [] };
  const started = Date.now();
  for (let i = 0; i < CONFIG.runs; i++) {
    if (i > 0 && Date.now() - started > CONFIG.phaseBudgetMs) {
      log(`bench: ${phase}: time budget used, stopping after ${i} runs per side`);
      break;
    }
    for (const kind of (i % 2 === 0 ? ['ws', 'rx'] : ['rx', 'ws']) as Kind[]) results[kind].push(await run(kind));
  }
  return results;
}

/** Median of the ratios rx/ws of runs done back to back: robust to drift between pairs. */
function pairedRatio(rx: readonly number[], ws: readonly number[]): number {
  return median(rx.map((v, i) => v / (ws[i] ?? Number.NaN)));
}

async function memoryOf(pair: Pair): Promise<{ a: number; b: number; gc: boolean }> {
  const [ma, mb] = await Promise.all([
    pair.a.call<{ rss: number; gc: boolean }>('memory', { settleMs: CONFIG.settleMs }, CONFIG.settleMs + 5000),
    pair.b.call<{ rss: number; gc: boolean }>('memory', { settleMs: CONFIG.settleMs }, CONFIG.settleMs + 5000),
  ]);
  return { a: ma.rss / 2 ** 20, b: mb.rss / 2 ** 20, gc: ma.gc && mb.gc };
}

// ---------------------------------------------------------------- mesh

interface MeshRun {
  /** From the last node's configuration to the last join seen by any node. */
  readonly joinMs: number;
  /** The same, per node: when it saw its last peer join. */
  readonly perNodeMs: number[];
  readonly counts: unknown[];
  /** rxcluster only: each node's CPU time (ms) from its own configuration to its last join. */
  readonly cpuMs: number[];
}

const meshName = (i: number): string => `n${String(i).padStart(2, '0')}`;

/** Starts `n` mesh children of one kind, a few at a time (tsx start-up is CPU-heavy). */
async function meshStart(kind: Kind, n: number): Promise<Child[]> {
  const worker = kind === 'rx' ? 'mesh-rx.ts' : 'mesh-ws.ts';
  const children: Child[] = [];
  for (let i = 0; i < n; i += 4) {
    const batch = Array.from({ length: Math.min(4, n - i) }, (_, k) => Child.start(`mesh-${kind}-${meshName(i + k)}`, worker, ['--expose-gc']));
    children.push(...(await Promise.all(batch)));
  }
  return children;
}

/**
 * One mesh join: every node listens on a fresh port with a fresh manager,
 * then the nodes are configured one after another (n00 first), each with
 * every other node, as a deployment that starts its processes in turn does.
 * Earlier nodes dial later ones before those know them and are refused; the
 * clock starts when the last node is configured and stops when every node
 * sees all the others Online.
 */
async function meshRun(nodes: readonly Child[]): Promise<MeshRun> {
  const joinDelay = CONFIG.meshJoinDelay;
  const addrs = await Promise.all(nodes.map((c, i) => c.call<string>('listen', { name: meshName(i), joinDelay })));
  let configuredAt = 0;
  for (let i = 0; i < nodes.length; i++) {
    const peers = Object.fromEntries(addrs.flatMap((addr, j) => (j === i ? [] : [[meshName(j), addr]])));
    configuredAt = await (nodes[i] as Child).call<number>('addNodes', { peers });
  }
  const results = await Promise.all(
    nodes.map((c) => c.call<{ last: number; counts: unknown; cpuMs?: number }>('waitJoined', { n: nodes.length - 1, timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000)),
  );
  const perNodeMs = results.map((r) => r.last - configuredAt);
  if (process.env['BENCH_MESH_TRACE'] !== undefined) {
    const file = join(PROFILE_DIR, `mesh-trace-${Date.now()}.json`);
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify({ configuredAt, results }, null, 1));
    log(`bench: mesh trace in ${file}`);
  }
  return { joinMs: Math.max(...perNodeMs), perNodeMs, counts: results.map((r) => r.counts), cpuMs: results.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs])) };
}

/**
 * Memory per extra peer: one more process joins the mesh, first with
 * `meshMemoryFrom` peers, then with every mesh node and the nodes hosted
 * `memoryPerHost` to a child in `memoryHosts` more children (bench/workers/hosts.ts;
 * 40 peers by default); the settled RSS and heap (after gc) at each, their
 * difference per added peer. Dozens of peers, not a dozen: RSS moves in
 * pages and the JIT compiles code meanwhile, both once per process.
 */
async function meshMemory(kind: Kind, nodes: readonly Child[]): Promise<{ rssKb: number; heapKb: number; externalKb: number; newSpaceKb: number; newSpaceMiB: [number, number]; peers: [number, number] }> {
  const worker = kind === 'rx' ? 'mesh-rx.ts' : 'mesh-ws.ts';
  const probe = await Child.start(`mesh-${kind}-probe`, worker, ['--expose-gc', ...(process.env['BENCH_PROBE_FLAGS'] ?? '').split(' ').filter((f) => f !== '')]);
  const hosts: Child[] = [];
  try {
    for (let h = 0; h < CONFIG.memoryHosts; h++) hosts.push(await Child.start(`memory-${kind}-host${h}`, 'hosts.ts'));
    const addr = await probe.call<string>('listen', { name: 'probe', joinDelay: CONFIG.meshJoinDelay });
    const meshPeers = Object.fromEntries(await Promise.all(nodes.map(async (c, i) => [meshName(i), await c.call<string>('address')] as const)));
    const hosted: Record<string, string>[] = [];
    for (const [h, host] of hosts.entries()) {
      hosted.push(await host.call<Record<string, string>>('start', { kind, prefix: `h${h}n`, count: CONFIG.memoryPerHost, joinDelay: CONFIG.meshJoinDelay }, 60_000));
    }
    const names = Object.keys(meshPeers);
    const reading = async (peers: number): Promise<{ rss: number; heapUsed: number; external: number; newSpace: number }> => {
      await probe.call('waitJoined', { n: peers, timeoutMs: CONFIG.joinTimeoutMs }, CONFIG.joinTimeoutMs + 1000);
      return probe.call('memory', { settleMs: CONFIG.memorySettleMs }, CONFIG.memorySettleMs + 5000);
    };
    const few = CONFIG.meshMemoryFrom;
    for (const node of nodes.slice(0, few)) await node.call('addNodes', { peers: { probe: addr } });
    await probe.call('addNodes', { peers: Object.fromEntries(names.slice(0, few).map((n) => [n, meshPeers[n] as string])) });
    const m1 = await reading(few);
    for (const node of nodes.slice(few)) await node.call('addNodes', { peers: { probe: addr } });
    for (const host of hosts) await host.call('addProbe', { addr });
    const rest = { ...Object.fromEntries(names.slice(few).map((n) => [n, meshPeers[n] as string])), ...Object.assign({}, ...hosted) };
    await probe.call('addNodes', { peers: rest });
    const all = few + Object.keys(rest).length;
    const m2 = await reading(all);
    const added = all - few;
    return {
      rssKb: (m2.rss - m1.rss) / added / 1024,
      heapKb: (m2.heapUsed - m1.heapUsed) / added / 1024,
      externalKb: (m2.external - m1.external) / added / 1024,
      newSpaceKb: (m2.newSpace - m1.newSpace) / added / 1024,
      newSpaceMiB: [m1.newSpace / 2 ** 20, m2.newSpace / 2 ** 20],
      peers: [few, all],
    };
  } finally {
    await Promise.all([probe, ...hosts].map((c) => c.stop()));
  }
}

async function meshPhase(rows: Row[], summary: Record<string, unknown>): Promise<void> {
  const n = CONFIG.meshSize;
  log(`bench: mesh: starting ${n} rxcluster and ${n} bare-ws processes`);
  const meshes: Partial<Record<Kind, Child[]>> = {};
  try {
    meshes.rx = await meshStart('rx', n);
    meshes.ws = await meshStart('ws', n);
    const runs: Record<Kind, MeshRun[]> = { rx: [], ws: [] };
    for (let i = 0; i < CONFIG.meshRuns; i++) {
      for (const kind of (i % 2 === 0 ? ['ws', 'rx'] : ['rx', 'ws']) as Kind[]) {
        const nodes = meshes[kind] as Child[];
        const r = await meshRun(nodes);
        runs[kind].push(r);
        log(`bench: mesh ${kind}: all ${n} Online ${fmt(r.joinMs, 0)} ms after the last node was configured (per node from ${fmt(Math.min(...r.perNodeMs), 0)} ms)${r.cpuMs.length > 0 ? `; CPU per node from its configuration to its last join: median ${fmt(median(r.cpuMs), 0)} ms, max ${fmt(Math.max(...r.cpuMs), 0)} ms` : ''}`);
        // quiet between runs: the other side's run should not compete with this one's pings
        if (i < CONFIG.meshRuns - 1) await Promise.all(nodes.map((c) => c.call('shutdown')));
      }
    }
    const join = { rx: median(runs.rx.map((r) => r.joinMs)), ws: median(runs.ws.map((r) => r.joinMs)) };
    const limit = CONFIG.meshJoinDelay + TARGETS.meshJoinExtraMs;
    rows.push({ figure: `${n}-process mesh all Online, ms after last configured (median of ${runs.rx.length})`, rx: join.rx, ws: join.ws, ratio: join.rx / join.ws, target: `<= ${limit} ms`, ok: join.rx <= limit, digits: 0 });
    const memory = { ws: await meshMemory('ws', meshes.ws), rx: await meshMemory('rx', meshes.rx) };
    const told = (m: (typeof memory)['rx']): string =>
      `RSS ${fmt(m.rssKb, 1)} KB, heap ${fmt(m.heapKb, 1)} KB, external ${fmt(m.externalKb, 1)} KB, young generation ${fmt(m.newSpaceKb, 1)} KB (${fmt(m.newSpaceMiB[0], 1)} → ${fmt(m.newSpaceMiB[1], 1)} MiB)`;
    log(`bench: mesh memory per extra peer (${memory.rx.peers[0]} → ${memory.rx.peers[1]} peers): rx ${told(memory.rx)}; ws ${told(memory.ws)}`);
    rows.push({ figure: `memory per extra peer, RSS KB (${memory.rx.peers[0]} → ${memory.rx.peers[1]} peers)`, rx: memory.rx.rssKb, ws: memory.ws.rssKb, ratio: memory.rx.rssKb / memory.ws.rssKb, target: `<= ${TARGETS.kbPerPeer} KB`, ok: memory.rx.rssKb <= TARGETS.kbPerPeer, digits: 1 });
    rows.push({ figure: 'memory per extra peer, heap used KB', rx: memory.rx.heapKb, ws: memory.ws.heapKb, ratio: memory.rx.heapKb / memory.ws.heapKb, target: '(info)', ok: true, digits: 1 });
    summary['mesh'] = { size: n, joinDelay: CONFIG.meshJoinDelay, joinMs: join, runs, memoryPerPeer: memory };
  } finally {
    await Promise.all([...(meshes.rx ?? []), ...(meshes.ws ?? [])].map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------- report

interface Row {
  readonly figure: string;
  readonly rx: number;
  readonly ws: number;
  readonly ratio: number | null;
  readonly target: string;
  readonly ok: boolean;
  readonly digits: number;
}

function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printTable(rows: readonly Row[]): void {
  const head = ['figure', 'rxcluster', 'baseline ws', 'ratio rx/ws', 'target', ''];
  const body = rows.map((r) => [r.figure, fmt(r.rx, r.digits), fmt(r.ws, r.digits), r.ratio === null ? '-' : r.ratio.toFixed(3), r.target, r.ok ? 'ok' : 'MISS']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const started = Date.now();
  const errors: string[] = [];
  const summary: Record<string, unknown> = { config: CONFIG };
  const rows: Row[] = [];
  let rx: Pair | undefined;
  let ws: Pair | undefined;

  const load = loadavg()[0] ?? 0;
  summary['machine'] = { node: process.version, cpus: cpus().length, loadavg1mAtStart: load };
  log(`bench: node ${process.version}, ${cpus().length} CPUs, load average ${load.toFixed(2)}; phases ${[...CONFIG.only].join(', ')}; rxcluster frame MACs ${process.env['BENCH_FRAME_MACS'] === 'off' ? 'off (BENCH_FRAME_MACS=off)' : 'on (the default)'}; starting children (node --import tsx)`);
  if (load > 0.5) log('bench: WARNING the machine is busy: wall-clock figures will be noisy (the CPU-per-message row is less sensitive)');
  if (CONFIG.only.has('broadcast') || CONFIG.only.has('pingpong')) try {
    [rx, ws] = await Promise.all([rxPair('rx-node.ts', 'rx'), wsPair('ws-node.ts', 'ws')]);
    const pinned = [pinPair(rx), pinPair(ws)];
    summary['pinning'] = pinned[0] === pinned[1] ? pinned[0] : pinned.join(' / ');
    log(`bench: pairs joined in ${Date.now() - started} ms (rxcluster link dialed by ${rx.dialer}); CPU pinning ${String(summary['pinning'])}`);
    if (rx.dialer !== 'A') log(`bench: WARNING rxcluster link dialed by ${rx.dialer}, baseline by A: masking direction differs`);
    const pairs = { rx, ws } as const;

    // 1. broadcast throughput
    if (CONFIG.only.has('broadcast')) {
    const warmN = Math.max(1000, Math.round(CONFIG.n / 10));
    for (const kind of ['ws', 'rx'] as const) await broadcastRun(pairs[kind], warmN);
    const bc = await interleaved('broadcast', async (kind) => {
      const r = await broadcastRun(pairs[kind], CONFIG.n);
      log(`bench: broadcast ${kind}: ${fmt(r.msgsPerSec, 0)} msg/s (receiver CPU ${fmt(r.cpuUsPerMsg, 2)} µs/msg), received ${r.received}/${r.expected}, lost ${r.lost}, out of order ${r.outOfOrder}${r.timedOut ? ', TIMED OUT' : ''} (send ${fmt(r.sendMs, 0)} ms, ${r.yields} yields, max buffered ${fmt(r.maxBuffered / 1024, 0)} KiB)`);
      return r;
    });
    const rate = { rx: median(bc.rx.map((r) => r.msgsPerSec)), ws: median(bc.ws.map((r) => r.msgsPerSec)) };
    const lost = { rx: bc.rx.reduce((s, r) => s + r.lost + r.outOfOrder, 0), ws: bc.ws.reduce((s, r) => s + r.lost + r.outOfOrder, 0) };
    const timedOut = [...bc.rx, ...bc.ws].some((r) => r.timedOut);
    if (timedOut) errors.push('a broadcast run timed out');
    if (lost.rx > 0) errors.push(`rxcluster lost or reordered ${lost.rx} messages`);
    if (lost.ws > 0) errors.push(`baseline lost or reordered ${lost.ws} messages`);
    const cpuPerMsg = { rx: median(bc.rx.map((r) => r.cpuUsPerMsg)), ws: median(bc.ws.map((r) => r.cpuUsPerMsg)) };
    const tpRatio = rate.rx / rate.ws;
    rows.push({ figure: `broadcast msg/s (median of ${bc.rx.length})`, rx: rate.rx, ws: rate.ws, ratio: tpRatio, target: `>= ${TARGETS.throughput}`, ok: tpRatio >= TARGETS.throughput, digits: 0 });
    rows.push({ figure: 'receiver CPU µs per message', rx: cpuPerMsg.rx, ws: cpuPerMsg.ws, ratio: cpuPerMsg.rx / cpuPerMsg.ws, target: '(info)', ok: true, digits: 2 });
    rows.push({ figure: 'broadcast lost + out of order', rx: lost.rx, ws: lost.ws, ratio: null, target: '0', ok: lost.rx === 0, digits: 0 });
    summary['broadcast'] = { msgsPerSec: rate, ratio: tpRatio, pairedRatio: pairedRatio(bc.rx.map((r) => r.msgsPerSec), bc.ws.map((r) => r.msgsPerSec)), receiverCpuUsPerMsg: cpuPerMsg, lost, runs: bc };
    }

    // 2. ping-pong round trip
    if (CONFIG.only.has('pingpong')) {
    await Promise.all([rx.b.call('echo', { peer: 'A' }), ws.b.call('echo', { peer: 'A' })]);
    const pp = await pingPhase(pairs);
    for (const kind of ['ws', 'rx'] as const) {
      const r = pp[kind];
      log(`bench: ping-pong ${kind}: p50 ${fmt(r.p50, 1)} µs, p90 ${fmt(r.p90, 1)} µs, p99 ${fmt(r.p99, 1)} µs, max ${fmt(r.max, 0)} µs over ${r.rounds} rounds in ${r.chunks} chunks (chunk p50 from ${fmt(Math.min(...r.chunkP50s), 1)} to ${fmt(Math.max(...r.chunkP50s), 1)} µs); CPU ${fmt(r.cpuUsPerRound, 1)} µs/round`);
    }
    const p50Ratio = pp.rx.p50 / pp.ws.p50;
    rows.push({ figure: `ping-pong RTT p50 µs, pair split (${pp.rx.rounds} rounds)`, rx: pp.rx.p50, ws: pp.ws.p50, ratio: p50Ratio, target: `<= ${TARGETS.p50}`, ok: p50Ratio <= TARGETS.p50, digits: 1 });
    rows.push({ figure: `ping-pong RTT p99 µs (${pp.rx.rounds} rounds)`, rx: pp.rx.p99, ws: pp.ws.p99, ratio: pp.rx.p99 / pp.ws.p99, target: '(info)', ok: true, digits: 1 });
    rows.push({ figure: 'ping-pong CPU µs per round (A + B)', rx: pp.rx.cpuUsPerRound, ws: pp.ws.cpuUsPerRound, ratio: pp.rx.cpuUsPerRound / pp.ws.cpuUsPerRound, target: '(info)', ok: true, digits: 1 });
    summary['pingpong'] = {
      pinning: summary['pinning'],
      ratioP50: p50Ratio,
      ratioP99: pp.rx.p99 / pp.ws.p99,
      pairedChunkRatioP50: pairedRatio(pp.rx.chunkP50s, pp.ws.chunkP50s),
      rx: pp.rx,
      ws: pp.ws,
    };

    // 2b. the same with both processes of each pair on one CPU: no cross-CPU
    // wake-up in the round trip, so the per-message CPU of each side shows more
    if (summary['pinning'] === 'split' && pinPair(rx, 'same') === 'same' && pinPair(ws, 'same') === 'same') {
      const one = await pingPhase(pairs);
      for (const kind of ['ws', 'rx'] as const) {
        log(`bench: ping-pong on one CPU ${kind}: p50 ${fmt(one[kind].p50, 1)} µs, p99 ${fmt(one[kind].p99, 1)} µs over ${one[kind].rounds} rounds; CPU ${fmt(one[kind].cpuUsPerRound, 1)} µs/round`);
      }
      const oneRatio = one.rx.p50 / one.ws.p50;
      rows.push({ figure: `ping-pong RTT p50 µs, pair on one CPU (${one.rx.rounds} rounds)`, rx: one.rx.p50, ws: one.ws.p50, ratio: oneRatio, target: `<= ${TARGETS.p50}`, ok: oneRatio <= TARGETS.p50, digits: 1 });
      rows.push({ figure: 'ping-pong CPU µs per round, one CPU', rx: one.rx.cpuUsPerRound, ws: one.ws.cpuUsPerRound, ratio: one.rx.cpuUsPerRound / one.ws.cpuUsPerRound, target: '(info)', ok: true, digits: 1 });
      summary['pingpongOneCpu'] = { ratioP50: one.rx.p50 / one.ws.p50, ratioP99: one.rx.p99 / one.ws.p99, pairedChunkRatioP50: pairedRatio(one.rx.chunkP50s, one.ws.chunkP50s), rx: one.rx, ws: one.ws };
    }
    }

    const status = await Promise.all([rx.a.call<{ left: string[]; problems: string[] }>('status'), rx.b.call<{ left: string[]; problems: string[] }>('status')]);
    const leaves = status.flatMap((s) => s.left);
    if (leaves.length > 0) errors.push(`rxcluster peers left during the bench: ${leaves.join(', ')}`);
    summary['rxclusterWarnings'] = status.flatMap((s) => s.problems);
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
  } finally {
    await Promise.all([stopPair(rx), stopPair(ws)]);
  }

  // 3. idle RSS, in fresh processes (after the traffic above the heap is not idle)
  let idleRx: Pair | undefined;
  let idleWs: Pair | undefined;
  if (CONFIG.only.has('idle')) try {
    idleWs = await wsPair('idle-ws.ts', 'idle-ws', ['--expose-gc']);
    const memWs = await memoryOf(idleWs);
    await stopPair(idleWs);
    idleRx = await rxPair('idle-rx.ts', 'idle-rx', ['--expose-gc']);
    const memRx = await memoryOf(idleRx);
    await stopPair(idleRx);
    log(`bench: idle RSS rx A ${fmt(memRx.a, 1)} MiB, B ${fmt(memRx.b, 1)} MiB; ws A ${fmt(memWs.a, 1)} MiB, B ${fmt(memWs.b, 1)} MiB (gc ${memRx.gc && memWs.gc})`);
    const rB = memRx.b / memWs.b;
    const rA = memRx.a / memWs.a;
    rows.push({ figure: 'idle RSS MiB, accepting side', rx: memRx.b, ws: memWs.b, ratio: rB, target: `<= ${TARGETS.rss}`, ok: rB <= TARGETS.rss, digits: 1 });
    rows.push({ figure: 'idle RSS MiB, dialing side', rx: memRx.a, ws: memWs.a, ratio: rA, target: `<= ${TARGETS.rss}`, ok: rA <= TARGETS.rss, digits: 1 });
    summary['idleRss'] = { rxMiB: { accepting: memRx.b, dialing: memRx.a }, wsMiB: { accepting: memWs.b, dialing: memWs.a }, ratio: { accepting: rB, dialing: rA }, gc: memRx.gc && memWs.gc };
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
  } finally {
    await Promise.all([stopPair(idleRx), stopPair(idleWs)]);
  }

  // 4. a mesh of CONFIG.meshSize processes: join time and memory per extra peer
  if (CONFIG.only.has('mesh')) {
    try {
      await meshPhase(rows, summary);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }

  killAll();
  console.log('');
  printTable(rows);
  for (const e of errors) console.log(`ERROR: ${e}`);
  if (process.env['BENCH_CPU_PROF'] !== undefined) console.log(`CPU profiles in ${PROFILE_DIR} (summarise with: npx tsx bench/cpuprof-top.ts <file>)`);
  summary['elapsedMs'] = Date.now() - started;
  summary['targetsMet'] = rows.every((r) => r.ok);
  summary['errors'] = errors;
  summary['childrenLeft'] = liveCount();
  console.log(JSON.stringify({ bench: 'rxcluster', ...summary, table: rows }));
  return errors.length > 0 ? 1 : 0;
}

main()
  .then((code) => {
    finished = true;
    clearTimeout(watchdog);
    killAll();
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    console.error('bench failed:', error);
    killAll();
    process.exitCode = 1;
  })
  .finally(() => {
    if (!finished) killAll();
  });
