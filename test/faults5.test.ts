/**
 * Faults in a five-node cluster of real `rxcluster` CLI processes (plus a
 * network stall between two of them): a node killed with SIGKILL, frozen with
 * SIGSTOP, restarted under the same name, all five restarted one by one, and
 * a TCP proxy between two nodes that stops forwarding. Timings are the
 * FAST_SETTINGS ones, passed with --setting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from './support/cluster.js';
import {
  clusterView,
  FAST,
  meshJoined,
  membership,
  peersOf,
  quorumLost,
  startCli,
  startCliCluster,
  story,
  type CliLine,
  type CliNode,
  type CliProcess,
  type Timed,
} from './support/cli-node.js';
import { startProxy, type Proxy } from './support/proxy.js';
import { within } from './support/raw.js';
import { scope, type Release } from './support/scope.js';

type Defer = (release: Release) => void;

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const { readTimeout, pingInterval } = FAST;

/** Five CLI nodes, each configured with the four others, all joined. */
async function five(defer: Defer): Promise<CliNode[]> {
  const nodes = await startCliCluster(NAMES, defer, { settings: FAST });
  await meshJoined(nodes, 10_000);
  return nodes;
}

const leaveOf = (name: string, since: number) => (line: CliLine, at: number): boolean => at >= since && line.type === 'leave' && line.node === name;
const joinOf = (name: string, since: number) => (line: CliLine, at: number): boolean => at >= since && line.type === 'join' && line.node === name;

function reason(timed: Timed): string {
  return timed.line.type === 'leave' ? timed.line.reason : `(not a leave: ${JSON.stringify(timed.line)})`;
}

function ms(values: readonly number[]): string {
  return values.map((value) => value.toFixed(0)).join(', ');
}

/** Each node's view over the HTTP API lists exactly the other nodes, all Online, with quorum. */
async function allOnline(nodes: readonly CliNode[]): Promise<void> {
  for (const node of nodes) {
    const view = await clusterView(node);
    const others = nodes.filter((other) => other !== node).map((other) => other.name).sort();
    assert.deepEqual(Object.keys(view.nodes).sort(), others, `${node.name} lists each other node once`);
    for (const name of others) assert.equal(view.nodes[name]?.status, 'Online', `${node.name} sees ${name} Online`);
    assert.equal(view.quorum, true, `${node.name} has quorum`);
  }
}

/** Warnings and errors the nodes logged, one line each, for the test's diagnostics. */
function warnings(nodes: readonly CliProcess[], names: readonly string[]): string[] {
  return nodes.flatMap((node, i) =>
    node.lines.flatMap(({ line }) =>
      line.type === 'log' && (line.level === 'warn' || line.level === 'error')
        ? [`${names[i] ?? '?'}: ${line.level} ${line.node === undefined ? '' : `[${line.node}] `}${line.message}${line.code === undefined ? '' : ` (${line.code})`}`]
        : [],
    ),
  );
}

/** Nothing went to stderr: no crash, no stray output. */
function quietStderr(nodes: readonly CliProcess[]): void {
  for (const node of nodes) assert.equal(node.stderr(), '', `pid ${node.pid} wrote to stderr`);
}

/** The quorum:false lines a node printed after it first had quorum. */
function quorumLostAfterFirstTrue(node: CliProcess): Timed[] {
  const firstTrue = node.lines.find(({ line }) => line.type === 'quorum' && line.quorum);
  return firstTrue === undefined ? [] : quorumLost(node, firstTrue.at);
}

