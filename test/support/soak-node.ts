/**
 * The delivery soak: N processes, each one Manager, each broadcasting numbered
 * messages as fast as `writable$` lets it, each checking every sender's
 * sequence on receipt. Two halves in one file:
 *
 * 1. The child program (runs only when this file is the forked main module):
 *
 *      RXC_SECRET=… node --import tsx test/support/soak-node.ts <name> ['<options JSON>']
 *
 *    `<options>`: `{ "sendBufferBytes"?: number, "payloadBytes"?: number }`. It listens on 127.0.0.1:0
 *    and talks to its parent over IPC only (`process.send`), so that its
 *    stdout stays free. Parent → child: `peers`, `start`, `stop`, `shutdown`;
 *    child → parent: `listening`, `joined-all`, `sent`, `report`, `stopped`
 *    (see `ToChild` and `ToParent`). Dies with its parent (IPC disconnect).
 *
 * 2. `runSoak()`, the parent side, used by test/soak.test.ts and
 *    bench/soak.ts: forks the children, wires the mesh, runs the phases with a
 *    bounded wait each, collects the reports, and kills every child at the end
 *    whatever happened.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom, ReplaySubject, type Observable } from 'rxjs';
import { Manager } from '../../src/index.js';
import type { Settings } from '../../src/settings.js';
import { first, SECRET } from './cluster.js';

// ---------------------------------------------------------------------------
// The protocol between parent and child
// ---------------------------------------------------------------------------

/** Timings of the soak: FAST-like, with more slack for five busy processes on a small machine. */
export const SOAK_SETTINGS: Settings = Object.freeze({
  joinDelay: 100,
  readTimeout: 3000,
  pingInterval: 500,
  connectInterval: 100,
  maxConnectInterval: 1000,
  connectTimeout: 3000,
  requestTimeout: 2000,
});

/** Default bytes of filler in each message, besides `s` and `n`. */
export const PAYLOAD_BYTES = 64;

