/**
 * Two nodes dialing each other a moment apart (a rolling start: the earlier
 * node was refused by the later one, which now dials it, while the earlier
 * node's back-off ends and it dials again): the dial that finds the peer's own
 * connection already up at its challenge stands down before its proof, so one
 * session is built, not two of which the duplicate rule then closes one.
 * In-memory network, virtual time: the same timings every run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom, VirtualTimeScheduler } from 'rxjs';
import { Manager, type LogEntry } from '../../src/index.js';
import { MemoryNetwork } from '../../src/testing.js';
import type { Transport } from '../../src/transport/types.js';

const SECRET = 'a-cluster-secret-of-at-least-32-bytes';
/** One-way latency of the network, ms: a handshake takes a few of these, so the two dials can overlap. */
const LATENCY = 50;

interface Node {
  readonly manager: Manager;
  /** Virtual times of this node's dials. */
  readonly dials: number[];
  /** Log entries as `time level message`. */
  readonly log: string[];
}

function world(): { scheduler: VirtualTimeScheduler; network: MemoryNetwork } {
  const scheduler = new VirtualTimeScheduler();
  return { scheduler, network: new MemoryNetwork({ scheduler, latency: LATENCY }) };
}

async function start(w: ReturnType<typeof world>, name: string): Promise<Node> {
  const transport: Transport = w.network.transport();
  const dials: number[] = [];
  const dial$ = transport.dial$.bind(transport);
  (transport as { dial$: Transport['dial$'] }).dial$ = (address, expected, timeout) => {
    dials.push(w.scheduler.now());
    return dial$(address, expected, timeout);
  };
  const manager = new Manager(name, SECRET, { transport, scheduler: w.scheduler, random: () => 0.5 });
  const log: string[] = [];
  manager.log$.subscribe((e: LogEntry) => log.push(`${w.scheduler.now()} ${e.level} ${e.message}`));
  await manager.listen(name);
  return { manager, dials, log };
}

async function stop(w: ReturnType<typeof world>, nodes: readonly Node[]): Promise<void> {
  const stops = nodes.map((n) => n.manager.shutdown());
  w.network.advance(5_000);
  await Promise.all(stops);
}

describe('a dial that finds the peer linked at its challenge', () => {
  it('should stand down before its proof, leaving one session and no duplicate for the membership to close', async () => {
    // when does a dial again after b refused it? (b never configures a here)
    const probe = world();
    const [pa, pb] = [await start(probe, 'a'), await start(probe, 'b')];
    pa.manager.addNode('b', 'b');
    probe.network.advance(3_000);
    await stop(probe, [pa, pb]);
    const redial = pa.dials[1];
    assert.ok(redial !== undefined && redial > 1_000, `a dials again after its back-off (dials at ${pa.dials.join(', ')})`);

    // the same start, and b configures a two latencies before a's redial: b's dial is up at a
    // (a has answered b's proof) after 4 latencies, a's redial meets its challenge after 3
    const w = world();
    const [a, b] = [await start(w, 'a'), await start(w, 'b')];
    a.manager.addNode('b', 'b');
    w.network.advance(redial - 2 * LATENCY);
    b.manager.addNode('a', 'a');
    w.network.advance(3_000);

    assert.equal(a.dials[1], redial, 'a redials at the same time as in the probe');
    assert.ok(b.dials.length === 1 && (b.dials[0] as number) < redial, `b dials once, before a's redial (b at ${b.dials.join(', ')})`);
    const standDown = a.log.filter((l) => l.includes('b is linked already'));
    assert.equal(standDown.length, 1, `a's redial stands down once:\n${a.log.join('\n')}`);
    assert.ok(standDown[0]?.includes(' debug '), 'at debug level: nothing is wrong');
    for (const n of [a, b]) {
      assert.deepEqual(n.log.filter((l) => l.includes('duplicate connection')), [], `${n.manager.name}: the membership closed no duplicate`);
    }
    assert.ok(b.log.some((l) => l.includes('closed during the handshake (duplicate)')), `b is told why a's dial ended:\n${b.log.join('\n')}`);
    assert.equal((await firstValueFrom(a.manager.members$)).get('b')?.status, 'Online');
    assert.equal((await firstValueFrom(b.manager.members$)).get('a')?.status, 'Online');
    await stop(w, [a, b]);
  });
});
