/**
 * A five-node cluster on the in-memory network, in virtual time (issue "One
 * core, any transport", point 4): ten minutes of cluster life (joins, a 3|2
 * partition and its heal, kill -9 and restart, freezes long and short, a
 * one-way cut, added latency) run in well under two seconds of wall time, and
 * the same seed gives the same events at the same virtual times, on a
 * VirtualTimeScheduler and on a TestScheduler used outside run().
 *
 * Default settings throughout: pingInterval 5000, joinDelay 500, readTimeout
 * 11000, connectInterval 2000, connectTimeout 10000, maxConnectInterval 30000.
 * Every link of the first start comes up at 0 (latency 0), so pings go both
 * ways at every multiple of pingInterval: a fault applied at such a moment
 * starts a silence of exactly the time since the fault.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { VirtualTimeScheduler, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DEFAULT_SETTINGS, Manager, STATUS, type ApiClusterNode } from '../src/index.js';
import { MemoryNetwork } from '../src/testing.js';
import { viewSettle } from '../src/limits.js';
import { MemoryCluster } from './support/memoryCluster.js';

const SECRET = 'a-cluster-secret-of-at-least-32-bytes';
const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;
const { joinDelay, readTimeout, pingInterval, connectTimeout, maxConnectInterval } = DEFAULT_SETTINGS;
/** How long a loss settles before the view leaves a node out for it (and a healed one before it takes it back). */
const settle = viewSettle(readTimeout);
/** The whole scenario, in ms of virtual time. */
const TEN_MINUTES = 600_000;
/** Latency added near the end, one way, in ms. */
const LATENCY = 50;
/** The one timed assertion: ten minutes of cluster time in under this much wall time. */
const WALL_BUDGET_MS = 2_000;
/**
 * A peer that left is redialed with back-off; once the way is open again the
 * next dial goes through within one capped wait plus one dial that was
 * already under way (it times out after connectTimeout), then joinDelay.
 */
const REJOIN_BOUND = connectTimeout + maxConnectInterval + joinDelay;

/** One line of a node's story: what it saw, at which virtual time. */
type Entry =
  | { readonly t: number; readonly node: string; readonly type: 'join'; readonly peer: string }
  | { readonly t: number; readonly node: string; readonly type: 'leave'; readonly peer: string; readonly reason: string }
  | { readonly t: number; readonly node: string; readonly type: 'quorum'; readonly value: boolean };

type Membership = Extract<Entry, { type: 'join' | 'leave' }>;

/** A suspicion raised or cleared, or a view change: recorded beside the membership log. */
type Signal =
  | { readonly t: number; readonly node: string; readonly type: 'suspect' | 'alive'; readonly peer: string }
  | { readonly t: number; readonly node: string; readonly type: 'view'; readonly id: string; readonly members: readonly string[]; readonly converged: boolean };

/** A small, seedable PRNG (mulberry32): the managers' jitter source. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(seed: number, name: string): number {
  let h = seed;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1);
  return h;
}

/** Five managers on one memory network and one virtual clock, with everything they tell recorded. */
class Sim extends MemoryCluster {
  readonly log: Entry[] = [];
  /** Suspicions and view changes, in order. */
  readonly signals: Signal[] = [];
  private readonly views = new Map<string, { id: string; members: readonly string[]; converged: boolean }>();
  /** Membership events whose own timestamp is not the virtual time they were emitted at. */
  readonly badStamps: string[] = [];
  private readonly quorum = new Map<string, boolean>();
  private readonly members = new Map<string, ReadonlyMap<string, ApiClusterNode>>();

  constructor(
    scheduler: VirtualTimeScheduler,
    private readonly seed: number,
  ) {
    super(scheduler, NAMES);
  }

  /** Starts (or restarts) `name`: a new Manager on a new transport, configured with the four others, listening on its name. */
  start(name: string): Promise<Manager> {
    return this.launch(name, (transport) => new Manager(name, SECRET, { transport, scheduler: this.scheduler, random: seeded(seedOf(this.seed, name)) }), (m) => this.record(name, m));
  }

