/**
 * `npm run bench:nats`: broadcast 1 → 2 and 1 → 8 through NATS (rxcluster's
 * NATS transport), through the full ws mesh, and as bare nats.js publishes of
 * the same frame bytes, all in one run against one local nats-server.
 *
 * Two processes per run: the sender, and one process holding all receivers
 * (so every kind is bounded by the same two CPUs). The sender broadcasts
 * MESSAGES frames `{ seq, payload: 'x' × 100 }`, yielding (setImmediate)
 * every 100 broadcasts and while more than 1 MiB is unsent: the NATS
 * transport sends the broadcasts of one tick as one sealed batch, so 100 to
 * a publish here; bare nats.js publishes each one. Figures:
 * - sender CPU per broadcast (µs): the sender's user + system CPU over its
 *   send loop and until its buffers drained, per broadcast message;
 * - delivered msg/s: messages taken by all receivers (`fromCluster$` +
 *   `packet.message()`; bare nats.js: `JSON.parse`) per second, from the first
 *   to the last one received.
 * Each case runs RUNS times, interleaved; the median is printed. The last line
 * is one JSON object with every figure. With `BENCH_NATS_PROF=<dir>` each
 * worker writes its CPU profile there as it exits (read one with
 * `npx tsx bench/cpuprof-top.ts <file> 25`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../test/support/natsServer.js';

const MESSAGES = Number(process.env['BENCH_NATS_MESSAGES'] ?? 20_000);
const RUNS = Number(process.env['BENCH_NATS_RUNS'] ?? 3);
const WORKER = fileURLToPath(new URL('./nats-worker.ts', import.meta.url));
const PROFILE_DIR = process.env['BENCH_NATS_PROF'];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const live = new Set<ChildProcess>();
const watchdog = setTimeout(() => {
  process.stderr.write('bench:nats: watchdog (600 s), killing everything\n');
  for (const c of live) c.kill('SIGKILL');
  process.exit(1);
}, 600_000);

class Worker {
  #proc: ChildProcess;
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ready: Promise<void>;
  /** Settles once the process exited. */
  readonly exited: Promise<void>;
  constructor(readonly label: string) {
    this.#proc = fork(WORKER, [], { cwd: ROOT, execArgv: ['--import', 'tsx', ...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(this.#proc);
    this.exited = new Promise((resolve) => this.#proc.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.#proc.on('message', (m: { ready?: true; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
        if (m.ready === true) return resolve();
        const p = this.#pending.get(m.id ?? -1);
        if (p === undefined) return;
        this.#pending.delete(m.id ?? -1);
        if (m.ok === true) p.resolve(m.value);
        else p.reject(new Error(`${label}: ${m.error}`));
      });
      this.#proc.once('exit', (code) => {
        live.delete(this.#proc);
        for (const p of this.#pending.values()) p.reject(new Error(`${label} exited (${code})`));
        reject(new Error(`${label} exited (${code})`));
      });
    });
  }
  call<T>(command: Record<string, unknown>, ms = 120_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: ${String(command['op'])} timed out`)), ms);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#proc.send({ ...command, id });
    });
  }
  kill(): void {
    this.#proc.kill('SIGKILL');
  }
}

type Kind = 'nats' | 'ws' | 'raw';
interface Figure {
  readonly kind: Kind;
  readonly n: number;
  readonly cpuUsPerMsg: number;
  readonly deliveredPerSec: number;
  readonly lost: number;
}

let runNo = 0;
async function runOnce(kind: Kind, n: number, url: string): Promise<Figure> {
  const prefix = `bench.r${runNo++}`;
  const tx = new Worker(`${kind}-tx`);
  const rx = new Worker(`${kind}-rx`);
  try {
    await Promise.all([tx.ready, rx.ready]);
    const names = Array.from({ length: n }, (_, i) => `rx${i}`);
    const txUp = await tx.call<{ addresses: Record<string, string> }>({ op: 'start', kind, role: 'tx', names: ['tx'], peers: {}, url, prefix });
    const rxUp = await rx.call<{ addresses: Record<string, string> }>({ op: 'start', kind, role: 'rx', names, peers: {}, url, prefix });
    if (kind !== 'raw') {
      await Promise.all([
        rx.call({ op: 'configure', peers: txUp.addresses, join: 1 }),
        tx.call({ op: 'configure', peers: rxUp.addresses, join: n }),
      ]);
    }
    const expected = rx.call<{ received: number; ms: number }>({ op: 'expect', count: MESSAGES * n, ms: 60_000 }, 90_000);
    const sent = await tx.call<{ cpuUs: number; ms: number }>({ op: 'send', count: MESSAGES });
    const got = await expected;
    return { kind, n, cpuUsPerMsg: sent.cpuUs / MESSAGES, deliveredPerSec: got.ms > 0 ? (got.received / got.ms) * 1000 : 0, lost: MESSAGES * n - got.received };
  } finally {
    await Promise.allSettled([tx.call({ op: 'stop' }, 5000), rx.call({ op: 'stop' }, 5000)]);
    // a worker writes its profile as it exits: let it, rather than kill it first
    if (PROFILE_DIR !== undefined) await Promise.race([Promise.all([tx.exited, rx.exited]), new Promise((r) => setTimeout(r, 10_000))]);
    tx.kill();
    rx.kill();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function main(): Promise<void> {
  const server = await startNatsServer();
  const all: Figure[] = [];
  try {
    const cases: Array<[Kind, number]> = [['nats', 2], ['nats', 8], ['ws', 2], ['ws', 8], ['raw', 2], ['raw', 8]];
    for (let r = 0; r < RUNS; r++) {
      for (const [kind, n] of r % 2 === 0 ? cases : [...cases].reverse()) {
        const f = await runOnce(kind, n, server.url);
        process.stderr.write(`run ${r + 1}/${RUNS} ${kind} 1→${n}: sender ${f.cpuUsPerMsg.toFixed(1)} µs CPU/broadcast, ${Math.round(f.deliveredPerSec)} delivered msg/s, lost ${f.lost}\n`);
        all.push(f);
      }
    }
  } finally {
    await server.stop();
  }
  const fig = (kind: Kind, n: number): { cpu: number; rate: number; lost: number } => {
    const runs = all.filter((f) => f.kind === kind && f.n === n);
    return { cpu: median(runs.map((f) => f.cpuUsPerMsg)), rate: median(runs.map((f) => f.deliveredPerSec)), lost: runs.reduce((s, f) => s + f.lost, 0) };
  };
  const rows: string[] = ['| transport | 1→N | sender CPU µs/broadcast | delivered msg/s | lost |', '| --- | --- | --- | --- | --- |'];
  for (const kind of ['nats', 'ws', 'raw'] as const) {
    for (const n of [2, 8]) {
      const f = fig(kind, n);
      rows.push(`| ${kind === 'raw' ? 'bare nats.js' : kind === 'ws' ? 'ws mesh' : 'NATS transport'} | 1→${n} | ${f.cpu.toFixed(1)} | ${Math.round(f.rate)} | ${f.lost} |`);
    }
  }
  const cpuRatio = fig('nats', 8).cpu / fig('nats', 2).cpu;
  const rate2 = fig('nats', 2).rate / fig('raw', 2).rate;
  const rate8 = fig('nats', 8).rate / fig('raw', 8).rate;
  rows.push('');
  rows.push(`NATS sender CPU 1→8 / 1→2: ${cpuRatio.toFixed(2)} (target ≤ 1.3)`);
  rows.push(`NATS delivered / bare nats.js: 1→2 ${rate2.toFixed(2)}, 1→8 ${rate8.toFixed(2)} (target ≥ 0.5)`);
  rows.push(`ws mesh sender CPU 1→8 / 1→2: ${(fig('ws', 8).cpu / fig('ws', 2).cpu).toFixed(2)}`);
  process.stdout.write(`${rows.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ messages: MESSAGES, runs: RUNS, cpuRatio, rate2, rate8, figures: all })}\n`);
}

main().then(
  () => {
    clearTimeout(watchdog);
  },
  (error: unknown) => {
    process.stderr.write(`bench:nats failed: ${String(error)}\n`);
    for (const c of live) c.kill('SIGKILL');
    process.exit(1);
  },
);
