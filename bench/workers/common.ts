/**
 * What every bench child shares: the IPC request/reply loop, and the
 * measuring logic (paced broadcast, in-order counting, ping-pong) written once
 * against a tiny `Wire` so rxcluster and the bare-ws baseline run the very
 * same code around their send and receive paths.
 *
 * Only node built-ins here: the idle-RSS baseline imports this file and must
 * not pull in anything rxcluster loads.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { readFileSync } from 'node:fs';
import { wsTransport, type Transport } from '../../src/index.js';

/** A request from bench/run.ts. */
export interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args: Record<string, unknown>;
}

/** The answer to one request. */
export type Reply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

/** Sent once, when the child is ready for requests. */
export interface Ready {
  readonly ready: true;
  readonly pid: number;
}

export type Handler = (args: Record<string, unknown>) => unknown;

/**
 * Answers requests from the parent until told to exit. The child exits on
 * its own when the parent goes away (IPC disconnect), so no child outlives
 * an orchestrator that was killed.
 */
export function serve(handlers: Record<string, Handler>): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    console.error('this is a bench child: start it through bench/run.ts');
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  const all: Record<string, Handler> = {
    ...handlers,
    /** CPU time used so far (user + system, µs), to meter a phase from outside. */
    cpu: () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    exit: () => {
      // reply first, then leave (a --cpu-prof profile is written on a normal exit)
      setImmediate(() => process.exit(0));
      return true;
    },
  };
  process.on('message', (raw: unknown) => {
    const req = raw as Request;
    void (async () => {
      let reply: Reply;
      try {
        const handler = all[req.cmd];
        if (handler === undefined) throw new Error(`unknown command ${req.cmd}`);
        reply = { id: req.id, ok: true, result: (await handler(req.args)) ?? null };
      } catch (error) {
        reply = { id: req.id, ok: false, error: error instanceof Error ? error.message : String(error) };
      }
      if (process.connected) send(reply);
    })();
  });
  const ready: Ready = { ready: true, pid: process.pid };
  send(ready);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls `check` every 5 ms until it holds; rejects after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function num(args: Record<string, unknown>, key: string): number {
  const v = args[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`argument ${key}: expected a number`);
  return v;
}

export function str(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (typeof v !== 'string') throw new TypeError(`argument ${key}: expected a string`);
  return v;
}

/**
 * RSS and heap after settling: wait, collect garbage (when --expose-gc is
 * on), then the lowest of three samples 300 ms apart.
 */
export async function settledMemory(settleMs: number): Promise<{ rss: number; heapUsed: number; external: number; newSpace: number; gc: boolean }> {
  await sleep(settleMs);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    await sleep(100);
    gc();
  }
  let best = process.memoryUsage();
  for (let i = 0; i < 2; i++) {
    await sleep(300);
    const m = process.memoryUsage();
    if (m.rss < best.rss) best = m;
  }
  // V8's young generation as committed now: it grows with the allocation rate in steps of megabytes
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  return { rss: best.rss, heapUsed: best.heapUsed, external: best.external, newSpace, gc: gc !== undefined };
}

/**
 * Which side dialed the other: the ESTABLISHED TCP socket whose local port is
 * a listening port belongs to the side that accepted. Linux only; `unknown`
 * elsewhere.
 */
export function dialedBy(nameA: string, portA: number, nameB: string, portB: number): string {
  const local = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '01') continue;
      const port = Number.parseInt(cols[1]?.split(':')[1] ?? '', 16);
      if (Number.isFinite(port)) local.add(port);
    }
  }
  const aAccepted = local.has(portA);
  const bAccepted = local.has(portB);
  if (bAccepted && !aAccepted) return nameA;
  if (aAccepted && !bAccepted) return nameB;
  return aAccepted ? 'both' : 'unknown';
}

/** The two ways a bench child talks to its peer. */
export interface Wire {
  /** Sends one application value to every peer (rxcluster: toCluster$). */
  broadcast(data: unknown): void;
  /** Sends one application value to one peer (rxcluster: toNode$). */
  sendTo(peer: string, data: unknown): void;
  /** Unsent bytes queued (rxcluster: manager.bufferedAmount; ws: ws.bufferedAmount). */
  bufferedAmount(): number;
}

export interface CountResult {
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly outOfOrder: number;
  readonly malformed: number;
  readonly spanMs: number;
  readonly msgsPerSec: number;
  /** CPU time (user + system) of the receiving process per message, first to last message, in µs. */
  readonly cpuUsPerMsg: number;
  readonly timedOut: boolean;
}

export interface RttResult {
  readonly rounds: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly wallMs: number;
  /** Every measured round trip in µs, sorted; only when asked for (`raw: true`). */
  readonly samples?: number[];
}

const ignore = (): void => undefined;

/**
 * The measuring commands, over a Wire. The adapter calls `deliver` with each
 * received application value (already parsed from JSON).
 */