  private record(name: string, m: Manager): Subscription {
    const rec = m.membership$.subscribe((e) => {
      const t = this.now();
      if (e.time.getTime() !== t) this.badStamps.push(`${name}: ${e.type} ${e.node} stamped ${e.time.getTime()} at ${t}`);
      if (e.type === 'join') this.log.push({ t, node: name, type: 'join', peer: e.node });
      else if (e.type === 'leave') this.log.push({ t, node: name, type: 'leave', peer: e.node, reason: e.reason });
      else if (e.type === 'suspect' || e.type === 'alive') this.signals.push({ t, node: name, type: e.type, peer: e.node });
    });
    rec.add(
      m.view$.subscribe((view) => {
        this.views.set(name, view);
        this.signals.push({ t: this.now(), node: name, type: 'view', id: view.id, members: view.members, converged: view.converged });
      }),
    );
    rec.add(
      m.quorum$.subscribe((value) => {
        this.quorum.set(name, value);
        this.log.push({ t: this.now(), node: name, type: 'quorum', value });
      }),
    );
    rec.add(m.members$.subscribe((members) => this.members.set(name, members)));
    return rec;
  }

  protected forget(name: string): void {
    this.quorum.delete(name);
    this.members.delete(name);
  }

  /** Joins and leaves seen since `since` (inclusive), optionally by one node, about one peer. */
  membership(since: number, filter: { readonly node?: string; readonly peer?: string; readonly type?: 'join' | 'leave' } = {}): Membership[] {
    return this.log.filter(
      (e): e is Membership =>
        e.type !== 'quorum' &&
        e.t >= since &&
        (filter.node === undefined || e.node === filter.node) &&
        (filter.peer === undefined || e.peer === filter.peer) &&
        (filter.type === undefined || e.type === filter.type),
    );
  }

  quorumChanges(since: number, node?: string): Extract<Entry, { type: 'quorum' }>[] {
    return this.log.filter((e): e is Extract<Entry, { type: 'quorum' }> => e.type === 'quorum' && e.t >= since && (node === undefined || e.node === node));
  }

  quorumOf(name: string): boolean | undefined {
    return this.quorum.get(name);
  }

  viewOf(name: string): { id: string; members: readonly string[]; converged: boolean } | undefined {
    return this.views.get(name);
  }

  /** Suspicions raised or cleared since `since` (inclusive), as 'observer?peer@t' / 'observer!peer@t'. */
  suspicions(since: number): string[] {
    return this.signals.filter((s) => s.t >= since && s.type !== 'view').map((s) => `${s.node}${s.type === 'suspect' ? '?' : '!'}${'peer' in s ? s.peer : ''}@${s.t}`);
  }

  membersOf(name: string): ReadonlyMap<string, ApiClusterNode> {
    return this.members.get(name) ?? new Map();
  }

  /** Every live node lists exactly the four others, once each, all Online, and has quorum. */
  assertAllOnline(what: string): void {
    assert.equal(this.managers.size, NAMES.length, `${what}: five live managers`);
    for (const name of NAMES) {
      const members = this.membersOf(name);
      const others = NAMES.filter((n) => n !== name);
      assert.deepEqual([...members.keys()].sort(), others, `${what}: ${name} lists each other node exactly once`);
      for (const peer of others) assert.equal(members.get(peer)?.status, STATUS.ONLINE, `${what}: ${name} sees ${peer} Online`);
      assert.equal(this.quorumOf(name), true, `${what}: ${name} has quorum`);
    }
  }
}

/** `join` events per (observer, peer) in `events`, as 'observer→peer': count. */
function countJoins(events: readonly Membership[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) if (e.type === 'join') counts.set(`${e.node}→${e.peer}`, (counts.get(`${e.node}→${e.peer}`) ?? 0) + 1);
  return counts;
}

/** Every 'x→y' and 'y→x' for x in `a`, y in `b` (distinct), sorted. */
function pairs(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  for (const x of a) for (const y of b) if (x !== y) out.push(`${x}→${y}`, `${y}→${x}`);
  return [...new Set(out)].sort();
}

type Phase = (name: string, body: () => void | Promise<void>) => Promise<void>;

/** Phases as subtests when a test context is given, plainly otherwise (the determinism runs). */
function phases(t: TestContext | undefined): Phase {
  return async (name, body) => {
    if (t === undefined) await body();
    else await t.test(name, async () => body());
  };
}