describe('faults among five rxcluster processes', () => {
  it('kill -9 of one: the four others announce it within 1 s, keep quorum, and keep talking', { timeout: 45_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await five(defer);
    const victim = nodes[4] as CliNode;
    const survivors = nodes.slice(0, 4);

    const killedAt = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    const leaves = await Promise.all(survivors.map((s) => s.wait(leaveOf(victim.name, killedAt), 3000, `${s.name} to print the leave of ${victim.name}`)));
    const detection = leaves.map((leave) => leave.at - killedAt);
    t.diagnostic(`leave of ${victim.name} printed ${ms(detection)} ms after SIGKILL by ${survivors.map((s) => s.name).join(', ')}`);
    survivors.forEach((s, i) => {
      assert.ok((detection[i] ?? Infinity) < 1000, `${s.name} printed the leave ${detection[i]?.toFixed(0)} ms after SIGKILL`);
      assert.equal(reason(leaves[i] as Timed), 'lost', `${s.name}: the connection was lost`);
    });
    assert.equal((await within(victim.exited, 3000, `${victim.name} to exit`)).signal, 'SIGKILL');

    // every survivor broadcasts; every other survivor gets it
    const sentAt = performance.now();
    for (const s of survivors) s.send(JSON.stringify({ from: s.name, after: 'kill' }));
    await Promise.all(
      survivors.flatMap((receiver) =>
        survivors
          .filter((sender) => sender !== receiver)
          .map((sender) =>
            receiver.wait(
              (line, at) => at >= sentAt && line.type === 'message' && line.from === sender.name && (line.data as { after?: unknown }).after === 'kill',
              3000,
              `${receiver.name} to get the message of ${sender.name}`,
            ),
          ),
      ),
    );
    t.diagnostic(`12 messages among the survivors delivered within ${(performance.now() - sentAt).toFixed(0)} ms`);
    await sleep(500);
    for (const s of survivors) {
      assert.deepEqual(quorumLost(s, killedAt), [], `${s.name} never lost quorum: ${story(s)}`);
      for (const other of survivors) {
        if (other !== s) assert.deepEqual(membership(s, other.name, killedAt).leaves, [], `${s.name} saw ${other.name} stay: ${story(s)}`);
      }
      assert.equal(membership(s, victim.name, killedAt).leaves.length, 1, `one leave of ${victim.name}: ${story(s)}`);
    }
    const view = await clusterView(survivors[0] as CliNode);
    assert.equal(view.nodes[victim.name]?.status, 'Offline');
    assert.equal(view.quorum, true);
    for (const line of warnings(survivors, survivors.map((s) => s.name))) t.diagnostic(line);
    quietStderr(nodes);
  });

  it('SIGSTOP of one: a leave after readTimeout, and after SIGCONT exactly one join on each other node', { timeout: 45_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await five(defer);
    const victim = nodes[2] as CliNode;
    const survivors = nodes.filter((node) => node !== victim);
    let frozen = false;
    defer(() => {
      if (frozen && !victim.hasExited()) process.kill(victim.pid, 'SIGCONT');
    });

    const stoppedAt = performance.now();
    process.kill(victim.pid, 'SIGSTOP');
    frozen = true;
    const leaves = await Promise.all(
      survivors.map((s) => s.wait(leaveOf(victim.name, stoppedAt), readTimeout + 4000, `${s.name} to print the leave of ${victim.name}`)),
    );
    const detection = leaves.map((leave) => leave.at - stoppedAt);
    t.diagnostic(`leave of ${victim.name} printed ${ms(detection)} ms after SIGSTOP (readTimeout ${readTimeout} ms)`);
    // the silence runs from the last frame read, at most one pingInterval before the freeze
    survivors.forEach((s, i) => {
      const after = detection[i] ?? Infinity;
      assert.ok(after >= readTimeout - pingInterval - 50, `${s.name} printed the leave ${after.toFixed(0)} ms after SIGSTOP, before readTimeout could pass`);
      assert.ok(after < readTimeout + 1500, `${s.name} printed the leave ${after.toFixed(0)} ms after SIGSTOP`);
      assert.equal(reason(leaves[i] as Timed), 'timeout', `${s.name}: a read timeout`);
    });
    await sleep(300);
    assert.equal(membership(survivors[0] as CliNode, victim.name, stoppedAt).joins.length, 0, 'no join while frozen');

    const resumedAt = performance.now();
    process.kill(victim.pid, 'SIGCONT');
    frozen = false;
    const joins = await Promise.all(survivors.map((s) => s.wait(joinOf(victim.name, resumedAt), 8000, `${s.name} to print the join of ${victim.name} again`)));
    t.diagnostic(`${victim.name} rejoined ${ms(joins.map((join) => join.at - resumedAt))} ms after SIGCONT`);
    await sleep(1000); // prove that no second join (no flapping) follows
    for (const s of survivors) {
      const { joins: rejoins, leaves: left } = membership(s, victim.name, resumedAt);
      assert.equal(rejoins.length, 1, `${s.name}: exactly one join after SIGCONT: ${story(s)}`);
      assert.equal(left.length, 0, `${s.name}: no leave after SIGCONT: ${story(s)}`);
      assert.deepEqual(quorumLost(s, stoppedAt), [], `${s.name} kept quorum: ${story(s)}`);
    }
    // the frozen node itself ends with each peer joined once more than left
    await Promise.all(survivors.map((s) => victim.wait(joinOf(s.name, resumedAt), 5000, `${victim.name} to print the join of ${s.name} again`)));
    t.diagnostic(`${victim.name} saw: ${story(victim)}`);
    for (const s of survivors) {
      const { joins: j, leaves: l } = membership(victim, s.name);
      assert.equal(j.length, l.length + 1, `${victim.name} about ${s.name}: ${story(victim)}`);
    }
    assert.equal(victim.hasExited(), false, 'the frozen node survived');
    await allOnline(nodes);
    for (const line of warnings(nodes, nodes.map((n) => n.name))) t.diagnostic(line);
    quietStderr(nodes);
  });

  it('restart under the same name and port: one leave, one join, never listed twice', { timeout: 45_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await five(defer);
    const victim = nodes[0] as CliNode;
    const survivors = nodes.filter((node) => node !== victim);

    const killedAt = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    await within(victim.exited, 3000, `${victim.name} to exit`);
    const again = await startCli(victim.name, { listen: victim.address, peers: peersOf(victim.name, nodes), settings: FAST });
    defer(() => again.stop());
    assert.equal(again.address, victim.address, 'the same port');
    const restartedAt = performance.now();
    const joined = await Promise.all(survivors.map((s) => s.wait(joinOf(victim.name, killedAt), 8000, `${s.name} to print the join of ${victim.name} again`)));
    await Promise.all(survivors.map((s) => again.wait(joinOf(s.name, 0), 8000, `the restarted ${victim.name} to print the join of ${s.name}`)));
    t.diagnostic(`restarted ${victim.name} listening ${(restartedAt - killedAt).toFixed(0)} ms after SIGKILL; rejoined ${ms(joined.map((j) => j.at - killedAt))} ms after it`);
    await sleep(1000);

    for (const s of survivors) {
      const { joins, leaves } = membership(s, victim.name, killedAt);
      assert.equal(leaves.length, 1, `${s.name}: one leave of ${victim.name}: ${story(s)}`);
      assert.equal(joins.length, 1, `${s.name}: one join of ${victim.name}: ${story(s)}`);
      assert.ok((leaves[0]?.at ?? Infinity) < (joins[0]?.at ?? -Infinity), `${s.name}: the leave came first`);
      assert.deepEqual(quorumLost(s, killedAt), [], `${s.name} kept quorum`);
    }
    for (const s of survivors) {
      const { joins, leaves } = membership(again, s.name);
      assert.deepEqual([joins.length, leaves.length], [1, 0], `the restarted ${victim.name} about ${s.name}: ${story(again)}`);
    }
    const cluster = [again, ...survivors];
    await allOnline(cluster);
    for (const line of warnings(cluster, cluster.map((n) => n.name))) t.diagnostic(line);
    quietStderr(nodes.concat(again));
  });

  it('rolling restart of all five, one by one: quorum never lost, nobody listed twice', { timeout: 55_000 }, async (t) => {
    const defer = scope(t);
    const current = await five(defer);
    const retired: CliNode[] = [];
    const startedAt = performance.now();
    const steps: string[] = [];

    for (let i = 0; i < current.length; i++) {
      const old = current[i] as CliNode;
      const others = current.filter((node) => node !== old);
      const stepAt = performance.now();
      old.child.kill('SIGTERM');
      const leaves = await Promise.all(others.map((o) => o.wait(leaveOf(old.name, stepAt), 3000, `${o.name} to print the leave of ${old.name}`)));
      for (const leave of leaves) assert.equal(reason(leave), 'shutdown', `an orderly leave of ${old.name}`);
      assert.deepEqual(await within(old.exited, 5000, `${old.name} to exit after SIGTERM`), { code: 0, signal: null });
      assert.equal(old.lines.at(-1)?.line.type, 'stopped');
      retired.push(old);

      const fresh = await startCli(old.name, { listen: old.address, peers: peersOf(old.name, current), settings: FAST });
      defer(() => fresh.stop());
      current[i] = fresh;
      await Promise.all([
        ...others.map((o) => o.wait(joinOf(old.name, stepAt), 8000, `${o.name} to print the join of the restarted ${old.name}`)),
        ...others.map((o) => fresh.wait(joinOf(o.name, 0), 8000, `the restarted ${old.name} to print the join of ${o.name}`)),
      ]);
      steps.push(`${old.name} ${(performance.now() - stepAt).toFixed(0)} ms`);
    }
    const duration = performance.now() - startedAt;
    t.diagnostic(`rolling restart of 5 nodes took ${duration.toFixed(0)} ms (${steps.join(', ')})`);
    await sleep(500);

    for (const node of [...retired, ...current]) {
      assert.deepEqual(quorumLostAfterFirstTrue(node), [], `${node.name} (pid ${node.pid}) never lost quorum: ${story(node)}`);
    }
    for (const node of current) {
      for (const other of current) {
        if (other === node) continue;
        const { joins, leaves } = membership(node, other.name);
        assert.equal(joins.length, leaves.length + 1, `${node.name} about ${other.name}: ${story(node)}`);
        for (const leave of leaves) assert.equal(reason(leave), 'shutdown', `${node.name} saw ${other.name} leave in order: ${story(node)}`);
      }
    }
    await allOnline(current);
    const everyone = [...retired, ...current];
    for (const line of warnings(everyone, everyone.map((n, i) => `${n.name}${i < retired.length ? ' (old)' : ''}`))) t.diagnostic(line);
    quietStderr(everyone);
  });
});

