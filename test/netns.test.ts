/**
 * Five rxcluster processes on a real network: each in its own Linux network
 * namespace, on one bridge (test/netns/harness.ts). First the harness proves
 * that each fault it makes really takes effect and that it leaves nothing
 * behind; then a 3|2 partition, kill -9, SIGSTOP/SIGCONT and a restart beside
 * a frozen old process, each with the default settings and with
 * pingInterval 1000 / readTimeout 3000. Needs root: without network
 * namespaces the tests fail with the reason, they are never skipped.
 *
 * Independent tests run concurrently, each in a lab of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createLab,
  eventAt,
  labFor,
  stderrOf,
  labNamespaces,
  median,
  ms,
  PORT,
  PROBE_PORT,
  Recorded,
  run,
  sleep,
  type Lab,
  type LabNode,
  type Line,
  type Timed,
} from './netns/harness.js';
import { PROFILES, type Profile } from './netns/scenarios.js';

/** How much later than readTimeout a silent peer may be reported (timer granularity, a loaded 2-core machine). */
const TOLERANCE = 1500;

const leaveOf =
  (name: string, since: number) =>
  (line: Line, at: number): boolean =>
    at >= since && line.type === 'leave' && line['node'] === name;
const joinOf =
  (name: string, since: number) =>
  (line: Line, at: number): boolean =>
    at >= since && line.type === 'join' && line['node'] === name;

/** Starts every node and waits until each printed a join of every other one. */
async function meshUp(lab: Lab, profile: Profile): Promise<LabNode[]> {
  const nodes = await lab.startAll({ settings: profile.settings });
  await Promise.all(
    nodes.flatMap((node) =>
      nodes.filter((other) => other !== node).map((other) => node.wait(joinOf(other.name, 0), 60_000, `${node.name} to join ${other.name}`)),
    ),
  );
  return nodes;
}

/** Resolves once each node printed a join of every other at or after `since` (it was restarted) or is joined to it already. */
async function wholeMesh(nodes: readonly LabNode[], since: number): Promise<void> {
  await Promise.all(
    nodes.flatMap((n) =>
      nodes
        .filter((other) => other !== n && !isJoined(n, other.name))
        .map((other) => n.wait(joinOf(other.name, since), 45_000, `${n.name} to join ${other.name}`)),
    ),
  );
}

/** Whether a node's last join/leave line about `peer` is a join. */
function isJoined(n: LabNode, peer: string): boolean {
  const last = n.lines.filter(({ line }) => (line.type === 'join' || line.type === 'leave') && line['node'] === peer).at(-1);
  return last?.line.type === 'join';
}

/** When a quorum line's change happened: at the join, leave or suspicion printed just before it (which caused it), by the node's clock. */
function quorumChangeAt(n: LabNode, quorum: Timed): number {
  const cause = n.lines.filter(({ line, at }) => at <= quorum.at && (line.type === 'join' || line.type === 'leave' || line.type === 'suspect' || line.type === 'alive')).at(-1);
  return cause === undefined ? quorum.at : eventAt(cause);
}

/** A node's quorum now: its last quorum line, else the one in its listening line. */
function hasQuorum(n: LabNode): boolean | undefined {
  const last = n.events('quorum').at(-1)?.line['quorum'] ?? n.lines.find(({ line }) => line.type === 'listening')?.line['quorum'];
  return typeof last === 'boolean' ? last : undefined;
}

/** Every node's joins and leaves alternate per peer: never two joins of one peer without a leave between (one entry per name). */
function assertNoDuplicates(nodes: readonly LabNode[]): void {
  for (const node of nodes) {
    const joined = new Map<string, boolean>();
    for (const { line } of node.lines) {
      if (line.type !== 'join' && line.type !== 'leave') continue;
      const peer = String(line['node']);
      const was = joined.get(peer) ?? false;
      assert.notEqual(was, line.type === 'join', `${node.name} (pid ${node.pid}) printed a ${line.type} of ${peer} while it was ${was ? '' : 'not '}joined: ${node.story()}`);
      joined.set(peer, line.type === 'join');
    }
  }
}

function reason(timed: Timed): string {
  return String(timed.line['reason']);
}

