/**
 * Testing a clustered application in virtual time: three managers on an
 * in-memory network, a partition, a heal, and assertions on what the
 * application does meanwhile. No sockets, no real timers: a minute of
 * cluster life runs in milliseconds, the same way on every run.
 *
 * The application is a counter that takes writes only while its node has
 * quorum, so a node cut off from the majority pauses instead of diverging.
 *
 *   npx tsx examples/testing-your-app.ts
 *
 * In your own project, import from 'rxcluster' and 'rxcluster/testing'.
 */
import assert from 'node:assert/strict';
import { VirtualTimeScheduler } from 'rxjs';
import { Manager } from '../src/index.js';
import { MemoryNetwork } from '../src/testing.js';

/** The application under test: counts writes, and refuses them without quorum. */
class Counter {
  value = 0;
  #quorum = false;

  constructor(manager: Manager) {
    manager.quorum$.subscribe((quorum) => (this.#quorum = quorum));
  }

  /** @returns whether the write was taken */
  increment(): boolean {
    if (!this.#quorum) return false;
    this.value++;
    return true;
  }
}

const SECRET = 'a-test-secret-of-at-least-32-bytes';

const scheduler = new VirtualTimeScheduler();
const network = new MemoryNetwork({ scheduler });
const names = ['a', 'b', 'c'];
const nodes = names.map((name) => {
  const manager = new Manager(name, SECRET, { transport: network.transport(), scheduler, random: () => 0.5 });
  for (const peer of names) if (peer !== name) manager.addNode(peer, peer); // addresses are node names
  return { manager, counter: new Counter(manager) };
});
for (const { manager } of nodes) await manager.listen(manager.name);
const [a, b, c] = nodes.map((node) => node.counter) as [Counter, Counter, Counter];

network.advance(1_000); // one virtual second: every node joined (joinDelay is 500 ms)
assert.deepEqual([a.increment(), b.increment(), c.increment()], [true, true, true]);
console.log('ok 1 - joined: every node takes writes');

network.partition(['a', 'b'], ['c']);
network.advance(15_000); // past readTimeout (11 s): c hears from no one
assert.deepEqual([a.increment(), b.increment()], [true, true]); // 2 of 3: a majority
assert.equal(c.increment(), false); // 1 of 3: c pauses its writes
console.log('ok 2 - partitioned: a and b keep writing, c pauses');

network.heal();
network.advance(60_000); // a virtual minute: c redials with back-off and rejoins
assert.equal(c.increment(), true);
console.log('ok 3 - healed: c takes writes again');

assert.deepEqual([a.value, b.value, c.value], [2, 2, 2]);
console.log(`ok 4 - counts ${a.value} ${b.value} ${c.value} after ${scheduler.now() / 1000} virtual seconds`);

const stopped = Promise.all(nodes.map(({ manager }) => manager.shutdown()));
network.advance(2_000); // shutdown waits, bounded, for peers to close: run that time too
await stopped;
console.log('ok 5 - shut down');