interface Outcome {
  readonly log: readonly Entry[];
  readonly wallMs: number;
  readonly virtualMs: number;
}

/**
 * The ten-minute scenario, with its assertions. Fault times are absolute
 * virtual times; each phase starts where the previous one left the clock.
 */
async function scenario(scheduler: VirtualTimeScheduler, seed: number, t?: TestContext): Promise<Outcome> {
  const phase = phases(t);
  const wallStart = performance.now();
  const sim = new Sim(scheduler, seed);
  const start = sim.now();
  assert.equal(start, 0, 'a fresh scheduler starts at 0');
  try {
    await phase('joins: every node sees 4 joins and quorum at exactly joinDelay', async () => {
      for (const name of NAMES) await sim.start(name);
      sim.advance(joinDelay - 1);
      assert.deepEqual(sim.membership(start), [], 'no join before joinDelay has passed');
      for (const name of NAMES) assert.equal(sim.quorumOf(name), false, `${name}: no quorum before any join`);
      sim.advance(1);
      for (const name of NAMES) {
        const joins = sim.membership(start, { node: name });
        assert.deepEqual(joins.map((e) => e.type === 'join' && e.peer).sort(), NAMES.filter((n) => n !== name), `${name} sees each other node join once`);
        for (const e of joins) assert.equal(e.t, start + joinDelay, `${name} sees ${e.peer} join at exactly joinDelay`);
        assert.equal(sim.quorumOf(name), true, `${name} has quorum at joinDelay`);
        assert.deepEqual(sim.quorumChanges(start + 1, name).map((e) => e.t), [start + joinDelay], `${name}: quorum turns true at joinDelay, once`);
      }
      sim.advanceTo(20_000);
      assert.deepEqual(sim.membership(start + joinDelay + 1), [], 'a quiet cluster: nothing after the joins');
      sim.assertAllOnline('after the joins');
    });

    const majority = ['n1', 'n2', 'n3'];
    const minority = ['n4', 'n5'];
    const partitionAt = 20_000; // a multiple of pingInterval: every link has just heard from its peer
    const healAt = 40_000;
    await phase('a 3|2 partition: the three keep quorum, the two lose it; leaves with reason timeout after readTimeout', () => {
      assert.equal(sim.now(), partitionAt);
      sim.network.partition(majority, minority);
      sim.advance(readTimeout - 1);
      assert.deepEqual(sim.membership(partitionAt), [], 'nobody is dropped before readTimeout of silence');
      sim.advanceTo(partitionAt + readTimeout + pingInterval);
      const leaves = sim.membership(partitionAt);
      assert.deepEqual(
        leaves.map((e) => `${e.node}→${e.peer}`).sort(),
        pairs(majority, minority),
        'each side sees each node of the other side leave, once',
      );
      for (const e of leaves) {
        assert.equal(e.type, 'leave');
        assert.equal(e.type === 'leave' && e.reason, 'timeout', `${e.node} sees ${e.peer} leave with reason timeout`);
        assert.ok(e.t >= partitionAt + readTimeout, `${e.node}→${e.peer}: not before readTimeout after the partition (at ${e.t})`);
        assert.ok(e.t <= partitionAt + readTimeout + pingInterval, `${e.node}→${e.peer}: within readTimeout + pingInterval (at ${e.t})`);
      }
      for (const name of majority) {
        assert.equal(sim.quorumOf(name), true, `${name} (3 of 5) keeps quorum`);
        assert.deepEqual(sim.quorumChanges(partitionAt, name), [], `${name}: quorum never wavers`);
      }
      for (const name of minority) {
        assert.equal(sim.quorumOf(name), false, `${name} (2 of 5) loses quorum`);
        const lastLeave = Math.max(...sim.membership(partitionAt, { node: name }).map((e) => e.t));
        assert.deepEqual(sim.quorumChanges(partitionAt, name).map((e) => e.t), [lastLeave], `${name}: quorum lost once, with the leave that cost it`);
      }
      sim.advanceTo(healAt);
      assert.deepEqual(sim.membership(partitionAt + readTimeout + pingInterval + 1), [], 'no join across the partition');
    });

    await phase('heal: exactly one rejoin per peer pair, no duplicate members', () => {
      sim.network.heal();
      sim.advanceTo(100_000);
      const after = sim.membership(healAt);
      const cross = pairs(majority, minority);
      assert.deepEqual(after.filter((e) => e.type === 'leave'), [], 'no leave after the heal');
      const joins = countJoins(after);
      assert.deepEqual([...joins.keys()].sort(), cross, 'joins only between nodes the partition separated');
      for (const [pair, count] of joins) assert.equal(count, 1, `${pair}: exactly one join after the heal`);
      for (const e of after) assert.ok(e.t <= healAt + REJOIN_BOUND, `${e.node}→${e.peer} rejoined within ${REJOIN_BOUND} ms of the heal (at ${e.t})`);
      sim.assertAllOnline('after the heal');
    });

    const killAt = 100_000;
    const restartAt = 110_000;
    await phase('kill -9 one node: the others see it leave (lost) at once and keep quorum; a restart joins once', async () => {
      assert.equal(sim.now(), killAt);
      const old = sim.kill('n5');
      sim.advance(5); // latency is 0 here: the resets arrive at once
      const leaves = sim.membership(killAt);
      assert.deepEqual(leaves.map((e) => e.node).sort(), ['n1', 'n2', 'n3', 'n4'], 'each survivor sees n5 leave once');
      for (const e of leaves) {
        assert.equal(e.peer, 'n5');
        assert.equal(e.type === 'leave' && e.reason, 'lost', `${e.node} sees n5 leave with reason lost (its connection was reset)`);
        assert.ok(e.t <= killAt + 5, `${e.node} sees n5 leave promptly (at ${e.t})`);
      }
      for (const name of ['n1', 'n2', 'n3', 'n4']) {
        assert.equal(sim.quorumOf(name), true, `${name} keeps quorum with 4 of 5`);
        assert.equal(sim.membersOf(name).get('n5')?.status, STATUS.OFFLINE, `${name} shows n5 Offline`);
        assert.equal(sim.membersOf(name).get('n5')?.leaveReason, 'lost');
      }
      // the dead process is gone: shut its Manager down (its transport observes nothing)
      const gone = old.shutdown();
      sim.advance(2_000);
      await gone;
      sim.advanceTo(restartAt);
      assert.deepEqual(sim.membership(killAt + 6), [], 'nothing while n5 is down');

      await sim.start('n5');
      sim.advance(joinDelay);
      sim.advanceTo(170_000);
      const after = sim.membership(restartAt);
      assert.deepEqual(after.filter((e) => e.type === 'leave'), [], 'no leave around the restart');
      const joins = countJoins(after);
      assert.deepEqual([...joins.keys()].sort(), pairs(['n5'], ['n1', 'n2', 'n3', 'n4']), 'the new n5 and its peers see each other join');
      for (const [pair, count] of joins) assert.equal(count, 1, `${pair}: exactly one join after the restart`);
      // the new instance dials every peer at once: each link is up at restartAt
      for (const e of after) assert.equal(e.t, restartAt + joinDelay, `${e.node}→${e.peer} joins at exactly joinDelay after the restart`);
      sim.assertAllOnline('after the restart');
    });

    const freezeAt = 170_000;
    const longFreeze = readTimeout + 4_000;
    const thawAt = freezeAt + longFreeze;
    await phase('freeze n4 longer than readTimeout: its peers see it leave (timeout), after thaw it rejoins once', () => {
      assert.equal(sim.now(), freezeAt);
      sim.network.freeze('n4');
      sim.advanceTo(thawAt);
      const peers = ['n1', 'n2', 'n3', 'n5'];
      const leaves = sim.membership(freezeAt);
      assert.deepEqual(leaves.filter((e) => e.peer === 'n4').map((e) => e.node).sort(), peers, 'each peer sees n4 leave once');
      assert.deepEqual(leaves.filter((e) => e.node === 'n4').map((e) => e.peer).sort(), peers, 'n4, hearing nothing, sees each peer leave once');
      assert.equal(leaves.length, 8, 'no other leave');
      for (const e of leaves) {
        assert.equal(e.type === 'leave' && e.reason, 'timeout', `${e.node}→${e.peer}: reason timeout`);
        // the links of the restarted n5 are not in step with the pings of the first start:
        // the silence began at the last frame heard, up to pingInterval before the freeze
        assert.ok(e.t > freezeAt + readTimeout - pingInterval && e.t <= freezeAt + readTimeout, `${e.node}→${e.peer}: readTimeout after the last frame heard (at ${e.t})`);
      }
      for (const name of peers) assert.equal(sim.quorumOf(name), true, `${name} keeps quorum while n4 is frozen`);
      assert.equal(sim.quorumOf('n4'), false, 'n4 sees no one: no quorum');

      sim.network.thaw('n4');
      sim.advanceTo(245_000);
      const after = sim.membership(thawAt);
      assert.deepEqual(after.filter((e) => e.type === 'leave'), [], 'no leave after the thaw');
      const joins = countJoins(after);
      assert.deepEqual([...joins.keys()].sort(), pairs(['n4'], peers), 'n4 and its peers rejoin');
      for (const [pair, count] of joins) assert.equal(count, 1, `${pair}: exactly one join after the thaw`);
      // dials parked on the frozen node go through at the thaw
      for (const e of after) assert.ok(e.t >= thawAt + joinDelay && e.t <= thawAt + joinDelay + pingInterval, `${e.node}→${e.peer} rejoins soon after the thaw (at ${e.t})`);
      sim.assertAllOnline('after the long freeze');
    });

    const shortFreezeAt = 245_000;
    // the longest freeze that can never cost a leave, whatever the phase of the pings:
    // a link may have been silent for up to pingInterval already when the freeze begins
    const shortFreeze = readTimeout - pingInterval - 1;
    await phase('freeze n4 shorter than readTimeout: nobody sees any leave', () => {
      assert.equal(sim.now(), shortFreezeAt);
      sim.network.freeze('n4');
      sim.advance(shortFreeze);
      sim.network.thaw('n4');
      sim.advanceTo(280_000);
      assert.deepEqual(sim.membership(shortFreezeAt), [], 'no join, no leave');
      assert.deepEqual(sim.quorumChanges(shortFreezeAt), [], 'no quorum change');
      sim.assertAllOnline('after the short freeze');
    });

    const cutAt = 280_000; // a multiple of pingInterval: n1 and n2 have been linked since 0
    const cutHealAt = 310_000;
    await phase('a one-way cut n1→n2: n2 suspects n1, every node agrees on a view without n1, nobody leaves; the heal clears it', () => {
      // n2 stops hearing n1 and suspects it after readTimeout; n1 still hears
      // n2, and n3-n5 hear both, so nobody confirms the suspicion: no leave.
      // Suspected for readTimeout more, n1 is reported lost by n2: the largest
      // fully connected set is {n2..n5} on every node (n1 is the one not
      // seen), so n1, outside it, gives up quorum and n2 leads. The heal lets n1's frames through: the
      // suspicion clears and the view is whole again.
      assert.equal(sim.now(), cutAt);
      const before = NAMES.map((n) => sim.viewOf(n)?.id);
      assert.equal(new Set(before).size, 1, `one view before the cut: ${before.join(' ')}`);
      sim.network.cut('n1', 'n2');
      sim.advanceTo(cutAt + readTimeout - 1);
      assert.deepEqual(sim.suspicions(cutAt), [], 'no suspicion before readTimeout of silence');
      sim.advanceTo(cutAt + readTimeout);
      assert.deepEqual(sim.suspicions(cutAt), [`n2?n1@${cutAt + readTimeout}`], 'n2 suspects n1 after readTimeout; nobody else suspects anyone');
      assert.deepEqual(sim.quorumChanges(cutAt), [], 'a suspicion alone moves no view: it may be cleared by the next frame');
      // suspected for readTimeout more: n2 reports n1 lost; every node takes it once it has settled
      sim.advanceTo(cutAt + 2 * readTimeout + settle - 1);
      for (const n of NAMES) assert.equal(sim.viewOf(n)?.id, before[0], `${n}: the loss settles for ${settle} ms before the view moves`);
      sim.advanceTo(cutAt + 2 * readTimeout + settle);
      const agreed = NAMES.map((n) => sim.viewOf(n));
      for (const [i, view] of agreed.entries()) {
        assert.deepEqual(view?.members, ['n2', 'n3', 'n4', 'n5'], `${NAMES[i]}: the view is the fully connected set without n1`);
        assert.equal(view?.converged, true, `${NAMES[i]}: converged`);
      }
      assert.equal(new Set(agreed.map((v) => v?.id)).size, 1, 'every node reports the same view id');
      assert.notEqual(agreed[0]?.id, before[0], 'a new view id');
      assert.deepEqual(
        sim.quorumChanges(cutAt).map((e) => `${e.node}:${e.value}@${e.t}`),
        [`n1:false@${cutAt + 2 * readTimeout + settle}`],
        'only n1, outside the view, gives up quorum',
      );
      sim.advanceTo(cutHealAt);
      assert.deepEqual(sim.membership(cutAt), [], 'nobody leaves: the others refute the suspicion');
      assert.equal(sim.membersOf('n2').get('n1')?.status, STATUS.SUSPECT, 'n2 shows n1 Suspect');
      const viewChanges = sim.signals.filter((s) => s.type === 'view' && s.t > cutAt + 2 * readTimeout + settle);
      assert.deepEqual(viewChanges, [], 'no view changes while the cut lasts: no oscillation');

      sim.network.heal();
      sim.advanceTo(cutHealAt + pingInterval);
      assert.deepEqual(sim.suspicions(cutHealAt).filter((x) => x.startsWith('n2!n1@')).length, 1, 'n1 speaks again within a pingInterval: cleared');
      sim.advanceTo(cutHealAt + pingInterval + settle);
      assert.deepEqual(sim.quorumChanges(cutHealAt).map((e) => `${e.node}:${e.value}`), ['n1:true'], 'n1 has quorum again once that has settled');
      sim.advanceTo(370_000);
      assert.deepEqual(sim.membership(cutHealAt), [], 'after the heal: no join, no leave');
      const whole = NAMES.map((n) => sim.viewOf(n));
      for (const view of whole) assert.deepEqual(view?.members, [...NAMES], 'the view is whole again');
      assert.equal(whole[0]?.id, before[0], 'the same id as before the cut: the id is a hash of the members');
      sim.assertAllOnline('after the cut healed');
    });

    const latencyAt = 370_000;
    await phase(`latency ${LATENCY} ms: lag shows the ping round trip, nothing leaves`, () => {
      assert.equal(sim.now(), latencyAt);
      sim.network.latency(LATENCY);
      // every link pings at least once per pingInterval; its pong is back a round trip later
      sim.advance(pingInterval + 2 * LATENCY);
      for (const name of NAMES) {
        for (const [peer, node] of sim.membersOf(name)) assert.equal(node.lag, 2 * LATENCY, `${name} measures a ${2 * LATENCY} ms round trip to ${peer}`);
      }
      sim.advanceTo(start + TEN_MINUTES);
      assert.deepEqual(sim.membership(latencyAt), [], 'no join, no leave with latency');
      assert.deepEqual(sim.quorumChanges(latencyAt), [], 'no quorum change with latency');
      sim.assertAllOnline('at ten minutes');
      for (const name of NAMES) {
        for (const [peer, node] of sim.membersOf(name)) assert.equal(node.lag, 2 * LATENCY, `${name}→${peer} lag still ${2 * LATENCY} at ten minutes`);
      }
    });
  } finally {
    await sim.shutdownAll();
  }
  assert.deepEqual(sim.badStamps, [], 'every membership event is stamped with the virtual time it was emitted at');
  return { log: sim.log, wallMs: performance.now() - wallStart, virtualMs: sim.now() - start };
}

