/**
 * A stalled TCP link after a network fault heals, in network namespaces (a
 * file of its own, so that test/netns.test.ts stays short): three nodes with
 * pingInterval 1000 / readTimeout 3000, n1's packets to n2 dropped (nft,
 * silent) for 15 s. TCP's retransmissions back off meanwhile: the wait
 * doubles from the RTO, so the old connection stays silent until its next
 * retransmission, and n3 hears both, so nobody drops the link. When that
 * retransmission comes depends on the RTO, which Linux derives from
 * round-trip samples (at least 200 ms; a loaded machine's delayed ACKs made
 * it ≈ 250 ms in one CI run, whose retransmission 63 × RTO after the drop
 * landed 0.8 s after the heal). The lab pins it: with rto_min 800 ms the RTO
 * is 0.80–0.87 s, the old connection retransmits 15 × RTO (≤ 13.1 s) and
 * 31 × RTO (≥ 24.8 s) after its first lost segment (≤ 1.1 s after the drop),
 * so it is silent from the heal (15 s, plus the few ms the heal takes) for
 * at least 9.7 s. The node that
 * dialed the link dials a fresh connection beside it every readTimeout
 * while it is suspected: once the network is back, the first one opens, both
 * ends keep it (RXC_ERR_STALLED on each end that still suspected the other),
 * and they hear each other again within readTimeout of the heal, with no leave.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventAt, labFor, sleep, stderrOf, type LabNode, type Line } from './netns/harness.js';
import { PROFILES } from './netns/scenarios.js';

const profile = PROFILES.find((p) => p.label !== 'defaults');
if (profile === undefined) throw new Error('no short profile');
const { readTimeout } = profile;
/** The minimum TCP retransmission timeout pinned on the lab's routes (see the header). */
const RTO_MIN = 800;
/** How much later than readTimeout a silent peer may be reported (timer granularity, a loaded 2-core machine). */
const TOLERANCE = 1500;

const joinOf =
  (name: string) =>
  (line: Line): boolean =>
    line.type === 'join' && line['node'] === name;

describe('a stalled link after a healed fault (network namespaces)', () => {
  it('a one-way drop n1->n2 for 15 s, healed: a fresh connection replaces the stalled one, both hear each other again within readTimeout + 2 s, no leave', { timeout: 90_000 }, async (t) => {
    const lab = await labFor(t, ['n1', 'n2', 'n3']);
    await lab.pinRtoMin(RTO_MIN);
    const nodes = await lab.startAll({ settings: profile.settings });
    await Promise.all(nodes.flatMap((node) => nodes.filter((other) => other !== node).map((other) => node.wait(joinOf(other.name), 60_000, `${node.name} to join ${other.name}`))));
    const [n1, n2] = nodes as [LabNode, LabNode, LabNode];
    await sleep(1000);
    const droppedAt = performance.now();
    await lab.drop('n1', 'n2');
    // the fault bit: n2 stops hearing n1, and n1, whose link stalls, stops hearing n2
    await n2.wait((line, at) => at >= droppedAt && line.type === 'suspect' && line['node'] === 'n1', readTimeout + TOLERANCE + 3000, 'n2 to suspect n1');
    await n1.wait((line, at) => at >= droppedAt && line.type === 'suspect' && line['node'] === 'n2', readTimeout + TOLERANCE + 5000, 'n1 to suspect n2');
    // long enough for TCP's retransmission back-off to pass 10 s (16 RTOs, at least 12.8 s, between the
    // retransmissions 15 and 31 RTOs after the first lost segment: the heal falls in that silence, see the header)
    await sleep(Math.max(0, droppedAt + 15_000 - performance.now()));
    const dropped = (await lab.dropped())['n1>n2'] ?? 0;
    assert.ok(dropped > 0, `the drop rule dropped packets (${dropped})`);
    await lab.heal();
    const healedAt = performance.now();
    const bound = readTimeout + 2000;
    const aliveOf =
      (peer: string) =>
      (line: Line, at: number): boolean =>
        at >= healedAt && line.type === 'alive' && line['node'] === peer;
    const [back1, back2] = await Promise.all([n1.wait(aliveOf('n2'), bound + 10_000, 'n1 to hear n2 again'), n2.wait(aliveOf('n1'), bound + 10_000, 'n2 to hear n1 again')]);
    const after = [eventAt(back1) - healedAt, eventAt(back2) - healedAt];
    // the fresh connection was taken over a link still silent after the heal (logged by each end that still
    // suspected the other: the accepting end's old link may come back first, when its own retransmission
    // gets through just after the heal, and that end then keeps the fresh link with no suspicion to clear)
    const stalled = [
      n1.events('log', droppedAt).filter(({ line }) => line['code'] === 'RXC_ERR_STALLED' && line['node'] === 'n2'),
      n2.events('log', droppedAt).filter(({ line }) => line['code'] === 'RXC_ERR_STALLED' && line['node'] === 'n1'),
    ];
    t.diagnostic(`after the heal n1 heard n2 again in ${after[0]?.toFixed(0)} ms, n2 heard n1 in ${after[1]?.toFixed(0)} ms (bound readTimeout + 2 s = ${bound}); ${dropped} packets dropped; a fresh connection replaced the silent one ${stalled[0]?.length} time(s) on n1, ${stalled[1]?.length} on n2`);
    assert.ok(stalled.some((list) => list.length > 0), `a fresh connection replaced the silent link: n1 ${n1.story(droppedAt)} | n2 ${n2.story(droppedAt)}`);
    for (const [i, list] of stalled.entries()) {
      const who = i === 0 ? n1 : n2;
      assert.ok(list.length <= 1, `${who.name} replaced its silent link at most once: ${who.story(droppedAt)}`);
      assert.ok(list.every(({ at }) => at >= healedAt), `${who.name}: only after the heal (before it, no fresh dial got through)`);
    }
    for (const [i, ms] of after.entries()) assert.ok(ms <= bound, `${i === 0 ? 'n1' : 'n2'} heard its peer again ${ms.toFixed(0)} ms after the heal (bound ${bound}): ${(i === 0 ? n1 : n2).story(droppedAt)}`);
    await sleep(1000);
    for (const n of nodes) assert.deepEqual(n.events('leave', droppedAt), [], `${n.name}: no leave: ${n.story(droppedAt)}`);
    assert.equal(stderrOf(nodes), '', 'nothing on stderr');
  });
});
