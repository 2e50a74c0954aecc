/**
 * Connect/disconnect cycles against one manager A, in a process of its own
 * run with --expose-gc, for test/leaks.test.ts:
 *
 *   node --expose-gc --import tsx test/support/leaks-child.ts <rawCycles> <managerCycles>
 *
 * A (with its real peer B, joined) sees `rawCycles` raw clients do a full
 * handshake (protocol 2: hello, challenge, auth with a fresh instance and
 * incarnation, welcome) as its configured node R, send one msg and go (even cycles stay
 * until A announced R's join and hang up with a close frame; odd ones go
 * right after the welcome, without a close frame), then `managerCycles` real
 * Managers named R that join A, broadcast once and shut down. Before and after
 * (after warm-up cycles, and gc) it measures process.getActiveResourcesInfo()
 * by type and heapUsed, and counts how many of the shut-down R managers are
 * still reachable (WeakRef). Prints one JSON line `{"type":"result",...}` on
 * stdout, or `{"type":"failed","error"}`; exits 0 either way, 2 on misuse.
 */
import { filter, firstValueFrom, take, timeout, type Observable } from 'rxjs';
import { Manager, type ManagerOptions } from '../../src/index.js';
import { FAST_SETTINGS } from '../../src/settings.js';
import { membersNow, SECRET } from './cluster.js';
import { rawJoin, within } from './raw.js';

const [rawArg, managerArg] = process.argv.slice(2);
const RAW_CYCLES = Number(rawArg);
const MANAGER_CYCLES = Number(managerArg);
if (!Number.isInteger(RAW_CYCLES) || !Number.isInteger(MANAGER_CYCLES)) {
  process.stderr.write('usage: leaks-child.ts <rawCycles> <managerCycles>\n');
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('leaks-child.ts needs --expose-gc\n');
  process.exit(2);
}

// an orphan (the test runner died without killing us) must not linger
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(3);
}, 500).unref();

/** joinDelay short, so that a cycle can wait for R's join and leave and stay fast. */
const OPTIONS: ManagerOptions = { settings: { ...FAST_SETTINGS, joinDelay: 10 } };
const WARM_UP_RAW = 50;
const WARM_UP_MANAGERS = 5;

/** Samples per snapshot, 25 ms apart. */
const SAMPLES = 8;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Snapshot {
  readonly handles: Record<string, number>;
  readonly total: number;
  readonly heapUsed: number;
  readonly rss: number;
}

async function snapshot(): Promise<Snapshot> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(20);
  }
  // A's redials to R's dead address (127.0.0.1:1) open a socket for a moment; one sample can
  // catch it (CI once counted 3 sockets before, 2 after). The fewest of each type over a
  // few samples is what stays open; a leaked handle is in every sample.
  let handles: Record<string, number> | undefined;
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(25);
    const now: Record<string, number> = {};
    for (const type of process.getActiveResourcesInfo()) now[type] = (now[type] ?? 0) + 1;
    if (handles === undefined) handles = now;
    else {
      const prev: Record<string, number> = handles;
      handles = {};
      for (const type of new Set([...Object.keys(prev), ...Object.keys(now)])) handles[type] = Math.min(prev[type] ?? 0, now[type] ?? 0);
    }
  }
  handles = handles ?? {};
  const { heapUsed, rss } = process.memoryUsage();
  return { handles, total: Object.values(handles).reduce((x, y) => x + y, 0), heapUsed, rss };
}

function next<T>(source$: Observable<T>, predicate: (value: T) => boolean, ms: number, what: string): Promise<T> {
  return firstValueFrom(source$.pipe(filter(predicate), take(1), timeout({ first: ms, with: () => Promise.reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) })));
}