/** The process state letter from /proc (R, S, T for stopped…). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Whether `from` can open a TCP connection to `to`'s cluster port right now. */
async function reaches(lab: Lab, from: string, to: string, timeout = 700): Promise<boolean> {
  const answer = await lab.probe(from, ['connect', lab.ip(to), PORT, timeout]);
  return answer['ok'] === true;
}


describe('netns lab', { concurrency: true }, () => {
  // ------------------------------------------------------------ the harness

  it('drop is one-way and silent, cut and partition two-way, isolate and link down cut a node, heal restores all', { timeout: 60_000 }, async (t) => {
    const lab = await labFor(t);
    const servers = new Map(await Promise.all(lab.names.map(async (name) => [name, await lab.serveProbe(name)] as const)));
    const udpMatrix = async (pairs: readonly (readonly [string, string])[]): Promise<Map<string, number>> => {
      const before = new Map(await Promise.all(lab.names.map(async (name) => [name, await (servers.get(name) as { udpCounts: () => Promise<Record<string, number>> }).udpCounts()] as const)));
      await Promise.all(pairs.map(([from, to]) => lab.probe(from, ['udp', lab.ip(to), PROBE_PORT, 20, 0])));
      await sleep(200);
      const result = new Map<string, number>();
      for (const [from, to] of pairs) {
        const counts = await (servers.get(to) as { udpCounts: () => Promise<Record<string, number>> }).udpCounts();
        result.set(`${from}->${to}`, (counts[lab.ip(from)] ?? 0) - (before.get(to)?.[lab.ip(from)] ?? 0));
      }
      return result;
    };

    // baseline: every direction delivers
    const base = await udpMatrix([['n1', 'n2'], ['n2', 'n1'], ['n3', 'n4']]);
    assert.deepEqual([...base.values()], [20, 20, 20], `baseline UDP deliveries: ${JSON.stringify([...base])}`);

    await lab.drop('n1', 'n2');
    const oneWay = await udpMatrix([['n1', 'n2'], ['n2', 'n1'], ['n1', 'n3']]);
    assert.deepEqual(Object.fromEntries(oneWay), { 'n1->n2': 0, 'n2->n1': 20, 'n1->n3': 20 }, 'drop n1->n2 stops only that direction');
    // silent: the sender's connect gets no error, it just waits (SYN dropped) until its own timeout
    const silent = await lab.probe('n1', ['connect', lab.ip('n2'), PROBE_PORT, 700]);
    assert.deepEqual(silent, { ok: false, error: 'timeout' }, 'the sender sees no error, only silence');
    await lab.heal();

    await lab.cut('n1', 'n2');
    const cut = await udpMatrix([['n1', 'n2'], ['n2', 'n1'], ['n2', 'n3']]);
    assert.deepEqual(Object.fromEntries(cut), { 'n1->n2': 0, 'n2->n1': 0, 'n2->n3': 20 }, 'cut n1<->n2');
    await lab.heal();

    await lab.partition(['n1', 'n2', 'n3'], ['n4', 'n5']);
    const parted = await udpMatrix([['n1', 'n4'], ['n5', 'n3'], ['n1', 'n3'], ['n4', 'n5']]);
    assert.deepEqual(Object.fromEntries(parted), { 'n1->n4': 0, 'n5->n3': 0, 'n1->n3': 20, 'n4->n5': 20 }, 'partition 3|2');
    await lab.heal();

    await lab.isolate('n3');
    const isolated = await udpMatrix([['n3', 'n1'], ['n2', 'n3'], ['n1', 'n2']]);
    assert.deepEqual(Object.fromEntries(isolated), { 'n3->n1': 0, 'n2->n3': 0, 'n1->n2': 20 }, 'isolate n3');
    await lab.heal();

    await lab.linkDown('n4');
    const down = await udpMatrix([['n4', 'n1'], ['n1', 'n4'], ['n1', 'n2']]);
    assert.deepEqual(Object.fromEntries(down), { 'n4->n1': 0, 'n1->n4': 0, 'n1->n2': 20 }, 'link of n4 down');
    await lab.linkUp('n4');
    // the kernel's linkwatch resumes a device's transmission up to 1 s after its carrier returns, then ARP resolves again
    await sleep(2000);
    const up = await udpMatrix([['n4', 'n1'], ['n1', 'n4']]);
    assert.deepEqual(Object.fromEntries(up), { 'n4->n1': 20, 'n1->n4': 20 }, 'link of n4 up again');

    await lab.partition(['n1'], ['n2', 'n3', 'n4', 'n5']);
    await lab.linkDown('n5');
    await lab.heal();
    const healed = await udpMatrix(lab.names.flatMap((from) => lab.names.filter((to) => to !== from).map((to) => [from, to] as const)));
    assert.ok([...healed.values()].every((count) => count === 20), `after heal every direction delivers: ${JSON.stringify([...healed])}`);
    t.diagnostic(`fault timeline: ${lab.timeline.map((event) => event.fault).join('; ')}`);
  });

  it('loss 20 % (iptables statistic on INPUT) and delay 50 ± 10 ms (NFQUEUE + delayq.py) measured', { timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, ['n1', 'n2', 'n3']);
    const server2 = await lab.serveProbe('n2');
    await lab.serveProbe('n3');
    const rtts = async (from: string, to: string, count: number): Promise<number[]> => {
      const answer = await lab.probe(from, ['rtt', lab.ip(to), PROBE_PORT, count], 30_000);
      assert.ok(Array.isArray(answer['rtts']), `rtt ${from}->${to}: ${JSON.stringify(answer)}`);
      return answer['rtts'] as number[];
    };
    // on a loaded machine the baseline itself may be some ms: the checks below only rely on delay adding time
    const baseline = await rtts('n1', 'n2', 20);

    await lab.delay('n1', 50, 10);
    await lab.delay('n2', 50, 10);
    const delayed = await rtts('n1', 'n2', 30);
    const sorted = [...delayed].sort((a, b) => a - b);
    t.diagnostic(`RTT n1<->n2 with 50 ± 10 ms on each side's egress: min ${sorted[0]?.toFixed(1)}, median ${median(delayed).toFixed(1)}, max ${sorted.at(-1)?.toFixed(1)} ms (baseline median ${median(baseline).toFixed(2)} ms)`);
    assert.ok((sorted[0] ?? 0) >= 2 * 40 - 1, `every RTT is at least 2 × (50 - 10) ms: ${ms(sorted)}`);
    assert.ok(median(delayed) >= 2 * 50 - 10, `median RTT near 2 × 50 ms: ${median(delayed).toFixed(1)}`);
    assert.ok(median(delayed) <= 2 * 60 + 40 + median(baseline), `median RTT not far above 2 × 60 ms: ${median(delayed).toFixed(1)} (baseline ${median(baseline).toFixed(1)})`);
    assert.ok((sorted.at(-1) ?? 0) - (sorted[0] ?? 0) >= 5, `jitter spreads the RTTs: ${ms(sorted)}`);
    // n3 is not delayed: n3<->n2 sees only n2's 50 ms
    const half = await rtts('n3', 'n2', 10);
    assert.ok(Math.min(...half) >= 40 - 1 && Math.min(...half) < 80 - 1, `RTT n3<->n2 (only n2 delayed): ${ms(half)}`);
    await lab.clearImpairments();
    const after = await rtts('n1', 'n2', 10);
    assert.ok(Math.min(...after) < 40 - 1, `delay removed: ${ms(after)}`);

    await lab.loss('n2', 0.2);
    const before = (await server2.udpCounts())[lab.ip('n1')] ?? 0;
    // paced (2 ms apart), so that nothing but the rule can drop them
    await lab.probe('n1', ['udp', lab.ip('n2'), PROBE_PORT, 500, 2], 30_000);
    await sleep(300);
    const received = ((await server2.udpCounts())[lab.ip('n1')] ?? 0) - before;
    t.diagnostic(`20 % loss on n2's INPUT: ${500 - received} of 500 datagrams lost`);
    // binomial(500, 0.2): sd 8.9; [350, 450] received is more than 5 sd each way from 400
    assert.ok(received >= 350 && received <= 450, `${received} of 500 received with 20 % loss`);
    // silent: a TCP connect from n1 still works (losses are retransmitted), no error
    assert.equal((await lab.probe('n1', ['connect', lab.ip('n3'), PROBE_PORT, 3000]))['ok'], true);
    await lab.heal();
  });

  it('teardown leaves nothing behind on every way out: destroy, normal exit, uncaught error, SIGTERM, SIGINT, and a killed run is cleaned next time', { timeout: 90_000 }, async (t) => {
    const child = fileURLToPath(new URL('./netns/lab-child.ts', import.meta.url));
    const root = fileURLToPath(new URL('..', import.meta.url));
    const launch = async (how: string): Promise<{ proc: Recorded; namespaces: string[] }> => {
      const proc = new Recorded(spawn(process.execPath, ['--import', 'tsx', child, how], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] }));
      const made = await proc.wait((line) => line.type === 'lab', 60_000, `a lab child (${how}) to make its lab`);
      const namespaces = made.line['namespaces'] as string[];
      assert.equal(namespaces.length, 3, `the child's lab has a bridge and two node namespaces: ${namespaces.join(', ')}`);
      return { proc, namespaces };
    };
    const gone = (namespaces: readonly string[]): string[] => {
      const now = new Set(labNamespaces());
      return namespaces.filter((ns) => now.has(ns));
    };
    t.after(async () => {
      // whatever failed, no child may survive this test (they are ours, killed by pid)
      await Promise.all(procs.map((proc) => proc.stop()));
    });
    const procs: Recorded[] = [];
    const hostLinks = async (): Promise<string[]> =>
      (await run('ip', ['-o', 'link', 'show'])).split('\n').flatMap((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? []);
    const hostBefore = await hostLinks();

    // our own lab, destroyed
    const own = await createLab({ names: ['x', 'y'] });
    assert.equal(own.leftovers().length, 3);
    await own.destroy();
    assert.deepEqual(own.leftovers(), [], 'destroy() deletes every namespace');

    const outcomes = await Promise.all(
      (['exit', 'throw', 'SIGTERM', 'SIGINT', 'SIGKILL'] as const).map(async (how) => {
        const { proc, namespaces } = await launch(how === 'exit' || how === 'throw' ? how : 'wait');
        procs.push(proc);
        if (how !== 'exit' && how !== 'throw') {
          assert.deepEqual(gone(namespaces), namespaces, `${how}: the lab exists before`);
          proc.signal(how);
        }
        const exit = await Promise.race([proc.exited, sleep(20_000).then(() => undefined)]);
        assert.ok(exit !== undefined, `${how}: the lab child exited`);
        return { how, namespaces, exit, left: gone(namespaces) };
      }),
    );
    for (const { how, exit, left } of outcomes) {
      if (how === 'SIGKILL') continue;
      assert.deepEqual(left, [], `${how} (exit ${String(exit?.code ?? exit?.signal)}): no namespace left behind`);
    }
    if (outcomes.find((o) => o.how === 'throw')?.exit?.code === 0) assert.fail('the throwing child exited 0');
    assert.equal(outcomes.find((o) => o.how === 'SIGTERM')?.exit?.signal, 'SIGTERM', 'SIGTERM still ends the process by that signal');

    // SIGKILL leaves no chance to clean up: the next run's first lab removes it (and only stale labs)
    const killed = outcomes.find((o) => o.how === 'SIGKILL');
    assert.ok(killed !== undefined);
    assert.deepEqual(killed.left, killed.namespaces, 'a SIGKILLed run leaves its lab (nothing can run)');
    const { proc: next, namespaces: fresh } = await launch('exit');
    procs.push(next);
    await next.exited;
    assert.deepEqual(gone(killed.namespaces), [], 'the next run removed the stale lab of the killed one');
    assert.deepEqual(gone(fresh), [], 'and its own on exit');
    assert.deepEqual(await hostLinks(), hostBefore, 'the host namespace has the same interfaces as before: no lab interface ever appears there');
  });

  // ------------------------------------------------------------ five nodes

  // one lab per profile, its scenarios one after the other (each leaves a whole mesh
  // for the next): starting a node costs ~1 CPU second, and this file must stay short
  for (const profile of PROFILES) {
    const { readTimeout, pingInterval, joinDelay } = profile;

    describe(`five nodes, ${profile.label}`, { concurrency: false }, () => {
      let lab: Lab;
      /** The current process of each node name. */
      const current = new Map<string, LabNode>();
      const live = (): LabNode[] => [...current.values()];
      const node = (name: string): LabNode => {
        const found = current.get(name);
        if (found === undefined) throw new Error(`no node ${name}`);
        return found;
      };

      before(async () => {
        lab = await createLab();
        for (const started of await meshUp(lab, profile)) current.set(started.name, started);
      }, { timeout: 120_000 });
      after(async () => {
        await lab.destroy();
        assert.deepEqual(lab.leftovers(), [], `lab ${lab.id} left namespaces behind`);
      });

      it('partition 3|2: the three keep quorum, the two lose it within readTimeout; on heal one join per pair, no duplicate', { timeout: 90_000 }, async (t) => {
        const nodes = live();
        const majority = ['n1', 'n2', 'n3'].map(node);
        const minority = ['n4', 'n5'].map(node);
        await sleep(500);
        for (const n of nodes) assert.equal(hasQuorum(n), true, `${n.name} has quorum before: ${n.story()}`);

        await lab.partition(['n1', 'n2', 'n3'], ['n4', 'n5']);
        const partedAt = performance.now();
        assert.deepEqual(
          await Promise.all([reaches(lab, 'n1', 'n4'), reaches(lab, 'n5', 'n2'), reaches(lab, 'n1', 'n3'), reaches(lab, 'n4', 'n5')]),
          [false, false, true, true],
          'the partition is in place (TCP connects across fail, within succeed)',
        );
        const lost = await Promise.all(
          minority.map((n) => n.wait((line, at) => at >= partedAt && line.type === 'quorum' && line['quorum'] === false, readTimeout + TOLERANCE + 5000, `${n.name} to lose quorum`)),
        );
        const lossTimes = lost.map((timed, i) => quorumChangeAt(minority[i] as LabNode, timed) - partedAt);
        const majorityLeaves = await Promise.all(
          majority.flatMap((n) => minority.map((other) => n.wait(leaveOf(other.name, partedAt), readTimeout + TOLERANCE + 5000, `${n.name} to see ${other.name} leave`))),
        );
        t.diagnostic(`quorum lost by n4, n5 ${ms(lossTimes)} ms after the partition; n1-n3 saw n4, n5 leave after ${ms(majorityLeaves.map((l) => eventAt(l) - partedAt))} ms (readTimeout ${readTimeout})`);
        for (const [i, after] of lossTimes.entries()) {
          assert.ok(after <= readTimeout + TOLERANCE, `${minority[i]?.name} lost quorum ${after.toFixed(0)} ms after the partition (readTimeout ${readTimeout} + ${TOLERANCE})`);
          assert.ok(after >= readTimeout - pingInterval - 100, `${minority[i]?.name} lost quorum ${after.toFixed(0)} ms after the partition, before readTimeout could pass`);
        }
        for (const leave of majorityLeaves) assert.equal(reason(leave), 'timeout');
        await sleep(1000);
        for (const n of majority) assert.deepEqual(n.events('quorum', partedAt), [], `${n.name} kept quorum: ${n.story()}`);

        const healAt = performance.now();
        await lab.heal();
        const healedAt = performance.now();
        assert.equal(await reaches(lab, 'n1', 'n4'), true, 'the heal is in place');
        const across = (a: LabNode, b: LabNode): boolean => majority.includes(a) !== majority.includes(b);
        const rejoins = await Promise.all(
          nodes.flatMap((n) => nodes.filter((other) => across(n, other)).map((other) => n.wait(joinOf(other.name, healAt), 45_000, `${n.name} to join ${other.name} after the heal`))),
        );
        const rejoinTimes = rejoins.map((timed) => eventAt(timed) - healedAt);
        const regained = await Promise.all(
          minority.map((n) => n.wait((line, at) => at >= healAt && line.type === 'quorum' && line['quorum'] === true, 10_000, `${n.name} to regain quorum`)),
        );
        t.diagnostic(`after the heal: the 12 cross joins after ${ms(rejoinTimes)} ms (median ${median(rejoinTimes).toFixed(0)}, max ${Math.max(...rejoinTimes).toFixed(0)}); n4, n5 regained quorum after ${ms(regained.map((q, i) => quorumChangeAt(minority[i] as LabNode, q) - healedAt))} ms`);
        await sleep(Math.max(2000, 2 * joinDelay));
        for (const n of nodes) {
          for (const other of nodes) {
            if (other === n) continue;
            const count = across(n, other) ? 1 : 0;
            assert.equal(n.events('join', healAt, other.name).length, count, `${n.name} joined ${other.name} ${count} time(s) after the heal: ${n.story()}`);
            assert.equal(n.events('leave', partedAt, other.name).length, count, `${n.name} saw ${other.name} leave ${count} time(s): ${n.story()}`);
          }
        }
        assertNoDuplicates(nodes);
        assert.equal(stderrOf(nodes), '', 'nothing on stderr');
      });

      it('kill -9 of one: every other node reports the leave at once', { timeout: 60_000 }, async (t) => {
        const victim = node('n5');
        const survivors = live().filter((n) => n !== victim);
        await sleep(300);
        const killedAt = performance.now();
        assert.equal(victim.signal('SIGKILL'), true, 'SIGKILL sent');
        const exit = await Promise.race([victim.exited, sleep(5000).then(() => undefined)]);
        assert.equal(exit?.signal, 'SIGKILL', 'the victim died of SIGKILL');
        const leaves = await Promise.all(survivors.map((n) => n.wait(leaveOf(victim.name, killedAt), readTimeout + TOLERANCE, `${n.name} to see ${victim.name} leave`)));
        const detection = leaves.map((leave) => eventAt(leave) - killedAt);
        t.diagnostic(`kill -9 of ${victim.name} reported by n1-n4 after ${ms(detection)} ms (readTimeout ${readTimeout})`);
        for (const [i, after] of detection.entries()) {
          // the kernel closes a killed process's sockets: a FIN or RST, no timeout needed
          assert.ok(after < 1000, `${survivors[i]?.name} saw the leave ${after.toFixed(0)} ms after SIGKILL`);
          assert.equal(reason(leaves[i] as Timed), 'lost', `${survivors[i]?.name}: the connection was lost`);
        }
        await sleep(1000);
        for (const n of survivors) {
          assert.deepEqual(n.events('quorum', killedAt), [], `${n.name} kept quorum: ${n.story()}`);
          assert.equal(n.events('leave', killedAt).length, 1, `${n.name}: one leave only: ${n.story()}`);
        }
        assertNoDuplicates(survivors);
        assert.equal(stderrOf(survivors), '', 'nothing on stderr');

        // back to five for the next scenario: a fresh n5 on the same address
        const restartedAt = performance.now();
        const fresh = await lab.start('n5', { settings: profile.settings });
        current.set('n5', fresh);
        await wholeMesh(live(), restartedAt);
        t.diagnostic(`a fresh n5 was joined by all ${((performance.now() - (fresh.listeningAt() ?? NaN)) / 1).toFixed(0)} ms after its listening line`);
      });

      it('SIGSTOP then SIGCONT: a leave after about readTimeout, one rejoin after SIGCONT', { timeout: 60_000 }, async (t) => {
        const victim = node('n3');
        const survivors = live().filter((n) => n !== victim);
        await sleep(300);
        const stoppedAt = performance.now();
        assert.equal(victim.signal('SIGSTOP'), true);
        await sleep(50);
        assert.equal(procState(victim.pid), 'T', 'the victim is stopped');
        const leaves = await Promise.all(survivors.map((n) => n.wait(leaveOf(victim.name, stoppedAt), readTimeout + TOLERANCE + 5000, `${n.name} to see ${victim.name} leave`)));
        const detection = leaves.map((leave) => eventAt(leave) - stoppedAt);
        t.diagnostic(`SIGSTOP of ${victim.name}: leave after ${ms(detection)} ms (readTimeout ${readTimeout})`);
        for (const [i, after] of detection.entries()) {
          assert.ok(after >= readTimeout - pingInterval - 100, `${survivors[i]?.name} saw the leave ${after.toFixed(0)} ms after SIGSTOP: before readTimeout could pass`);
          assert.ok(after <= readTimeout + TOLERANCE, `${survivors[i]?.name} saw the leave ${after.toFixed(0)} ms after SIGSTOP (readTimeout ${readTimeout} + ${TOLERANCE})`);
          assert.equal(reason(leaves[i] as Timed), 'timeout');
        }
        await sleep(300);
        for (const n of survivors) assert.equal(n.events('join', stoppedAt, victim.name).length, 0, `${n.name}: no join while frozen`);

        const resumedAt = performance.now();
        assert.equal(victim.signal('SIGCONT'), true);
        await sleep(50);
        assert.notEqual(procState(victim.pid), 'T', 'the victim runs again');
        const joins = await Promise.all(survivors.map((n) => n.wait(joinOf(victim.name, resumedAt), 30_000, `${n.name} to join ${victim.name} again`)));
        const rejoin = joins.map((join) => eventAt(join) - resumedAt);
        t.diagnostic(`${victim.name} rejoined ${ms(rejoin)} ms after SIGCONT`);
        await Promise.all(survivors.map((n) => victim.wait(joinOf(n.name, resumedAt), 30_000, `${victim.name} to join ${n.name} again`)));
        await sleep(Math.max(1500, 2 * joinDelay));
        for (const n of survivors) {
          assert.equal(n.events('join', resumedAt, victim.name).length, 1, `${n.name}: one join after SIGCONT: ${n.story()}`);
          assert.equal(n.events('leave', resumedAt, victim.name).length, 0, `${n.name}: no leave after SIGCONT: ${n.story()}`);
          assert.deepEqual(n.events('quorum', stoppedAt), [], `${n.name} kept quorum: ${n.story()}`);
        }
        assertNoDuplicates(live());
        assert.equal(stderrOf(live()), '', 'nothing on stderr');
      });

      it('restart under the same name beside the frozen old process: the new one replaces it at once', { timeout: 60_000 }, async (t) => {
        const old = node('n1');
        const observers = live().filter((n) => n !== old);
        // the new instance is loaded first and held at a gate: loading takes longer than the
        // short readTimeout, and the old one must still be a live link when the new one comes.
        // Its port is still held by the old process: the new one listens on the next port of the same address
        const fresh = await lab.start('n1', { settings: profile.settings, port: PORT + 1, gated: true });
        current.set('n1', fresh);
        await sleep(300);
        const frozenAt = performance.now();
        assert.equal(old.signal('SIGSTOP'), true);
        await sleep(50);
        assert.equal(procState(old.pid), 'T', 'the old process is stopped');
        const listenedAt = (await fresh.openGate()).at;
        for (const n of observers) assert.deepEqual(n.events('leave', frozenAt, 'n1').filter(({ at }) => at < listenedAt), [], `${n.name} did not drop the frozen n1 before the new one listened: ${n.story()}`);
        assert.ok(!old.hasExited() && procState(old.pid) === 'T', 'the old process is still there, frozen');
        const bound = joinDelay + 1000;
        const leaves = await Promise.all(observers.map((n) => n.wait(leaveOf('n1', frozenAt), bound + 10_000, `${n.name} to see the old n1 leave`)));
        const joins = await Promise.all(observers.map((n) => n.wait(joinOf('n1', frozenAt), bound + 10_000, `${n.name} to join the new n1`)));
        const leaveTimes = leaves.map((leave) => eventAt(leave) - listenedAt);
        const joinTimes = joins.map((join) => eventAt(join) - listenedAt);
        t.diagnostic(`the new n1 printed listening ${(listenedAt - frozenAt).toFixed(0)} ms after the old froze; n2-n5 saw the old leave ${ms(leaveTimes)} ms and the new join ${ms(joinTimes)} ms after that line (bound joinDelay + 1 s = ${bound})`);
        for (const [i, leave] of leaves.entries()) {
          assert.equal(reason(leave), 'restarted', `${observers[i]?.name}: the old n1 left as restarted, not after a timeout: ${observers[i]?.story()}`);
          assert.ok(leave.at <= (joins[i]?.at ?? -Infinity), `${observers[i]?.name}: the leave before the join`);
        }
        for (const [i, after] of joinTimes.entries()) assert.ok(after <= bound, `${observers[i]?.name} joined the new n1 ${after.toFixed(0)} ms after its listening line (bound ${bound})`);
        await Promise.all(observers.map((n) => fresh.wait(joinOf(n.name, 0), 10_000, `the new n1 to join ${n.name}`)));

        // the old process wakes up: it is the older instance, it must not take the name back
        const resumedAt = performance.now();
        assert.equal(old.signal('SIGCONT'), true);
        await sleep(Math.max(3000, readTimeout / 2));
        for (const n of observers) {
          assert.deepEqual(n.events('leave', resumedAt, 'n1'), [], `${n.name}: the woken old n1 does not displace the new one: ${n.story()}`);
          assert.equal(n.events('join', frozenAt, 'n1').length, 1, `${n.name}: one join of n1: ${n.story()}`);
          assert.deepEqual(n.events('quorum', frozenAt), [], `${n.name} kept quorum: ${n.story()}`);
        }
        assertNoDuplicates(live());
        assert.equal(stderrOf(live()), '', 'nothing on stderr');
      });
    });
  }
});