export function driver(wire: () => Wire): { deliver: (data: unknown) => void; handlers: Record<string, Handler> } {
  let onData: (data: unknown) => void = ignore;
  let counting: Promise<CountResult> | undefined;

  /** Starts counting `n` numbered messages, checking order; `collect` awaits the result. */
  function expect(args: Record<string, unknown>): boolean {
    const n = num(args, 'n');
    const timeoutMs = num(args, 'timeoutMs');
    counting = new Promise<CountResult>((resolve) => {
      let next = 0;
      let received = 0;
      let gaps = 0;
      let outOfOrder = 0;
      let malformed = 0;
      let first = 0n;
      let last = 0n;
      let cpuAtFirst = process.cpuUsage();
      const finish = (timedOut: boolean): void => {
        const cpu = process.cpuUsage(cpuAtFirst);
        clearTimeout(timer);
        onData = ignore;
        const spanMs = received > 1 ? Number(last - first) / 1e6 : 0;
        resolve({
          expected: n,
          received,
          lost: gaps + (n - next),
          outOfOrder,
          malformed,
          spanMs,
          msgsPerSec: spanMs > 0 ? ((received - 1) * 1000) / spanMs : 0,
          cpuUsPerMsg: received > 1 ? (cpu.user + cpu.system) / (received - 1) : 0,
          timedOut,
        });
      };
      const timer = setTimeout(() => finish(true), timeoutMs);
      onData = (data) => {
        const seq = (data as { seq?: unknown } | null)?.seq;
        if (typeof seq !== 'number') {
          malformed++;
          return;
        }
        last = process.hrtime.bigint();
        if (received === 0) {
          first = last;
          cpuAtFirst = process.cpuUsage();
        }
        received++;
        if (seq === next) next++;
        else if (seq > next) {
          gaps += seq - next;
          next = seq + 1;
        } else outOfOrder++;
        if (next >= n) finish(false);
      };
    });
    return true;
  }

  async function collect(): Promise<CountResult> {
    if (counting === undefined) throw new Error('collect without expect');
    const result = await counting;
    counting = undefined;
    return result;
  }

  /**
   * Broadcasts `n` numbered messages as fast as the socket takes them:
   * past `highWater` unsent bytes it yields (setImmediate) until they drain,
   * and it yields every `yieldEvery` messages anyway. Never drops.
   */
  async function broadcast(args: Record<string, unknown>): Promise<{ sendMs: number; yields: number; maxBuffered: number }> {
    const n = num(args, 'n');
    const highWater = num(args, 'highWater');
    const yieldEvery = num(args, 'yieldEvery');
    const payload = 'x'.repeat(num(args, 'payloadBytes'));
    const w = wire();
    const t0 = process.hrtime.bigint();
    let i = 0;
    let yields = 0;
    let maxBuffered = 0;
    while (i < n) {
      const stop = Math.min(n, i + yieldEvery);
      while (i < stop && w.bufferedAmount() <= highWater) {
        w.broadcast({ seq: i, payload });
        i++;
      }
      maxBuffered = Math.max(maxBuffered, w.bufferedAmount());
      await immediate();
      yields++;
    }
    return { sendMs: Number(process.hrtime.bigint() - t0) / 1e6, yields, maxBuffered };
  }

  /** Answers every value received with the same value, to `peer`. */
  function echo(args: Record<string, unknown>): boolean {
    const peer = str(args, 'peer');
    const w = wire();
    onData = (data) => w.sendTo(peer, data);
    return true;
  }

  function quiet(): boolean {
    onData = ignore;
    return true;
  }

  /** `warmup` + `rounds` sequential round trips to an echoing `peer`; stats over `rounds`, in µs. */
  function pingpong(args: Record<string, unknown>): Promise<RttResult> {
    const raw = args['raw'] === true;
    const peer = str(args, 'peer');
    const warmup = num(args, 'warmup');
    const rounds = num(args, 'rounds');
    const timeoutMs = num(args, 'timeoutMs');
    const w = wire();
    return new Promise<RttResult>((resolve, reject) => {
      const total = warmup + rounds;
      const samples = new Float64Array(rounds);
      let i = 0;
      let sentAt = 0n;
      let measuredFrom = 0n;
      const timer = setTimeout(() => {
        onData = ignore;
        reject(new Error(`ping-pong stalled at round ${i} of ${total}`));
      }, timeoutMs);
      const sendNext = (): void => {
        sentAt = process.hrtime.bigint();
        if (i === warmup) measuredFrom = sentAt;
        w.sendTo(peer, { i });
      };
      onData = (data) => {
        const now = process.hrtime.bigint();
        if ((data as { i?: unknown } | null)?.i !== i) {
          clearTimeout(timer);
          onData = ignore;
          reject(new Error(`ping-pong: expected reply ${i}, got ${JSON.stringify(data)}`));
          return;
        }
        if (i >= warmup) samples[i - warmup] = Number(now - sentAt) / 1000;
        i++;
        if (i < total) {
          sendNext();
          return;
        }
        clearTimeout(timer);
        onData = ignore;
        const wallMs = Number(now - measuredFrom) / 1e6;
        samples.sort();
        let sum = 0;
        for (const s of samples) sum += s;
        resolve({
          rounds,
          p50: quantile(samples, 0.5),
          p90: quantile(samples, 0.9),
          p99: quantile(samples, 0.99),
          mean: sum / rounds,
          min: samples[0] ?? 0,
          max: samples[rounds - 1] ?? 0,
          wallMs,
          ...(raw ? { samples: Array.from(samples) } : {}),
        });
      };
      sendNext();
    });
  }

  return {
    deliver: (data) => onData(data),
    handlers: { expect, collect, broadcast, echo, quiet, pingpong },
  };
}

/** Nearest-rank quantile of sorted samples. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

/** A ws message as text (ws hands over a Buffer, an ArrayBuffer or, fragmented, an array of Buffers). */
export function wsText(data: Buffer | ArrayBuffer | Buffer[]): string {
  return Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
}

/**
 * The transport of every rxcluster bench node: the default (frame MACs on
 * plain ws), or with BENCH_FRAME_MACS=off `wsTransport({ frameMacs: false })`,
 * like for like with bare ws, which authenticates no frame either.
 */
export function rxTransport(): { transport?: Transport } {
  return process.env['BENCH_FRAME_MACS'] === 'off' ? { transport: wsTransport({ frameMacs: false }) } : {};
}
