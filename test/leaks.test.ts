/**
 * Leaks: after many connect/disconnect cycles of a peer, a manager's open
 * handles and heap are back where they started. The cycles run in a child
 * process with --expose-gc (test/support/leaks-child.ts), which prints its
 * measurements as JSON; the assertions are here.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from './support/raw.js';
import { scope } from './support/scope.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RAW_CYCLES = 1000;
const MANAGER_CYCLES = 500;
/** Handles may differ by this much (a redial timer or socket of A's back-off to R's dead address in flight). */
const HANDLE_SLACK = 2;
const HEAP_GROWTH_LIMIT = 10 * 1024 * 1024;

interface Snapshot {
  readonly handles: Record<string, number>;
  readonly total: number;
  readonly heapUsed: number;
  readonly rss: number;
}

interface Result {
  readonly type: 'result';
  readonly rawCycles: number;
  readonly managerCycles: number;
  readonly warmUp: { readonly raw: number; readonly managers: number };
  readonly rawMs: number;
  readonly managerMs: number;
  readonly settleMs: number;
  readonly before: Snapshot;
  readonly after: Snapshot;
  readonly managersAlive: number;
  readonly managersTracked: number;
  readonly sent: number;
  readonly received: number;
  readonly packets: number | null;
  readonly rStatus: string | null;
  readonly rConfigured: boolean | null;
  readonly bStatus: string | null;
  readonly rJoins: number;
  readonly rLeaves: number;
  readonly bLeaves: number;
  readonly errors: number;
  readonly firstErrors: readonly string[];
}

/** Runs the child to its end (or kills it after `ms`) and returns its result line. */
async function runCycles(t: TestContext, raw: number, managers: number, ms: number): Promise<Result> {
  const defer = scope(t);
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/support/leaks-child.ts', String(raw), String(managers)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await within(exited, 5000, 'the leaks child to exit');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await within(exited, ms, `the leaks child to finish ${raw} raw and ${managers} manager cycles`);
  const line = out.trim().split('\n').pop() ?? '';
  let parsed: { type?: unknown; error?: unknown };
  try {
    parsed = JSON.parse(line) as { type?: unknown; error?: unknown };
  } catch {
    throw new Error(`the leaks child (exit ${code}) printed no result: ${out.slice(-2000)}`);
  }
  if (parsed.type !== 'result') throw new Error(`the leaks child failed: ${String(parsed.error)}`);
  assert.equal(code, 0, 'the leaks child exited cleanly');
  return parsed as Result;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

describe('no leak over connect/disconnect cycles', () => {
  it(`returns to its starting handles and heap after ${RAW_CYCLES} raw handshake cycles and ${MANAGER_CYCLES} real manager join/shutdown cycles of a peer`, { timeout: 58_000 }, async (t) => {
    const r = await runCycles(t, RAW_CYCLES, MANAGER_CYCLES, 50_000);

    t.diagnostic(`${r.rawCycles} raw cycles in ${r.rawMs.toFixed(0)} ms (${(r.rawMs / r.rawCycles).toFixed(1)} ms each); ${r.managerCycles} manager cycles in ${r.managerMs.toFixed(0)} ms (${(r.managerMs / r.managerCycles).toFixed(1)} ms each); settled in ${r.settleMs.toFixed(0)} ms`);
    t.diagnostic(`handles before ${r.before.total} ${JSON.stringify(r.before.handles)}, after ${r.after.total} ${JSON.stringify(r.after.handles)}`);
    t.diagnostic(`heapUsed before ${mb(r.before.heapUsed)}, after ${mb(r.after.heapUsed)} (${mb(r.after.heapUsed - r.before.heapUsed)}); rss ${mb(r.before.rss)} -> ${mb(r.after.rss)}`);
    t.diagnostic(`${r.managersAlive} of ${r.managersTracked} shut-down R managers still reachable after gc; A counted ${r.packets} packets from R, ${r.received} delivered, ${r.sent} sent; R joined ${r.rJoins} and left ${r.rLeaves} times`);

    assert.deepEqual(r.firstErrors, [], 'A logged no error');
    assert.equal(r.errors, 0);
    assert.ok(Math.abs(r.after.total - r.before.total) <= HANDLE_SLACK, `handles ${r.before.total} -> ${r.after.total}: ${JSON.stringify(r.before.handles)} -> ${JSON.stringify(r.after.handles)}`);
    assert.equal(r.after.handles['TCPSocketWrap'] ?? 0, r.before.handles['TCPSocketWrap'] ?? 0, 'no socket left open (A-B link only)');
    assert.equal(r.after.handles['TCPServerWrap'] ?? 0, r.before.handles['TCPServerWrap'] ?? 0, 'no server left listening (the R managers closed theirs)');
    assert.ok(r.after.heapUsed - r.before.heapUsed < HEAP_GROWTH_LIMIT, `heap grew by ${mb(r.after.heapUsed - r.before.heapUsed)} (limit ${mb(HEAP_GROWTH_LIMIT)})`);
    assert.equal(r.managersTracked, MANAGER_CYCLES);
    assert.equal(r.managersAlive, 0, 'every shut-down R manager can be garbage-collected');

    // R is configured on A: after the last cycle it is Offline, and its packet counter matches what it sent
    assert.equal(r.rConfigured, true);
    assert.equal(r.rStatus, 'Offline');
    assert.equal(r.bStatus, 'Online', 'B stayed Online');
    assert.equal(r.bLeaves, 0, 'B never left');
    const totalSent = r.warmUp.raw + r.warmUp.managers + RAW_CYCLES + MANAGER_CYCLES;
    assert.equal(r.sent, totalSent);
    assert.equal(r.received, totalSent, 'every msg R sent reached fromCluster$');
    assert.equal(r.packets, totalSent, "A's packets counter for R counts every msg once");
    // cycles that waited for R's join saw exactly one; one that hung up at once may have outlived joinDelay (10 ms) on a busy machine
    const waited = Math.ceil(r.warmUp.raw / 2) + r.warmUp.managers + Math.ceil(RAW_CYCLES / 2) + MANAGER_CYCLES;
    const hungUp = Math.floor(r.warmUp.raw / 2) + Math.floor(RAW_CYCLES / 2);
    assert.ok(r.rJoins >= waited && r.rJoins <= waited + hungUp, `R joined ${r.rJoins} times; ${waited} cycles waited for its join`);
    assert.equal(r.rLeaves, r.rJoins, 'every join of R was followed by exactly one leave');
  });
});
