/**
 * Issue 10, point 2: one agreed view on a real network. Three 60-second
 * scenarios (test/netns/scenarios.ts), each with the default settings and
 * with pingInterval 1000 / readTimeout 3000, all six concurrently in labs of
 * their own:
 *
 * - one-way loss n1->n2: within a bounded time every node reports the same
 *   `view` id, the largest fully connected set (four nodes: n3-n5 and one of
 *   n1, n2) keeps quorum, the node left outside does not claim it, and the
 *   view does not change again (no oscillation) for the rest of the minute;
 * - 20 % loss with 50 ± 10 ms delay on every node: zero leaves (none of them
 *   is true: every node stays up); with the defaults no quorum change; with
 *   the short settings, 2 × readTimeout + 3 s after the fault, quorum and
 *   one converged view everywhere (a TCP stall of two read timeouts, which
 *   20 % loss causes about once a minute, does leave a node outside the
 *   view for a while: the time each node spent without quorum is printed);
 * - n5's link flapping 5 s down / 5 s up six times: at most two leave/join
 *   pairs of n5 per observer (damping), no quorum change on n1-n4 (n5, cut
 *   off from all, accuses none of them), and with the short settings one
 *   converged view on n1-n4 after the last flap.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ms, type Timed } from './netns/harness.js';
import { flapping, lossAndDelay, oneWayLoss, PROFILES, storyOf, type Profile, type ScenarioRecord } from './netns/scenarios.js';

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];

function linesOf(record: ScenarioRecord, name: string, type: string, since = record.faultFrom, until = record.faultTo): Timed[] {
  return (record.events[name] ?? []).filter(({ line, at }) => line.type === type && at >= since && at <= until);
}

function stories(record: ScenarioRecord): string {
  return NAMES.map((name) => `${name}: ${storyOf(record.events[name] ?? [], record.faultFrom)}`).join(' | ');
}

/** Every node's counts during the fault, for the test output. */
function report(t: TestContext, record: ScenarioRecord): void {
  const counts = NAMES.map((name) => {
    const leaves = linesOf(record, name, 'leave').length;
    const joins = linesOf(record, name, 'join').length;
    const quorum = linesOf(record, name, 'quorum').length;
    const views = linesOf(record, name, 'view').length;
    const suspects = linesOf(record, name, 'suspect').length;
    return `${name} ${leaves} leaves, ${joins} joins, ${quorum} quorum changes, ${views} views, ${suspects} suspicions`;
  });
  t.diagnostic(`${record.scenario} (${record.profile.label}), ${((record.faultTo - record.faultFrom) / 1000).toFixed(0)} s in lab ${record.labId}: ${counts.join('; ')}`);
  t.diagnostic(`five nodes up and fully joined ${((record.meshAt - record.createdAt) / 1000).toFixed(1)} s after the lab was asked for; evidence: ${JSON.stringify(record.evidence)}`);
  t.diagnostic(`stories: ${stories(record)}`);
}

/** With the short settings, how long the nodes run on after the fault, until quorum and the view must be back. */
function settleOf(profile: Profile): number {
  return profile.label === 'defaults' ? 0 : 2 * profile.readTimeout + 3000;
}

/** Each node's view and quorum lines over the whole recording, seconds from the fault's start (negative before it). */
function viewStories(record: ScenarioRecord): string {
  return NAMES.map((name) => {
    const lines = (record.events[name] ?? []).filter(({ line }) => line.type === 'view' || line.type === 'quorum');
    const told = lines.map(({ line, at }) => {
      const t = ((at - record.faultFrom) / 1000).toFixed(1);
      return line.type === 'view' ? `${t}:v=${String(line['id']).slice(0, 8)}${line['converged'] === true ? '' : '~'}` : `${t}:q=${String(line['quorum'])}`;
    });
    return `${name}: ${told.join(' ')}`;
  }).join(' | ');
}

/** Every one of `names` ends (at the end of the recording) with quorum and one and the same converged view. */
function assertSettled(record: ScenarioRecord, names: readonly string[]): void {
  const finals = names.map((name) => linesOf(record, name, 'view', 0, record.endAt).at(-1)?.line);
  const ids = finals.map((line) => String(line?.['id']));
  assert.equal(new Set(ids).size, 1, `${names.join(', ')} end on one view ${Math.round(record.endAt - record.faultTo)} ms after the fault: ${ids.map((id, i) => `${names[i]}=${id}`).join(', ')}: ${stories(record)}`);
  for (const [i, line] of finals.entries()) {
    assert.equal(line?.['converged'], true, `${names[i]}'s last view is converged: ${stories(record)}; views over the whole run: ${viewStories(record)}`);
    assert.notEqual(linesOf(record, names[i] as string, 'quorum', 0, record.endAt).at(-1)?.line['quorum'], false, `${names[i]} has quorum ${Math.round(record.endAt - record.faultTo)} ms after the fault: ${stories(record)}`);
  }
}

