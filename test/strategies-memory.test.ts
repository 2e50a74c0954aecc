/**
 * The quorum strategies through real Managers (issue 10, point 3): five nodes
 * on the in-memory network, in virtual time, default settings. Each scenario
 * is one where the strategy decides something the default majority rule
 * would decide differently, checked on every node's quorum$ (and view$ and
 * leader$), at the times the README states ("Quorum and the agreed view"):
 * quorum is decided on the view, so with stableAfter 0 it changes at the
 * very moment the view does; with stableAfter it is claimed once the view
 * has held stableAfter, given up at once, and given up 2 × stableAfter after
 * the first of a run of changes with no stableAfter-long pause.
 *
 * Every link of a first start comes up at the moment the later of its two
 * nodes starts, so pings go both ways at that moment plus multiples of
 * pingInterval: a partition applied at such a moment starts a silence of
 * exactly the time since the partition.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualTimeScheduler, type Subscription } from 'rxjs';
import { DEFAULT_SETTINGS, Manager, type QuorumStrategy } from '../src/index.js';
import { MemoryCluster } from './support/memoryCluster.js';

const SECRET = 'a-cluster-secret-of-at-least-32-bytes';
const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;
const { joinDelay, readTimeout, pingInterval, connectTimeout, maxConnectInterval } = DEFAULT_SETTINGS;
/** A peer that left is back within one capped redial wait, plus a dial already under way, plus joinDelay. */
const REJOIN_BOUND = connectTimeout + maxConnectInterval + joinDelay;
/** Bounds each test: every scenario runs in a few seconds of wall time. */
const TIMEOUT = { timeout: 60_000 };

interface Change<T> {
  readonly t: number;
  readonly node: string;
  readonly value: T;
}

/** Five managers (or fewer, or restarted ones) on one memory network and one virtual clock, with what they tell recorded. */
class Sim extends MemoryCluster {
  readonly quorumLog: Change<boolean>[] = [];
  /** View changes: only those where a node's view members changed. */
  readonly viewLog: Change<string>[] = [];
  readonly leaveLog: Change<string>[] = [];
  private readonly quorum = new Map<string, boolean>();
  private readonly views = new Map<string, string>();
  private readonly leaders = new Map<string, string | null>();

  constructor(private readonly strategy: QuorumStrategy) {
    super(new VirtualTimeScheduler(), NAMES);
  }

  /** Starts (or restarts) `name` now: configured with the four others, listening on its name. */
  start(name: string): Promise<Manager> {
    return this.launch(name, (transport) => new Manager(name, SECRET, { transport, scheduler: this.scheduler, quorum: this.strategy, random: () => 0.5 }), (m) => this.record(name, m));
  }

  private record(name: string, m: Manager): Subscription {
    const rec = m.quorum$.subscribe((value) => {
      this.quorum.set(name, value);
      this.quorumLog.push({ t: this.now(), node: name, value });
    });
    rec.add(
      m.view$.subscribe((view) => {
        const members = view.members.join(',');
        if (this.views.get(name) === members) return;
        this.views.set(name, members);
        this.viewLog.push({ t: this.now(), node: name, value: members });
      }),
    );
    rec.add(m.leader$.subscribe((leader) => this.leaders.set(name, leader)));
    rec.add(
      m.membership$.subscribe((e) => {
        if (e.type === 'leave') this.leaveLog.push({ t: this.now(), node: name, value: `${e.node}:${e.reason}` });
      }),
    );
    return rec;
  }

  /** Starts all five, checks every node has quorum at 20 s, partitions them there and runs readTimeout + pingInterval on; returns when the partition began. */
  async partitionOfWhole(...groups: ReadonlyArray<readonly string[]>): Promise<number> {
    await this.startAll();
    const partitionAt = 20_000;
    this.advanceTo(partitionAt);
    for (const name of NAMES) assert.equal(this.quorumOf(name), true, `${name} has quorum before the partition`);
    this.network.partition(...groups);
    this.advanceTo(partitionAt + readTimeout + pingInterval);
    return partitionAt;
  }

  /** n4 starts 100 ms before the others (the earliest incarnation, though its name sorts after n1-n3); runs to `until`. */
  async startOldestFirst(until: number): Promise<void> {
    await this.start('n4');
    this.advanceTo(100);
    await this.startAll(['n1', 'n2', 'n3', 'n5']);
    this.advanceTo(until);
  }