describe('a five-node cluster on the memory network, in virtual time', () => {
  it('VirtualTimeScheduler: ten minutes of joins, partition, heal, kill, restart, freezes, a one-way cut and latency, in under two seconds', { timeout: 60_000 }, async (t) => {
    const { log, wallMs, virtualMs } = await scenario(new VirtualTimeScheduler(), 1, t);
    t.diagnostic(`${virtualMs} ms of virtual time in ${wallMs.toFixed(0)} ms of wall time; ${log.length} events`);
    assert.ok(virtualMs >= TEN_MINUTES, `ran ten minutes of virtual time (ran ${virtualMs})`);
    assert.ok(wallMs < WALL_BUDGET_MS, `ten minutes of cluster time took ${wallMs.toFixed(0)} ms of wall time (budget ${WALL_BUDGET_MS})`);
  });

  it('TestScheduler used outside run(): the same scenario holds', { timeout: 60_000 }, async (t) => {
    const { log, virtualMs } = await scenario(new TestScheduler((actual, expected) => assert.deepEqual(actual, expected)), 1, t);
    assert.ok(virtualMs >= TEN_MINUTES);
    assert.ok(log.length > 0);
  });

  it('is deterministic: two runs with the same seed tell the same events at the same virtual times', { timeout: 60_000 }, async () => {
    const first = await scenario(new VirtualTimeScheduler(), 7);
    const second = await scenario(new VirtualTimeScheduler(), 7);
    assert.ok(first.log.length > 0, 'the event log is not empty');
    assert.ok(first.log.some((e) => e.type === 'leave') && first.log.some((e) => e.type === 'quorum' && !e.value), 'the log has leaves and quorum losses');
    assert.deepEqual(second.log, first.log);
    // and on the other kind of virtual clock
    const onTestScheduler = await scenario(new TestScheduler((actual, expected) => assert.deepEqual(actual, expected)), 7);
    assert.deepEqual(onTestScheduler.log, first.log);
    // the seed is what fixes the jitter: another seed redials at other times
    const otherSeed = await scenario(new VirtualTimeScheduler(), 8);
    assert.notDeepEqual(otherSeed.log, first.log, 'another seed gives other reconnect times');
  });
});