/** A positive number from the environment, or the fallback when unset. */
export function envNumber(key: string, fallback: number): number;
export function envNumber(key: string, fallback: undefined): number | undefined;
export function envNumber(key: string, fallback: number | undefined): number | undefined {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${key} must be a positive number, got ${raw}`);
  return value;
}


/** What the parent passes to each child, as JSON in argv. */
export interface ChildOptions {
  readonly sendBufferBytes?: number;
  readonly payloadBytes?: number;
}

/** Messages sent between two yields to the event loop (so the sender also reads). */
export const YIELD_EVERY = 256;

export type ToChild =
  | { readonly type: 'peers'; readonly peers: Readonly<Record<string, string>> }
  | { readonly type: 'start'; readonly durationMs: number; readonly drainMs: number }
  | { readonly type: 'stop'; readonly expected: Readonly<Record<string, number>>; readonly drainMs: number }
  | { readonly type: 'shutdown' };

export interface SentReport {
  readonly type: 'sent';
  readonly name: string;
  /** Messages handed to toCluster$ (each to every peer). */
  readonly sent: number;
  /** Time from the first to the last send, ms. */
  readonly sendMs: number;
  /** How often the producer found writable$ false and waited. */
  readonly pauses: number;
  /** Time spent waiting for writable$, ms. */
  readonly pausedMs: number;
  /** The most `bufferedAmount` seen (sampled after each send), bytes. */
  readonly maxBufferedAmount: number;
  /** Whether bufferedAmount reached 0 with writable$ true within the drain time. */
  readonly drained: boolean;
  /** Time from the last send until drained, ms. */
  readonly drainMs: number;
}

export interface LeaveSeen {
  readonly node: string;
  readonly reason: string;
  /** ms after joined-all. */
  readonly at: number;
}

export interface Report {
  readonly type: 'report';
  readonly name: string;
  readonly sent: number;
  readonly sendMs: number;
  readonly pauses: number;
  readonly pausedMs: number;
  readonly maxBufferedAmount: number;
  readonly drained: boolean;
  /** Messages received, per sender. */
  readonly receivedPerSender: Readonly<Record<string, number>>;
  /** Whether every expected count was reached before the stop's drain time ran out. */
  readonly complete: boolean;
  /** Time from the stop command until every expected count was reached (or gave up), ms. */
  readonly receiveWaitMs: number;
  /** Times a sender's sequence jumped forward (a message missing, at least for now). */
  readonly gaps: number;
  /** Sequence numbers still missing at report time, summed over senders. */
  readonly missing: number;
  /** Messages received a second time. */
  readonly dups: number;
  /** Messages that came after a later one of the same sender. */
  readonly reorders: number;
  /** Packets whose shape is wrong or whose `s` is not the packet's sender. */
  readonly malformed: number;
  /** Membership leaves (and rejoins) seen after joined-all. */
  readonly leaves: readonly LeaveSeen[];
  readonly rejoins: number;
  /** Log entries with code RXC_ERR_SLOW_CONSUMER. */
  readonly slowConsumerDrops: number;
  /** warn and error log entries, counted, and the first few. */
  readonly warnings: number;
  readonly firstWarnings: readonly string[];
  /** The first few sequence faults, as text. */
  readonly firstFaults: readonly string[];
}

export type ToParent =
  | { readonly type: 'listening'; readonly name: string; readonly address: string }
  | { readonly type: 'joined-all'; readonly name: string }
  | SentReport
  | Report
  | { readonly type: 'stopped'; readonly name: string }
  | { readonly type: 'failed'; readonly name: string; readonly message: string };

// ---------------------------------------------------------------------------
// The child program
// ---------------------------------------------------------------------------

const SELF = fileURLToPath(import.meta.url);
const FIRST_FEW = 10;
/** The sequence checker stops remembering missing numbers past this many (a broken run, by then). */
const MAX_REMEMBERED_MISSING = 100_000;

interface SenderState {
  received: number;
  next: number;
  missing: Set<number>;
}

const yieldToLoop = (): Promise<void> => new Promise((done) => setImmediate(done));
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function childMain(): Promise<void> {
  const [name, optionsArg] = process.argv.slice(2);
  const secret = process.env.RXC_SECRET;
  const tell = (message: ToParent): void => {
    if (process.connected) process.send?.(message);
  };
  const die = (message: string): never => {
    process.stderr.write(`soak-node ${name ?? '?'}: ${message}\n`);
    tell({ type: 'failed', name: name ?? '?', message });
    process.exit(2);
  };
  if (process.send === undefined) die('must be forked with an IPC channel');
  if (name === undefined) die('usage: soak-node.ts <name> [options JSON]');
  if (secret === undefined || secret === '') die('RXC_SECRET is not set');
  // the parent is gone (killed, crashed): do not linger
  process.on('disconnect', () => process.exit(3));

  const options = (optionsArg === undefined ? {} : JSON.parse(optionsArg)) as ChildOptions;
  const manager = new Manager(name!, secret!, {
    settings: SOAK_SETTINGS,
    ...(options.sendBufferBytes === undefined ? {} : { sendBufferBytes: options.sendBufferBytes }),
  });

  // --- what happens to this node, recorded from the start
  let joinedAllAt: number | undefined;
  const leaves: LeaveSeen[] = [];
  let rejoins = 0;
  let slowConsumerDrops = 0;
  let warnings = 0;
  const firstWarnings: string[] = [];
  manager.log$.subscribe((entry) => {
    if (entry.code === 'RXC_ERR_SLOW_CONSUMER') slowConsumerDrops++;
    if (entry.level === 'warn' || entry.level === 'error') {
      warnings++;
      if (firstWarnings.length < FIRST_FEW) firstWarnings.push(String(entry));
    }
  });
  const left = new Set<string>();
  manager.membership$.subscribe((event) => {
    // members$ shows the last peer Online just before its join event: only a join after a leave is a rejoin
    if (joinedAllAt === undefined) return;
    if (event.type === 'leave') {
      left.add(event.node);
      leaves.push({ node: event.node, reason: event.reason, at: Math.round(performance.now() - joinedAllAt) });
    } else if (left.delete(event.node)) {
      rejoins++;
    }
  });

  // --- the receiver: every sender's sequence, checked on arrival
  const senders = new Map<string, SenderState>();
  let gaps = 0;
  let dups = 0;
  let reorders = 0;
  let malformed = 0;
  const firstFaults: string[] = [];
  const fault = (text: string): void => {
    if (firstFaults.length < FIRST_FEW) firstFaults.push(text);
  };
  manager.fromCluster$.subscribe((packet) => {
    const message = packet.message() as { s?: unknown; n?: unknown } | null;
    const n = message?.n;
    if (typeof message !== 'object' || message === null || message.s !== packet.name || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      malformed++;
      fault(`malformed packet from ${packet.name}: ${packet.dataMessage.slice(0, 120)}`);
      return;
    }
    let state = senders.get(packet.name);
    if (state === undefined) {
      state = { received: 0, next: 0, missing: new Set() };
      senders.set(packet.name, state);
    }
    state.received++;
    if (n === state.next) {
      state.next++;
    } else if (n > state.next) {
      gaps++;
      fault(`${packet.name}: got ${n} while expecting ${state.next} (gap of ${n - state.next})`);
      for (let missing = state.next; missing < n && state.missing.size < MAX_REMEMBERED_MISSING; missing++) state.missing.add(missing);
      state.next = n + 1;
    } else if (state.missing.delete(n)) {
      reorders++;
      fault(`${packet.name}: ${n} arrived after ${state.next - 1}`);
    } else {
      dups++;
      fault(`${packet.name}: ${n} arrived again (next expected ${state.next})`);
    }
  });

  // --- the sender
  let writable = true;
  manager.writable$.subscribe((w) => {
    writable = w;
  });
  let sent = 0;
  let sendMs = 0;
  let pauses = 0;
  let pausedMs = 0;
  let maxBufferedAmount = 0;
  let drained = false;
  let drainMs = 0;

  async function run(durationMs: number, drainLimitMs: number): Promise<void> {
    const filler = 'x'.repeat(options.payloadBytes ?? PAYLOAD_BYTES);
    const started = performance.now();
    const end = started + durationMs;
    while (performance.now() < end) {
      if (!writable) {
        pauses++;
        const waitFrom = performance.now();
        await firstValueFrom(manager.writable$.pipe(filter(Boolean)));
        pausedMs += performance.now() - waitFrom;
        continue;
      }
      manager.toCluster$.next({ s: name, n: sent, p: filler });
      sent++;
      const buffered = manager.bufferedAmount;
      if (buffered > maxBufferedAmount) maxBufferedAmount = buffered;
      if (sent % YIELD_EVERY === 0) await yieldToLoop();
    }
    const stopped = performance.now();
    sendMs = stopped - started;
    // every byte handed to the kernel: nothing of ours is left in ws's buffers
    const drainEnd = stopped + drainLimitMs;
    while (!(manager.bufferedAmount === 0 && writable) && performance.now() < drainEnd) await sleep(10);
    drained = manager.bufferedAmount === 0 && writable;
    drainMs = performance.now() - stopped;
    tell({ type: 'sent', name: name!, sent, sendMs: Math.round(sendMs), pauses, pausedMs: Math.round(pausedMs), maxBufferedAmount, drained, drainMs: Math.round(drainMs) });
  }

  async function stop(expected: Readonly<Record<string, number>>, drainLimitMs: number): Promise<void> {
    const from = performance.now();
    const done = (): boolean => Object.entries(expected).every(([sender, count]) => sender === name || (senders.get(sender)?.received ?? 0) >= count);
    while (!done() && performance.now() - from < drainLimitMs) await sleep(20);
    const receivedPerSender: Record<string, number> = {};
    let missing = 0;
    for (const [sender, state] of senders) {
      receivedPerSender[sender] = state.received;
      missing += state.missing.size;
    }
    tell({
      type: 'report',
      name: name!,
      sent,
      sendMs: Math.round(sendMs),
      pauses,
      pausedMs: Math.round(pausedMs),
      maxBufferedAmount,
      drained,
      receivedPerSender,
      complete: done(),
      receiveWaitMs: Math.round(performance.now() - from),
      gaps,
      missing,
      dups,
      reorders,
      malformed,
      leaves,
      rejoins,
      slowConsumerDrops,
      warnings,
      firstWarnings,
      firstFaults,
    });
  }

  let started = false;
  process.on('message', (raw: ToChild) => {
    switch (raw.type) {
      case 'peers': {
        const names = Object.keys(raw.peers);
        for (const [peer, addr] of Object.entries(raw.peers)) manager.addNode(peer, addr);
        const subscription = manager.members$.subscribe((members) => {
          if (joinedAllAt !== undefined || !names.every((peer) => members.get(peer)?.status === 'Online')) return;
          joinedAllAt = performance.now();
          tell({ type: 'joined-all', name: name! });
          queueMicrotask(() => subscription.unsubscribe());
        });
        break;
      }
      case 'start':
        if (started) return;
        started = true;
        run(raw.durationMs, raw.drainMs).catch((error: unknown) => die(`run failed: ${String(error)}`));
        break;
      case 'stop':
        stop(raw.expected, raw.drainMs).catch((error: unknown) => die(`stop failed: ${String(error)}`));
        break;
      case 'shutdown':
        manager.shutdown().then(
          () => {
            tell({ type: 'stopped', name: name! });
            process.disconnect();
          },
          (error: unknown) => die(`shutdown failed: ${String(error)}`),
        );
        break;
    }
  });

  const address = await manager.listen('127.0.0.1:0');
  tell({ type: 'listening', name: name!, address });
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === SELF;
if (isMain) {
  childMain().catch((error: unknown) => {
    process.stderr.write(`soak-node: ${String(error)}\n`);
    process.exit(2);
  });
}

// ---------------------------------------------------------------------------
// The parent side
// ---------------------------------------------------------------------------

export interface SoakOptions {
  /** How many processes (default 5). */
  readonly nodes?: number;
  /** How long each node broadcasts, ms. */
  readonly durationMs: number;
  /** Bound of each drain phase (sender buffers, then receivers catching up), ms. Default 15 000. */
  readonly drainMs?: number;
  /** Per-peer send buffer of each manager (default: the library's). */
  readonly sendBufferBytes?: number;
  /** Filler bytes per message (default PAYLOAD_BYTES). */
  readonly payloadBytes?: number;
  /** Progress lines. */
  readonly progress?: (line: string) => void;
}

export interface SoakResult {
  readonly names: readonly string[];
  readonly durationMs: number;
  /** Sent reports, by sender name. */
  readonly sent: ReadonlyMap<string, SentReport>;
  /** Final reports, by node name. */
  readonly reports: ReadonlyMap<string, Report>;
  /** Wall time of each phase, ms. */
  readonly phases: Readonly<Record<string, number>>;
  /** Wall time from the first fork to the last exit, ms. */
  readonly wallMs: number;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly messages$: Observable<ToParent>;
  readonly exited: Promise<void>;
  stderrTail(): string;
}

const STDERR_TAIL_LINES = 40;

function forkChild(name: string, options: ChildOptions, expectExit: () => boolean): Child {
  const args = [name, JSON.stringify(options)];
  const child = fork(SELF, args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, RXC_SECRET: SECRET },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter((line) => line !== ''));
    tail.splice(0, Math.max(0, tail.length - STDERR_TAIL_LINES));
  });
  const stderrTail = (): string => (tail.length === 0 ? '(no stderr)' : tail.join('\n'));
  const messages$ = new ReplaySubject<ToParent>();
  child.on('message', (message: ToParent) => messages$.next(message));
  const exited = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      if (expectExit()) messages$.complete();
      else messages$.error(new Error(`soak node ${name} exited unexpectedly (code ${code}, signal ${signal}); stderr:\n${stderrTail()}`));
      done();
    });
  });
  child.once('error', (error) => messages$.error(new Error(`soak node ${name}: ${error.message}`)));
  return { name, process: child, messages$, exited, stderrTail };
}

function expect<T extends ToParent['type']>(child: Child, type: T, ms: number): Promise<Extract<ToParent, { type: T }>> {
  return first(child.messages$, (m) => m.type === type || m.type === 'failed', ms, `${child.name} to report ${type}`).then((m) => {
    if (m.type === 'failed') throw new Error(`soak node ${child.name} failed: ${m.message}; stderr:\n${child.stderrTail()}`);
    return m as Extract<ToParent, { type: T }>;
  });
}

/**
 * Runs the soak and returns every node's figures; asserts nothing about
 * delivery (the caller does), but fails when a phase times out or a child
 * dies. Every child is killed before this settles, on success or failure.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const count = opts.nodes ?? 5;
  const drainMs = opts.drainMs ?? 15_000;
  const progress = opts.progress ?? ((): void => undefined);
  const names = Array.from({ length: count }, (_, i) => `S${i + 1}`);
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  let mark = t0;
  const phase = (label: string): void => {
    const now = performance.now();
    phases[label] = Math.round(now - mark);
    mark = now;
    progress(`soak: ${label} done in ${phases[label]} ms`);
  };

  let ending = false;
  const childOptions: ChildOptions = {
    ...(opts.sendBufferBytes === undefined ? {} : { sendBufferBytes: opts.sendBufferBytes }),
    ...(opts.payloadBytes === undefined ? {} : { payloadBytes: opts.payloadBytes }),
  };
  const children = names.map((name) => forkChild(name, childOptions, () => ending));
  try {
    const listening = await Promise.all(children.map((c) => expect(c, 'listening', 20_000)));
    phase('listen');
    for (const c of children) {
      const peers: Record<string, string> = {};
      for (const l of listening) if (l.name !== c.name) peers[l.name] = l.address;
      c.process.send({ type: 'peers', peers } satisfies ToChild);
    }
    await Promise.all(children.map((c) => expect(c, 'joined-all', 20_000)));
    phase('join');

    for (const c of children) c.process.send({ type: 'start', durationMs: opts.durationMs, drainMs } satisfies ToChild);
    const sentReports = await Promise.all(children.map((c) => expect(c, 'sent', opts.durationMs + drainMs + 15_000)));
    phase('send+drain');

    const expected: Record<string, number> = {};
    for (const s of sentReports) expected[s.name] = s.sent;
    for (const c of children) c.process.send({ type: 'stop', expected, drainMs } satisfies ToChild);
    const reports = await Promise.all(children.map((c) => expect(c, 'report', drainMs + 15_000)));
    phase('receive+report');

    ending = true;
    for (const c of children) c.process.send({ type: 'shutdown' } satisfies ToChild);
    await Promise.all(children.map((c) => expect(c, 'stopped', 10_000)));
    await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5000)]);
    phase('shutdown');

    return {
      names,
      durationMs: opts.durationMs,
      sent: new Map(sentReports.map((s) => [s.name, s])),
      reports: new Map(reports.map((r) => [r.name, r])),
      phases,
      wallMs: Math.round(performance.now() - t0),
    };
  } finally {
    ending = true;
    for (const c of children) {
      if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    }
    await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5000)]);
  }
}

/** Every delivery fault of a soak, as lines; empty when every message arrived once and in order. */
export function deliveryFaults(result: SoakResult): string[] {
  const faults: string[] = [];
  for (const [receiver, r] of result.reports) {
    for (const [sender, s] of result.sent) {
      if (sender === receiver) continue;
      const got = r.receivedPerSender[sender] ?? 0;
      if (got !== s.sent) faults.push(`${receiver} received ${got} of ${s.sent} messages from ${sender}`);
    }
    if (r.receivedPerSender[receiver] !== undefined) faults.push(`${receiver} received ${r.receivedPerSender[receiver]} of its own messages`);
    for (const key of ['gaps', 'missing', 'dups', 'reorders', 'malformed', 'rejoins', 'slowConsumerDrops'] as const) {
      if (r[key] !== 0) faults.push(`${receiver}: ${key} ${r[key]}`);
    }
    if (r.leaves.length > 0) faults.push(`${receiver} saw leaves: ${r.leaves.map((l) => `${l.node} (${l.reason}) at +${l.at} ms`).join(', ')}`);
    if (!r.drained) faults.push(`${receiver}'s send buffers did not drain`);
    if (!r.complete) faults.push(`${receiver} did not receive every expected message within the drain time`);
    if (r.sent === 0) faults.push(`${receiver} sent nothing`);
    for (const f of r.firstFaults) faults.push(`  ${receiver}: ${f}`);
  }
  return faults;
}