async function main(): Promise<Record<string, unknown>> {
  const a = new Manager('A', SECRET, OPTIONS);
  const b = new Manager('B', SECRET, OPTIONS);
  let errors = 0;
  const firstErrors: string[] = [];
  a.log$.subscribe((entry) => {
    if (entry.level !== 'error') return;
    errors++;
    if (firstErrors.length < 5) firstErrors.push(String(entry));
  });
  let rJoins = 0;
  let rLeaves = 0;
  let bLeaves = 0;
  a.nodeJoin$.subscribe((n) => {
    if (n === 'R') rJoins++;
  });
  a.nodeLeave$.subscribe((n) => {
    if (n === 'R') rLeaves++;
    if (n === 'B') bLeaves++;
  });
  let received = 0;
  a.fromCluster$.subscribe((p) => {
    if (p.name === 'R') received++;
  });
  try {
    const aAddress = await a.listen('127.0.0.1:0');
    const bAddress = await b.listen('127.0.0.1:0');
    a.addNode('B', bAddress);
    b.addNode('A', aAddress);
    a.addNode('R', '127.0.0.1:1'); // configured; A's own dials never reach it, R always dials in
    await next(a.members$, (m) => m.get('B')?.status === 'Online', 5000, 'B to join A');

    const rOffline = (): Promise<unknown> => next(a.members$, (m) => m.get('R')?.status === 'Offline', 3000, 'R Offline on A');
    let sent = 0;
    const rawCycle = async (i: number): Promise<void> => {
      const stay = i % 2 === 0;
      const joined = stay ? next(a.nodeJoin$, (n) => n === 'R', 3000, "A to announce R's join") : undefined;
      const client = await rawJoin(aAddress, 'R', 'A', SECRET, { autoPong: true });
      try {
        client.send({ type: 'msg', from: 'R', time: i, data: { cycle: i } });
        sent++;
        if (joined !== undefined) {
          await joined;
          const left = next(a.nodeLeave$, (n) => n === 'R', 3000, "A to announce R's leave");
          client.ws.close(1000, 'bye');
          await within(client.closed, 3000, 'the close handshake');
          await left;
        }
      } finally {
        client.destroy();
      }
      await rOffline();
    };
    const managerRefs: WeakRef<Manager>[] = [];
    const managerCycle = async (i: number, track: boolean): Promise<void> => {
      const r = new Manager('R', SECRET, OPTIONS);
      if (track) managerRefs.push(new WeakRef(r));
      try {
        const joinedA = next(a.nodeJoin$, (n) => n === 'R', 5000, 'A to announce R');
        const joinedR = next(r.nodeJoin$, (n) => n === 'A', 5000, 'R to announce A');
        r.addNode('A', aAddress);
        await r.listen('127.0.0.1:0');
        await Promise.all([joinedA, joinedR]);
        const got = next(a.fromCluster$, (p) => p.name === 'R', 3000, "A to receive R's broadcast");
        r.toCluster$.next({ manager: i });
        sent++;
        await got;
        const left = next(a.nodeLeave$, (n) => n === 'R', 3000, "A to announce R's leave");
        await r.shutdown();
        await left;
      } finally {
        await r.shutdown();
      }
      await rOffline();
    };

    for (let i = 0; i < WARM_UP_RAW; i++) await rawCycle(i);
    for (let i = 0; i < WARM_UP_MANAGERS; i++) await managerCycle(i, false);
    await sleep(200);
    const before = await snapshot();

    const rawStarted = performance.now();
    for (let i = 0; i < RAW_CYCLES; i++) await rawCycle(i);
    const rawMs = performance.now() - rawStarted;
    const managerStarted = performance.now();
    for (let i = 0; i < MANAGER_CYCLES; i++) await managerCycle(i, true);
    const managerMs = performance.now() - managerStarted;

    // let the last closes finish, then measure; poll a little for stragglers, and say how long it took
    const settleStarted = performance.now();
    await sleep(200);
    let after = await snapshot();
    while (after.total > before.total + 2 && performance.now() - settleStarted < 3000) {
      await sleep(100);
      after = await snapshot();
    }
    const settleMs = performance.now() - settleStarted;
    const r = membersNow(a).get('R');
    const b2 = membersNow(a).get('B');
    return {
      type: 'result',
      rawCycles: RAW_CYCLES,
      managerCycles: MANAGER_CYCLES,
      warmUp: { raw: WARM_UP_RAW, managers: WARM_UP_MANAGERS },
      rawMs,
      managerMs,
      settleMs,
      before,
      after,
      managersAlive: managerRefs.filter((ref) => ref.deref() !== undefined).length,
      managersTracked: managerRefs.length,
      sent,
      received,
      packets: r?.packets ?? null,
      rStatus: r?.status ?? null,
      rConfigured: r?.configured ?? null,
      bStatus: b2?.status ?? null,
      rJoins,
      rLeaves,
      bLeaves,
      errors,
      firstErrors,
    };
  } finally {
    await Promise.all([a.shutdown(), b.shutdown()]);
  }
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => process.stdout.write(`${JSON.stringify({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) })}\n`),
);