  async startAll(names: readonly string[] = NAMES): Promise<void> {
    for (const name of names) await this.start(name);
  }

  /** kill -9: the process tells nothing more; its peers see its connections reset; its shutdown begins (its timers stop). */
  override kill(name: string): Manager {
    const m = super.kill(name);
    this.pending.push(m.shutdown());
    return m;
  }

  protected forget(name: string): void {
    this.quorum.delete(name);
    this.views.delete(name);
    this.leaders.delete(name);
  }

  /**
   * An orderly shutdown: the node tells its peers it leaves. Its shutdown goes
   * on between virtual-time steps (it awaits its links' close), so the clock
   * moves by 1 ms at a time, with the event loop turned in between, until it
   * resolved: the stopping node is not left half-stopped for a long advance.
   */
  async leave(name: string): Promise<void> {
    const m = this.managers.get(name);
    assert.ok(m !== undefined, `${name} runs`);
    this.managers.delete(name);
    let settled = false;
    const done = m.shutdown().then(() => void (settled = true));
    for (let i = 0; i < 100 && !settled; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!settled) this.network.advance(1);
    }
    await done;
    this.recorders.get(m)?.unsubscribe();
    this.forget(name);
  }

  quorumOf(name: string): boolean | undefined {
    return this.quorum.get(name);
  }

  viewOf(name: string): string | undefined {
    return this.views.get(name);
  }

  leaderOf(name: string): string | null | undefined {
    return this.leaders.get(name);
  }

  /** `name`'s quorum$ values since `since` (inclusive), as 'true@t' / 'false@t'. */
  quorumChanges(name: string, since: number): string[] {
    return this.quorumLog.filter((e) => e.node === name && e.t >= since).map((e) => `${e.value}@${e.t}`);
  }

  /** `name`'s view changes since `since` (inclusive). */
  viewChanges(name: string, since: number): Change<string>[] {
    return this.viewLog.filter((e) => e.node === name && e.t >= since);
  }

  /** When `name`'s view members first became `members` at or after `since`; fails when they never did. */
  viewBecame(name: string, members: readonly string[], since: number): number {
    const change = this.viewChanges(name, since).find((e) => e.value === members.join(','));
    assert.ok(change !== undefined, `${name}'s view became ${members.join(',')} after ${since}: its views were ${this.describeViews(name, since)}`);
    return change.t;
  }

  describeViews(name: string, since: number): string {
    return this.viewChanges(name, since)
      .map((e) => `${e.value}@${e.t}`)
      .join(' ');
  }
}

/**
 * After a partition applied at a ping moment, a node's view loses the far
 * side once it has been silent readTimeout, plus at most a ping's worth of
 * reports: asserts `t` is in that window.
 */
function inPartitionWindow(t: number, partitionAt: number, what: string): void {
  assert.ok(t >= partitionAt + readTimeout && t <= partitionAt + readTimeout + pingInterval, `${what}: at ${t}, expected within [readTimeout, readTimeout + pingInterval] after the partition at ${partitionAt}`);
}

/** Every node of `side` keeps quorum through the partition, its view shrinks to `side`, and it names `leader`. */
function assertKept(sim: Sim, side: readonly string[], partitionAt: number, leader: string): void {
  for (const name of side) {
    const became = sim.viewBecame(name, side, partitionAt);
    inPartitionWindow(became, partitionAt, `${name}'s view becomes ${side.join(',')}`);
    assert.deepEqual(sim.quorumChanges(name, partitionAt), [], `${name} keeps quorum on the view ${side.join(',')}: its quorum$ never changes`);
    assert.equal(sim.quorumOf(name), true, `${name} has quorum`);
    assert.equal(sim.leaderOf(name), leader, `${name} names ${leader} its leader`);
  }
}

/** Every node of `side` gives quorum up at the very moment its view shrinks to `side`, and names no leader. */
function assertLost(sim: Sim, side: readonly string[], partitionAt: number): void {
  for (const name of side) {
    const became = sim.viewBecame(name, side, partitionAt);
    inPartitionWindow(became, partitionAt, `${name}'s view becomes ${side.join(',')}`);
    assert.deepEqual(sim.quorumChanges(name, partitionAt), [`false@${became}`], `${name} gives quorum up once, when its view became ${side.join(',')}`);
    assert.equal(sim.leaderOf(name), null, `${name}, without quorum, names no leader`);
  }
}

