/**
 * The keyring over real sockets: the secret is rotated across a running
 * cluster with no leave, new handshakes prove with the primary, proofs made
 * with any accepted secret are taken, and a retired secret is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from '../src/index.js';
import { stretchSecret } from '../src/protocol/keyring.js';
import { verifyProof } from '../src/protocol/handshake.js';
import { fastOptions, first, joinedAll, sleep, startNode, type Node } from './support/cluster.js';
import { rawAuth, rawHello } from './support/raw.js';
import { scope } from './support/scope.js';

const OLD = 'the-old-cluster-secret-32-bytes!!';
const NEW = 'the-new-cluster-secret-32-bytes!!';

function events(nodes: readonly Node[]): string[] {
  const seen: string[] = [];
  for (const n of nodes) {
    n.manager.nodeJoin$.subscribe((p) => seen.push(`${n.manager.name}+${p}`));
    n.manager.nodeLeave$.subscribe((p) => seen.push(`${n.manager.name}-${p}`));
  }
  return seen;
}

describe('keyring', () => {
  it('rotates the secret across a running cluster with no leave; new nodes join with the new one; the old one is refused once retired', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const a = await startNode('A', fastOptions(), OLD);
    defer(() => a.manager.shutdown());
    const b = await startNode('B', fastOptions(), OLD);
    defer(() => b.manager.shutdown());
    a.manager.addNode('B', b.address);
    b.manager.addNode('A', a.address);
    await joinedAll([a, b]);
    const seen = events([a, b]);

    // step 1: every node accepts the new secret; step 2: every node proves with it
    for (const n of [a, b]) n.manager.setSecrets({ primary: OLD, accepted: [NEW] });
    for (const n of [a, b]) n.manager.setSecrets({ primary: NEW, accepted: [OLD] });
    // a node that knows only the new secret joins both
    const c = await startNode('C', fastOptions(), NEW);
    defer(() => c.manager.shutdown());
    for (const n of [a, b]) {
      n.manager.addNode('C', c.address);
      c.manager.addNode(n.manager.name, n.address);
    }
    await joinedAll([a, b, c], 8000);
    // step 3: the old secret is retired
    for (const n of [a, b]) n.manager.setSecrets(NEW);
    const stale = await startNode('D', fastOptions(), OLD);
    defer(() => stale.manager.shutdown());
    a.manager.addNode('D', stale.address);
    stale.manager.addNode('A', a.address);
    await first(a.manager.log$, (e) => e.code === 'RXC_ERR_AUTH', 5000, 'A refuses the retired secret');
    await first(stale.manager.log$, (e) => e.code === 'RXC_ERR_AUTH', 5000, 'D refuses A');
    await sleep(300);
    assert.deepEqual(seen.filter((e) => e.includes('-')), [], 'no leave anywhere while the secret was rotated');
    assert.deepEqual(seen.filter((e) => e.includes('D')), [], 'D never joined');
    assert.equal((await first(a.manager.members$)).get('B')?.status, 'Online', 'A and B stayed connected throughout');
    assert.ok(a.logs.some((e) => /secrets updated: 1 accepted besides the primary/.test(e.message)));
  });

  it('takes a proof made with an accepted secret, and answers with that key; refuses any other', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const a = await startNode('A', fastOptions(), { primary: NEW, accepted: [OLD] });
    defer(() => a.manager.shutdown());
    a.manager.addNode('R', '127.0.0.1:9');
    const half = await rawHello(a.address, 'R', 'A', OLD);
    defer(() => half.client.destroy());
    const welcome = await rawAuth(half, OLD);
    assert.ok(verifyProof(stretchSecret(OLD), 'acceptor', half.transcript, welcome.proof), 'the welcome is proven with the key the dialer used');
    const stranger = await rawHello(a.address, 'R', 'A', 'a-secret-nobody-accepts-32-bytes!!');
    defer(() => stranger.client.destroy());
    await assert.rejects(rawAuth(stranger, 'a-secret-nobody-accepts-32-bytes!!'), /expected a welcome|closed|timed out/);
  });

  it('refuses a malformed keyring with a TypeError and changes nothing', () => {
    assert.throws(() => new Manager('k', { primary: '' }), /Invalid authKey\.primary/);
    const m = new Manager('k', OLD);
    assert.throws(() => m.setSecrets({ primary: NEW, accepted: [42 as unknown as string] }), /Invalid keyring\.accepted/);
    assert.throws(() => m.setSecrets(''), /Invalid keyring/);
  });
});