describe('one agreed view after a pause, on the memory network (short settings)', () => {
  it('a pause of n1 and n2 while they cannot reach each other: once back, each accuses the other, and every node ends on one view', { timeout: 30_000 }, async () => {
    // The failure CI once showed on a loaded machine: n1 and n2 lose each other and, within the same
    // readTimeout, both pause long enough for their peers to time them out. Excused as "cut off from
    // most peers", neither accused the other, so n3-n5 kept all five while n1 and n2 each left the other
    // out: three views. The excuse ends readTimeout after the node is linked again.
    const scheduler = new VirtualTimeScheduler();
    const network = new MemoryNetwork({ scheduler });
    const views = new Map<string, { id: string; members: readonly string[]; converged: boolean }>();
    const managers: Manager[] = [];
    const leaves: string[] = [];
    for (const [i, name] of NAMES.entries()) {
      const m = new Manager(name, SECRET, {
        transport: network.transport(),
        scheduler,
        random: seeded(seedOf(3, name)),
        settings: { pingInterval: 1000, readTimeout: 3000, joinDelay: 136 },
      });
      m.view$.subscribe((view) => views.set(name, view));
      m.membership$.subscribe((e) => {
        if (e.type === 'leave') leaves.push(`${name}-${e.node}@${scheduler.now()}`);
      });
      for (const other of NAMES) if (other !== name) m.addNode(other, other);
      assert.equal(await m.listen(name), name);
      managers[i] = m;
    }
    try {
      network.advance(10_000);
      const whole = NAMES.map((n) => views.get(n)?.members.join(','));
      assert.deepEqual(new Set(whole), new Set([NAMES.join(',')]), 'one whole view before the fault');
      network.cut('n1', 'n2');
      network.cut('n2', 'n1');
      network.advance(1000);
      network.freeze('n1');
      network.freeze('n2');
      network.advance(3600);
      network.thaw('n1');
      network.thaw('n2');
      network.advance(30_000);
      assert.ok(leaves.some((l) => l.startsWith('n3-n1@')) && leaves.some((l) => l.startsWith('n1-n3@')), `the pause dropped links: n1 and n3 left each other (${leaves.join(' ')})`);
      const finals = NAMES.map((n) => views.get(n));
      for (const [i, view] of finals.entries()) {
        assert.deepEqual(view?.members, ['n1', 'n3', 'n4', 'n5'], `${NAMES[i]} ends on the largest fully connected set: ${finals.map((v, j) => `${NAMES[j]}=${v?.members.join(',')}`).join(' ')}`);
        assert.equal(view?.converged, true, `${NAMES[i]}'s view is converged`);
      }
    } finally {
      let settled = 0;
      const all = Promise.all(managers.map((m) => m.shutdown().then(() => void settled++)));
      for (let i = 0; i < 10 && settled < managers.length; i++) {
        network.advance(1_000);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await all;
    }
  });
});