describe('quorum strategies through real managers, on the memory network in virtual time', () => {
  describe("{ strategy: 'static', size }: at least size nodes in the view", () => {
    it('size 2: both pairs of a 2|2|1 partition keep quorum, the node alone gives it up (majority: nobody keeps it)', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'static', size: 2 });
      try {
        await sim.startAll();
        sim.advanceTo(20_000);
        for (const name of NAMES) assert.equal(sim.quorumOf(name), true, `${name} has quorum before the partition`);
        const partitionAt = 20_000; // links came up at 0: a ping moment
        sim.network.partition(['n1', 'n2'], ['n3', 'n4'], ['n5']);
        sim.advanceTo(partitionAt + readTimeout - 1);
        for (const name of NAMES) assert.deepEqual(sim.quorumChanges(name, partitionAt), [], `${name}: nothing changes before readTimeout of silence`);
        sim.advanceTo(partitionAt + readTimeout + pingInterval);
        assertKept(sim, ['n1', 'n2'], partitionAt, 'n1');
        assertKept(sim, ['n3', 'n4'], partitionAt, 'n3');
        assertLost(sim, ['n5'], partitionAt);
      } finally {
        await sim.shutdownAll();
      }
    });

    it('size 4: neither side of a 3|2 partition has quorum (majority: the three keep it); it is back once a view holds 4', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'static', size: 4 });
      try {
        const partitionAt = await sim.partitionOfWhole(['n1', 'n2', 'n3'], ['n4', 'n5']);
        assertLost(sim, ['n1', 'n2', 'n3'], partitionAt);
        assertLost(sim, ['n4', 'n5'], partitionAt);

        const healAt = 40_000;
        sim.advanceTo(healAt);
        sim.network.heal();
        sim.advanceTo(healAt + REJOIN_BOUND);
        for (const name of NAMES) {
          // quorum comes back with the first view of 4 or more nodes, not only with the whole cluster
          const four = sim.viewChanges(name, healAt).find((e) => e.value.split(',').length >= 4);
          assert.ok(four !== undefined, `${name} has a view of 4 or more after the heal: ${sim.describeViews(name, healAt)}`);
          assert.deepEqual(sim.quorumChanges(name, healAt), [`true@${four.t}`], `${name} claims quorum once, when its view first held 4 (${four.value})`);
          assert.equal(sim.viewOf(name), NAMES.join(','), `${name}'s view is whole again`);
        }
      } finally {
        await sim.shutdownAll();
      }
    });
  });

  describe("{ strategy: 'keep-oldest' }: the view holds the oldest running node", () => {
    it('n4, started first, is the oldest: the others claim quorum when n4 enters their view, and in a 3|2 partition n4 and n5 keep it while n1-n3 give it up', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'keep-oldest' });
      try {
        await sim.startOldestFirst(20_100);
        assert.deepEqual(sim.quorumChanges('n4', 0), ['true@0'], 'n4 knows of no older node: it has quorum from its start, alone, and keeps it as the others join');
        for (const name of ['n1', 'n2', 'n3', 'n5']) {
          const withN4 = sim.viewChanges(name, 0).find((e) => e.value.split(',').includes('n4'));
          assert.ok(withN4 !== undefined, `n4 enters ${name}'s view: ${sim.describeViews(name, 0)}`);
          assert.equal(sim.quorumChanges(name, 0).at(-1), `true@${withN4.t}`, `${name} claims quorum when n4 enters its view (${withN4.value})`);
          assert.equal(sim.quorumOf(name), true);
          assert.equal(sim.viewOf(name), NAMES.join(','));
        }

        const partitionAt = 20_100; // the links came up at 100: a ping moment
        sim.network.partition(['n1', 'n2', 'n3'], ['n4', 'n5']);
        sim.advanceTo(partitionAt + readTimeout + pingInterval);
        assertKept(sim, ['n4', 'n5'], partitionAt, 'n4');
        assertLost(sim, ['n1', 'n2', 'n3'], partitionAt);

        const healAt = 40_100;
        sim.advanceTo(healAt);
        for (const name of ['n4', 'n5']) assert.deepEqual(sim.quorumChanges(name, partitionAt), [], `${name} kept quorum while the partition lasted`);
        // not asserted: n4 and n5 through the heal's first instant, where their view$ (and so their
        // quorum$) flips to the other side's view and back within the same virtual millisecond
        sim.network.heal();
        sim.advanceTo(healAt + REJOIN_BOUND);
        for (const name of ['n1', 'n2', 'n3']) {
          const withN4 = sim.viewChanges(name, healAt).find((e) => e.value.split(',').includes('n4'));
          assert.ok(withN4 !== undefined, `n4 is back in ${name}'s view: ${sim.describeViews(name, healAt)}`);
          assert.deepEqual(sim.quorumChanges(name, healAt), [`true@${withN4.t}`], `${name} claims quorum again when n4 is back in its view`);
        }
        for (const name of NAMES) {
          assert.equal(sim.viewOf(name), NAMES.join(','), `${name}'s view is whole again`);
          assert.equal(sim.quorumOf(name), true, `${name} has quorum after the heal`);
          assert.equal(sim.leaderOf(name), 'n1', `${name} names n1 its leader`);
        }
      } finally {
        await sim.shutdownAll();
      }
    });

    it('the oldest crashes: no node has quorum until it is back (majority: the four keep it); the oldest leaving in order is forgotten', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'keep-oldest' });
      try {
        await sim.startOldestFirst(20_000);
        for (const name of NAMES) assert.equal(sim.quorumOf(name), true, `${name} has quorum before the crash`);
        const survivors = ['n1', 'n2', 'n3', 'n5'];

        const killAt = 20_000;
        sim.kill('n4');
        sim.advanceTo(killAt + 1);
        for (const name of survivors) {
          assert.ok(sim.leaveLog.some((e) => e.node === name && e.value === 'n4:lost' && e.t === killAt), `${name} sees n4 leave (lost) at once`);
          const became = sim.viewBecame(name, survivors, killAt);
          assert.equal(became, killAt, `${name}'s view drops n4 at once`);
          assert.deepEqual(sim.quorumChanges(name, killAt), [`false@${killAt}`], `${name} gives quorum up when the oldest crashes, with four of five in its view`);
          assert.equal(sim.leaderOf(name), null, `${name} names no leader`);
        }
        const restartAt = 40_000;
        sim.advanceTo(restartAt);
        for (const name of survivors) assert.deepEqual(sim.quorumChanges(name, killAt + 1), [], `${name}: still no quorum while the oldest is down`);

        // a new process of n4 (latency 0: it proves the secret to each peer at once) replaces the crashed one,
        // which is forgotten: the new one is later than every other, so n1 (started at 100, the name
        // breaking the tie) is now the oldest, and it is in the survivors' view
        await sim.start('n4');
        sim.advanceTo(restartAt + joinDelay + pingInterval);
        for (const name of survivors) {
          assert.deepEqual(sim.quorumChanges(name, restartAt), [`true@${restartAt}`], `${name} has quorum again as soon as the crashed oldest is back (a new process of it)`);
        }
        for (const name of NAMES) assert.equal(sim.viewBecame(name, NAMES, restartAt), restartAt + joinDelay, `${name}'s view is whole once the new n4 joined`);
        const withN1 = sim.viewChanges('n4', restartAt).find((e) => e.value.split(',').includes('n1') && e.value.split(',').includes('n4'));
        assert.ok(withN1 !== undefined, `the new n4 is in one view with n1: ${sim.describeViews('n4', restartAt)}`);
        assert.equal(sim.quorumChanges('n4', restartAt).at(-1), `true@${withN1.t}`, 'the new n4 has quorum once it is in one view with n1, the oldest');
        for (const name of NAMES) assert.equal(sim.leaderOf(name), 'n1', `${name} names n1 its leader`);

        // n1, the oldest now, leaves in order: forgotten, n2 is the oldest, nobody loses quorum
        const leaveAt = 60_000;
        sim.advanceTo(leaveAt);
        await sim.leave('n1');
        const stoppedAt = sim.now();
        sim.advanceTo(leaveAt + readTimeout);
        const rest = ['n2', 'n3', 'n4', 'n5'];
        for (const name of rest) {
          assert.ok(sim.leaveLog.some((e) => e.node === name && e.value === 'n1:shutdown' && e.t === leaveAt), `${name} sees n1 leave (shutdown) at once`);
          assert.equal(sim.viewBecame(name, rest, leaveAt), leaveAt, `${name}'s view drops n1 at once`);
          // a crashed oldest would be remembered, leaving them without quorum (as above)
          assert.equal(sim.quorumOf(name), true, `${name} has quorum: an oldest that left in order is forgotten`);
          assert.deepEqual(sim.quorumChanges(name, stoppedAt), [], `${name}: no quorum change once n1 has stopped`);
          assert.equal(sim.leaderOf(name), 'n2', `${name} names n2, the oldest now, its leader`);
        }
      } finally {
        await sim.shutdownAll();
      }
    });
  });

  describe("{ strategy: 'referee', node }: the view holds the referee", () => {
    it('referee n5: in a 3|2 partition the two with n5 keep quorum, the three give it up (majority: the opposite)', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'referee', node: 'n5' });
      try {
        const partitionAt = await sim.partitionOfWhole(['n1', 'n2', 'n3'], ['n4', 'n5']);
        assertKept(sim, ['n4', 'n5'], partitionAt, 'n4');
        assertLost(sim, ['n1', 'n2', 'n3'], partitionAt);
      } finally {
        await sim.shutdownAll();
      }
    });

    it('referee n5 cut off alone: n5 keeps quorum (it is the referee), n1-n4 give it up (majority: the opposite)', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'referee', node: 'n5' });
      try {
        await sim.startAll();
        sim.advanceTo(20_000);
        const partitionAt = 20_000;
        sim.network.partition(['n1', 'n2', 'n3', 'n4'], ['n5']);
        sim.advanceTo(partitionAt + readTimeout + pingInterval);
        assertKept(sim, ['n5'], partitionAt, 'n5');
        assertLost(sim, ['n1', 'n2', 'n3', 'n4'], partitionAt);
      } finally {
        await sim.shutdownAll();
      }
    });
  });

  describe('stableAfter (majority here; any strategy)', () => {
    const stableAfter = 10_000;

    it('quorum is claimed stableAfter after the view last changed, given up at once, and kept through a change that still grants it', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'majority', stableAfter });
      try {
        await sim.startAll();
        sim.advanceTo(joinDelay + stableAfter - 1);
        for (const name of NAMES) assert.equal(sim.quorumOf(name), false, `${name}: no quorum before the view held stableAfter`);
        sim.advanceTo(20_000);
        for (const name of NAMES) {
          const last = sim.viewChanges(name, 0).at(-1);
          assert.equal(last?.value, NAMES.join(','), `${name}'s view is whole`);
          assert.equal(last?.t, joinDelay, `${name}'s view became whole with the joins, at joinDelay`);
          assert.deepEqual(sim.quorumChanges(name, 0), ['false@0', `true@${joinDelay + stableAfter}`], `${name} claims quorum stableAfter after its view last changed`);
        }

        const partitionAt = 20_000;
        sim.network.partition(['n1', 'n2', 'n3'], ['n4', 'n5']);
        sim.advanceTo(partitionAt + readTimeout + pingInterval);
        assertKept(sim, ['n1', 'n2', 'n3'], partitionAt, 'n1'); // a new view that still grants quorum: kept, no wait
        assertLost(sim, ['n4', 'n5'], partitionAt); // given up at once

        const healAt = 40_000;
        sim.advanceTo(healAt);
        sim.network.heal();
        sim.advanceTo(healAt + REJOIN_BOUND + stableAfter);
        for (const name of ['n4', 'n5']) {
          const last = sim.viewChanges(name, healAt).at(-1);
          assert.equal(last?.value, NAMES.join(','), `${name}'s view is whole again`);
          assert.deepEqual(sim.quorumChanges(name, healAt), [`true@${(last?.t ?? NaN) + stableAfter}`], `${name} claims quorum again stableAfter after its view last changed (${sim.describeViews(name, healAt)})`);
        }
        for (const name of ['n1', 'n2', 'n3']) assert.deepEqual(sim.quorumChanges(name, partitionAt), [], `${name} keeps quorum through the partition and the heal`);
      } finally {
        await sim.shutdownAll();
      }
    });

    it('down-all-when-unstable: a view that keeps changing for 2 × stableAfter makes every node give quorum up, until it held stableAfter', TIMEOUT, async () => {
      const sim = new Sim({ strategy: 'majority', stableAfter });
      try {
        await sim.startAll();
        sim.advanceTo(20_000);
        for (const name of NAMES) assert.equal(sim.quorumOf(name), true, `${name} has quorum before the flapping`);
        // n5 crashes and restarts every 3 s (its new process joins joinDelay after it starts): the view
        // of n1-n4 changes every 1.5 s and 3 s, never holding stableAfter, while always granting quorum (4 or 5 of 5)
        const flapFrom = 20_000;
        const cycle = 3_000;
        const steps: { readonly t: number; readonly run: () => Promise<unknown> | void }[] = [];
        for (let i = 0; i < 8; i++) {
          steps.push({ t: flapFrom + i * cycle, run: () => void sim.kill('n5') });
          steps.push({ t: flapFrom + i * cycle + 1_000, run: () => sim.start('n5') }); // the last restart at 42 000
        }
        /** Runs the crashes and restarts due up to `t`, then advances to `t`. */
        const flapUntil = async (t: number): Promise<void> => {
          while (steps.length > 0 && (steps[0]?.t ?? Infinity) <= t) {
            const step = steps.shift() as (typeof steps)[number];
            sim.advanceTo(step.t);
            await step.run();
          }
          sim.advanceTo(t);
        };
        const stableNodes = ['n1', 'n2', 'n3', 'n4'];
        const downAt = flapFrom + 2 * stableAfter;
        await flapUntil(downAt - 1);
        for (const name of stableNodes) {
          assert.equal(sim.viewChanges(name, flapFrom)[0]?.t, flapFrom, `${name}: the run of view changes begins with the first crash`);
          assert.deepEqual(sim.quorumChanges(name, flapFrom), [], `${name} keeps quorum through less than 2 × stableAfter of changes`);
        }
        await flapUntil(downAt);
        for (const name of NAMES) assert.equal(sim.quorumOf(name), false, `at ${downAt}, 2 × stableAfter into the run, ${name} has no quorum`);
        for (const name of stableNodes) {
          const during = sim.viewChanges(name, flapFrom);
          assert.ok(during.length >= 10, `${name}: the view kept changing (${sim.describeViews(name, flapFrom)})`);
          for (const [i, e] of during.entries()) if (i > 0) assert.ok(e.t - (during[i - 1]?.t ?? 0) < stableAfter, `${name}: no stableAfter-long pause in the run`);
          assert.ok(!during.some((e) => e.t === downAt), `${name}: no view change at ${downAt}: quorum is given up by the rule, not by a change`);
          assert.deepEqual(sim.quorumChanges(name, flapFrom), [`false@${downAt}`], `${name} gives quorum up 2 × stableAfter after the run began`);
        }
        await flapUntil(steps.at(-1)?.t ?? downAt);
        assert.equal(steps.length, 0, 'every crash and restart ran');

        sim.advanceTo(90_000);
        for (const name of NAMES) {
          const last = sim.viewChanges(name, flapFrom).at(-1);
          assert.equal(last?.value, NAMES.join(','), `${name}'s view is whole once n5 stays up`);
          assert.ok((last?.t ?? 0) > downAt, `${name}'s view changed after the drop`);
          assert.equal(sim.quorumChanges(name, downAt + 1).at(-1), `true@${(last?.t ?? NaN) + stableAfter}`, `${name} claims quorum again stableAfter after the view last changed`);
        }
        for (const name of stableNodes) assert.equal(sim.quorumChanges(name, downAt + 1).length, 1, `${name}: one claim after the drop`);
        // no process of n5 had quorum during the flapping: none of its instances lived stableAfter
        assert.ok(!sim.quorumLog.some((e) => e.node === 'n5' && e.value && e.t >= flapFrom && e.t <= downAt), 'no process of n5 claimed quorum while it kept restarting');
      } finally {
        await sim.shutdownAll();
      }
    });
  });
});