/** How long `name` was without quorum during the fault, ms. */
function withoutQuorum(record: ScenarioRecord, name: string): number {
  let lostAt: number | null = null;
  let total = 0;
  for (const { line, at } of linesOf(record, name, 'quorum', 0, record.faultTo)) {
    if (line['quorum'] === false && lostAt === null) lostAt = Math.max(at, record.faultFrom);
    if (line['quorum'] === true && lostAt !== null) {
      total += at - lostAt;
      lostAt = null;
    }
  }
  return lostAt === null ? total : total + record.faultTo - lostAt;
}

function checkStderr(record: ScenarioRecord): void {
  assert.deepEqual(record.stderr, {}, 'nothing on stderr');
}

const TIMEOUT = 240_000;

describe('one agreed view on a real network (60 s scenarios)', { concurrency: true }, () => {
  for (const profile of PROFILES) {
    it(`one-way loss n1->n2 (${profile.label}): one view on every node within a bounded time, the largest fully connected set keeps quorum, no oscillation`, { timeout: TIMEOUT }, async (t) => {
      const record = await oneWayLoss(profile);
      report(t, record);
      const dropped = (record.evidence['dropped'] as Record<string, number>)['n1>n2'] ?? 0;
      assert.ok(dropped > 0, `the n1->n2 drop rule dropped packets (${dropped})`);
      checkStderr(record);
      const bound = boundOf(profile);
      const settleBy = record.faultFrom + bound;
      // every node printed views; the last one of each, and every view after settleBy, is one and the same
      const views = NAMES.map((name) => linesOf(record, name, 'view', 0, record.faultTo));
      for (const [i, list] of views.entries()) assert.ok(list.length > 0, `${NAMES[i]} printed no view line at all: ${stories(record)}`);
      const finals = views.map((list) => list.at(-1)?.line);
      const ids = new Set(finals.map((line) => line?.['id']));
      assert.equal(ids.size, 1, `every node ends on the same view id: ${finals.map((line, i) => `${NAMES[i]}=${String(line?.['id'])} ${JSON.stringify(line?.['members'])}`).join(', ')}: ${stories(record)}`);
      for (const [i, list] of views.entries()) {
        const late = list.filter(({ at }) => at > settleBy);
        assert.deepEqual(late.map(({ line }) => line['id']).filter((id) => id !== finals[i]?.['id']), [], `${NAMES[i]}: no other view ${bound} ms after the fault began (no oscillation): ${stories(record)}`);
        assert.ok(list.some(({ at, line }) => at <= settleBy && line['id'] === finals[i]?.['id']) || late.length === 0, `${NAMES[i]} reached the final view within ${bound} ms of the fault`);
      }
      const members = (finals[0]?.['members'] as string[] | undefined) ?? [];
      assert.equal(finals[0]?.['converged'], true, 'the final view is converged');
      assert.deepEqual(
        members.filter((m) => ['n3', 'n4', 'n5'].includes(m)),
        ['n3', 'n4', 'n5'],
        `the view keeps n3-n5: ${members.join(', ')}`,
      );
      assert.equal(members.length, 4, `the largest fully connected set has four nodes (n3-n5 and one of n1, n2): ${members.join(', ')}`);
      const outside = ['n1', 'n2'].find((n) => !members.includes(n)) as string;
      // the set keeps quorum all along: no member prints a quorum change during the fault, and the node
      // left outside loses it once, for good
      for (const name of members) assert.deepEqual(linesOf(record, name, 'quorum').map(({ line }) => line['quorum']), [], `${name}, in the set, keeps quorum all along: ${stories(record)}`);
      assert.deepEqual(linesOf(record, outside, 'quorum').map(({ line }) => line['quorum']), [false], `${outside}, outside the set, gives quorum up once and does not claim it again: ${stories(record)}`);
      // no oscillation at any time of the fault: each node moves from the whole cluster's view to the final one, once
      // (a view line is printed for a change of `converged` too: the same id again is no move)
      for (const [i, list] of views.entries()) {
        const before = list.filter(({ at }) => at < record.faultFrom).at(-1)?.line['id'];
        const ids = [String(before), ...list.filter(({ at }) => at >= record.faultFrom).map(({ line }) => String(line['id']))];
        const moves = ids.filter((id, k) => k > 0 && id !== ids[k - 1]);
        assert.deepEqual(moves, [String(finals[i]?.['id'])], `${NAMES[i] as string} changes its view once during the fault, to the final one: ${stories(record)}`);
      }
    });

    it(`20 % loss with 50 ± 10 ms delay on every node for 60 s (${profile.label}): zero false leaves, ${profile.label === 'defaults' ? 'no quorum change' : 'quorum and one view everywhere after it'}`, { timeout: TIMEOUT }, async (t) => {
      const record = await lossAndDelay(profile, { settle: settleOf(profile) });
      report(t, record);
      t.diagnostic(`time without quorum during the fault: ${NAMES.map((name) => `${name} ${ms([withoutQuorum(record, name)])} ms`).join(', ')}`);
      const impaired = record.evidence['impaired'] as Record<string, { lost: number; delayed: number }>;
      for (const name of NAMES) {
        assert.ok((impaired[name]?.lost ?? 0) > 0, `${name}'s loss rule dropped packets: ${JSON.stringify(impaired[name])}`);
        assert.ok((impaired[name]?.delayed ?? 0) > 0, `${name}'s delay rule queued packets: ${JSON.stringify(impaired[name])}`);
      }
      checkStderr(record);
      const leaves = NAMES.flatMap((name) => linesOf(record, name, 'leave').map((timed) => `${name} saw ${String(timed.line['node'])} leave (${String(timed.line['reason'])}) at +${ms([timed.at - record.faultFrom])} ms`));
      assert.deepEqual(leaves, [], `no node ever left: every leave is false: ${stories(record)}`);
      for (const name of NAMES) {
        if (profile.label === 'defaults') assert.deepEqual(linesOf(record, name, 'quorum'), [], `${name}: no quorum change: ${stories(record)}`);
      }
      if (profile.label !== 'defaults') assertSettled(record, NAMES);
    });

    it(`n5's link flapping 5 s / 5 s six times (${profile.label}): at most two leave/join pairs per observer, no quorum change on n1-n4${profile.label === 'defaults' ? '' : ', one view on n1-n4 after it'}`, { timeout: TIMEOUT }, async (t) => {
      const record = await flapping(profile, { settle: settleOf(profile) });
      report(t, record);
      assert.equal(record.evidence['flaps'], 6, 'six flaps');
      assert.equal(record.timeline.filter((event) => event.fault === 'link down n5').length, 6, 'six link-downs in the timeline');
      checkStderr(record);
      // the observation runs until the end of the last up period (the fault's end)
      for (const name of ['n1', 'n2', 'n3', 'n4']) {
        const leaves = linesOf(record, name, 'leave').filter(({ line }) => line['node'] === 'n5');
        const joins = linesOf(record, name, 'join').filter(({ line }) => line['node'] === 'n5');
        assert.ok(leaves.length <= 2 && joins.length <= 2, `${name} saw ${leaves.length} leaves and ${joins.length} joins of n5 (at most 2 pairs): ${storyOf(record.events[name] ?? [], record.faultFrom)}`);
        const others = linesOf(record, name, 'leave').filter(({ line }) => line['node'] !== 'n5');
        assert.deepEqual(others.map(({ line }) => String(line['node'])), [], `${name} saw no other node leave`);
        assert.deepEqual(linesOf(record, name, 'quorum'), [], `${name} saw no fault of its own: no quorum change: ${storyOf(record.events[name] ?? [], record.faultFrom)}`);
      }
      if (profile.label !== 'defaults') assertSettled(record, ['n1', 'n2', 'n3', 'n4']);
    });
  }
});

/**
 * How long after a one-way fault the views must agree. The stalled side (n1,
 * whose TCP link to n2 backs off) last heard n2 up to a pingInterval before
 * the fault; it suspects n2 readTimeout after that frame and reports it lost
 * readTimeout later: pingInterval + 2 × readTimeout, and 5 s for the report
 * to spread and for a busy machine. (2 × readTimeout + 5 s, the bound until
 * now, was missed by 0.1 s with the defaults.)
 */
function boundOf(profile: Profile): number {
  return profile.pingInterval + 2 * profile.readTimeout + 5000;
}
