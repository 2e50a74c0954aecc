/**
 * The keyring over NATS (issue 9 point 1: every public method behaves as over
 * ws): the secret is rotated across a running cluster in three steps with no
 * leave, while nodes seal with different primaries broadcasts still flow both
 * ways, a node started mid-rotation with the new primary joins one whose
 * primary is still the old one (each acceptor keys the pair from the secret
 * the dialer's first frame holds under), and once the old secret is retired a
 * node that knows only it is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstValueFrom, filter, take, toArray, timeout } from 'rxjs';
import { STATUS, type LogEntry } from '../src/index.js';
import { fastOptions, first, joinedAll, membersNow, sleep } from './support/cluster.js';
import { startNatsNode, type NatsNode } from './support/natsNodes.js';
import { startNatsServer } from './support/natsServer.js';
import { scope } from './support/scope.js';

const PREFIX = 'rxc.keyring';
const OLD = 'the-old-cluster-secret-32-bytes!!';
const NEW = 'the-new-cluster-secret-32-bytes!!';

/** Every node broadcasts one message tagged `round`; resolves when each has every other's, rejects after 5 s. */
async function broadcastRound(nodes: readonly NatsNode[], round: string): Promise<void> {
  const got = nodes.map((n) =>
    firstValueFrom(
      n.manager.fromCluster$.pipe(
        filter((p) => (p.message() as { round?: unknown }).round === round),
        take(nodes.length - 1),
        toArray(),
        timeout({ first: 5000, with: () => Promise.reject(new Error(`${n.manager.name} did not get every broadcast of round ${round}`)) }),
      ),
    ),
  );
  for (const n of nodes) n.manager.toCluster$.next({ round, from: n.manager.name });
  const received = await Promise.all(got);
  for (const [i, packets] of received.entries()) {
    const senders = packets.map((p) => p.name).sort();
    assert.deepEqual(senders, nodes.filter((_, j) => j !== i).map((n) => n.manager.name).sort(), `${nodes[i]?.manager.name} got round ${round} from every other node`);
  }
}

describe('NATS: the keyring', () => {
  it('rotates the secret across a running cluster with no leave; mixed primaries still exchange broadcasts; a new-secret node joins an old-primary one; the retired secret is refused', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const start = async (name: string, secret: string | { primary: string; accepted: string[] }): Promise<NatsNode> => {
      const node = await startNatsNode(name, [server.url], fastOptions(), PREFIX, secret);
      defer(() => node.manager.shutdown());
      return node;
    };
    const a = await start('A', OLD);
    const b = await start('B', OLD);
    a.manager.addNode('B');
    b.manager.addNode('A');
    await joinedAll([a, b], 8000);
    const leaves: string[] = [];
    for (const n of [a, b]) n.manager.nodeLeave$.subscribe((p) => leaves.push(`${n.manager.name}-${p}`));
    await broadcastRound([a, b], 'before');

    // step 1: every node accepts the new secret
    for (const n of [a, b]) n.manager.setSecrets({ primary: OLD, accepted: [NEW] });
    await broadcastRound([a, b], 'accepted');
    // step 2, on A only: A seals with the new secret, B still with the old one
    a.manager.setSecrets({ primary: NEW, accepted: [OLD] });
    await broadcastRound([a, b], 'mixed');
    // a node started now, at step 2, joins both: B, whose primary is still the old one, keys C's dial from the
    // new secret, and C keys B's dial from the old one
    const c = await start('C', { primary: NEW, accepted: [OLD] });
    c.manager.nodeLeave$.subscribe((p) => leaves.push(`C-${p}`));
    for (const n of [a, b]) {
      n.manager.addNode('C');
      c.manager.addNode(n.manager.name);
    }
    await joinedAll([a, b, c], 10_000);
    await broadcastRound([a, b, c], 'with C');
    // step 2 on B, then step 3 everywhere: the old secret is retired
    b.manager.setSecrets({ primary: NEW, accepted: [OLD] });
    await broadcastRound([a, b, c], 'all new');
    for (const n of [a, b, c]) n.manager.setSecrets(NEW);
    await broadcastRound([a, b, c], 'retired');

    // a node that knows only the retired secret is refused, and its broadcasts are dropped as forged
    const d = await start('D', OLD);
    a.manager.addNode('D');
    d.manager.addNode('A');
    const dPackets: unknown[] = [];
    a.manager.fromCluster$.subscribe((p) => {
      if (p.name === 'D') dPackets.push(p.message());
    });
    // the pair frames each sends the other are sealed under keys the other does not hold: dropped on both sides
    const pairRefused = (from: string) => (e: LogEntry): boolean => e.code === 'RXC_ERR_FORGED' && e.node === from && /pair frame/.test(e.message);
    await Promise.all([
      first(a.manager.log$, pairRefused('D'), 8000, "A to drop D's pair frames"),
      first(d.manager.log$, pairRefused('A'), 8000, "D to drop A's pair frames"),
    ]);
    d.manager.toCluster$.next({ round: 'stale' });
    await sleep(500);
    assert.deepEqual(dPackets, [], 'nothing of D reaches A');
    assert.notEqual(membersNow(a.manager).get('D')?.status, STATUS.ONLINE, 'D never joined A');
    assert.deepEqual(leaves, [], 'no leave anywhere while the secret was rotated');
  });
});