describe('a network stall between two processes', () => {
  it('both sides see a leave after readTimeout, and a join once the network forwards again', { timeout: 40_000 }, async (t) => {
    const defer = scope(t);
    // a dials b through toB, b dials a through toA; each proxy learns its target's port when the plan is made
    const listening = new Map<string, string>();
    const toB = await startProxy(() => listening.get('b') ?? '127.0.0.1:1');
    defer(() => toB.close());
    const toA = await startProxy(() => listening.get('a') ?? '127.0.0.1:1');
    defer(() => toA.close());
    const route = (from: string, to: string, address: string): string => {
      listening.set(to, address);
      return from === 'a' ? toB.address : toA.address;
    };
    const [a, b] = await startCliCluster(['a', 'b'], defer, { settings: FAST, route });
    assert.ok(a !== undefined && b !== undefined);
    await meshJoined([a, b], 10_000);
    assert.ok(toA.accepted + toB.accepted >= 1, 'the nodes talk through the proxies');
    await sleep(300);

    // pause just after a ping went through and its pong came back: both sides
    // then start their silence at the pause, and 0.8 × readTimeout is a fair floor
    await Promise.race([toA.nextDelivery(2000), toB.nextDelivery(2000)]);
    await sleep(20);
    const acceptedBefore = toA.accepted + toB.accepted;
    const pausedAt = performance.now();
    const proxies: Proxy[] = [toA, toB];
    for (const proxy of proxies) proxy.pause();
    const [leaveA, leaveB] = await Promise.all([
      a.wait(leaveOf('b', pausedAt), readTimeout + 4000, 'a to print the leave of b'),
      b.wait(leaveOf('a', pausedAt), readTimeout + 4000, 'b to print the leave of a'),
    ]);
    // the last bytes each side got, from whichever proxy carried the connection that was kept
    const lastToA = Math.max(toA.lastDelivered.toTarget, toB.lastDelivered.toClient);
    const lastToB = Math.max(toB.lastDelivered.toTarget, toA.lastDelivered.toClient);
    const detection = [leaveA.at - pausedAt, leaveB.at - pausedAt];
    const silence = [leaveA.at - lastToA, leaveB.at - lastToB];
    t.diagnostic(`stall detected ${ms(detection)} ms after the pause by a, b; ${ms(silence)} ms after the last bytes each got (readTimeout ${readTimeout} ms)`);
    for (const [i, leave] of [leaveA, leaveB].entries()) {
      const who = i === 0 ? 'a' : 'b';
      const after = detection[i] ?? Infinity;
      assert.equal(reason(leave), 'timeout', `${who}: a read timeout`);
      assert.ok(after >= readTimeout * 0.8, `${who} printed the leave ${after.toFixed(0)} ms after the pause`);
      assert.ok(after <= readTimeout + 1500, `${who} printed the leave ${after.toFixed(0)} ms after the pause`);
      assert.ok((silence[i] ?? 0) >= readTimeout - 20, `${who} left after ${silence[i]?.toFixed(0)} ms of silence, less than readTimeout`);
    }
    await sleep(500);
    assert.equal(membership(a, 'b', pausedAt).joins.length + membership(b, 'a', pausedAt).joins.length, 0, 'no join through a stalled network');

    const resumedAt = performance.now();
    for (const proxy of proxies) proxy.resume();
    const [joinA, joinB] = await Promise.all([
      a.wait(joinOf('b', resumedAt), 8000, 'a to print the join of b again'),
      b.wait(joinOf('a', resumedAt), 8000, 'b to print the join of a again'),
    ]);
    t.diagnostic(`rejoined ${ms([joinA.at - resumedAt, joinB.at - resumedAt])} ms after the network came back`);
    await sleep(1000);
    assert.ok(toA.accepted + toB.accepted > acceptedBefore, 'reconnected with new connections through the proxies');
    for (const [node, peer] of [[a, 'b'], [b, 'a']] as const) {
      const { joins, leaves } = membership(node, peer, pausedAt);
      assert.deepEqual([joins.length, leaves.length], [1, 1], `${node.name}: one leave and one join: ${story(node)}`);
    }
    b.send('"after the stall"');
    await a.wait((line, at) => at >= resumedAt && line.type === 'message' && line.data === 'after the stall', 3000, 'a to get a message after the stall');
    for (const line of warnings([a, b], ['a', 'b'])) t.diagnostic(line);
    quietStderr([a, b]);
  });
});
