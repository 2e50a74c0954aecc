import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager, type ManagerOptions } from '../src/index.js';
import type { LogEntry } from '../src/log.js';
import { createPki, type Pki } from './support/certs.js';
import { fastOptions, first, shutdownAll, sleep, SECRET, type Node } from './support/cluster.js';

let pki: Pki;
let otherPki: Pki;

before(() => {
  pki = createPki('cluster CA');
  otherPki = createPki('stranger CA');
});
after(() => {
  pki.dispose();
  otherPki.dispose();
});

async function startTlsNode(name: string, issuer: Pki, requestCert: boolean, options: ManagerOptions = fastOptions()): Promise<Node> {
  const manager = new Manager(name, SECRET, options);
  const logs: LogEntry[] = [];
  manager.log$.subscribe((entry) => logs.push(entry));
  const { key, cert } = issuer.issue(name);
  const address = await manager.listenTls('127.0.0.1:0', { key, cert, ca: issuer.ca.cert, requestCert });
  return { manager, address, logs };
}

function mesh(nodes: readonly Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.manager.addNode(b.manager.name, b.address);
}

describe('TLS between nodes', () => {
  it('a mutual-TLS cluster of three joins and exchanges broadcast and private messages', { timeout: 20_000 }, async () => {
    const nodes = await Promise.all(['t1', 't2', 't3'].map((n) => startTlsNode(n, pki, true)));
    try {
      const joined = nodes.map((n) => first(n.manager.quorum$, (q) => q));
      const joins = nodes.map((n) => first(n.manager.members$, (m) => [...m.values()].filter((x) => x.status === 'Online').length === 2, 8000, `${n.manager.name} sees two Online`));
      mesh(nodes);
      await Promise.all([...joined, ...joins]);
      const [t1, t2, t3] = nodes as [Node, Node, Node];
      const atT2 = first(t2.manager.fromCluster$);
      const atT3 = first(t3.manager.fromCluster$);
      t1.manager.toCluster$.next({ over: 'tls' });
      assert.deepEqual((await atT2).message(), { over: 'tls' });
      assert.deepEqual((await atT3).message(), { over: 'tls' });
      const only3 = first(t3.manager.fromCluster$);
      const seenBy2: unknown[] = [];
      t2.manager.fromCluster$.subscribe((p) => seenBy2.push(p.message()));
      t1.manager.toNode$.next({ node: 't3', message: 'private' });
      assert.equal((await only3).message(), 'private');
      await sleep(150);
      assert.deepEqual(seenBy2, []);
    } finally {
      await shutdownAll(nodes);
    }
  });

  it('refuses a peer whose certificate another CA signed, on both sides, and logs why', { timeout: 20_000 }, async () => {
    const good = await startTlsNode('good', pki, true);
    // the stranger knows the secret, but its certificate is not the cluster's
    const stranger = await startTlsNode('stranger', otherPki, true);
    try {
      const joins: string[] = [];
      good.manager.nodeJoin$.subscribe((n) => joins.push(n));
      stranger.manager.nodeJoin$.subscribe((n) => joins.push(n));
      good.manager.addNode('stranger', stranger.address);
      stranger.manager.addNode('good', good.address);
      // each side refuses the other twice over: as the dialer (the server's
      // certificate does not verify) and as the acceptor (the client's does not)
      const dialedBadCert = (by: Node, peer: string) =>
        first(by.manager.log$, (e) => e.code === 'RXC_ERR_TLS' && e.node === peer && /certificate does not verify/.test(e.message), 5000, `${by.manager.name} refuses ${peer}'s server certificate`);
      const acceptedBadCert = (by: Node) =>
        first(by.manager.log$, (e) => e.code === 'RXC_ERR_TLS' && /TLS handshake failed/.test(e.message), 5000, `${by.manager.name} refuses a client certificate`);
      const refusals = await Promise.all([dialedBadCert(good, 'stranger'), dialedBadCert(stranger, 'good'), acceptedBadCert(good), acceptedBadCert(stranger)]);
      assert.equal(refusals.length, 4);
      await sleep(500);
      assert.deepEqual(joins, []);
      assert.equal((await first(good.manager.members$)).get('stranger')?.status, 'Offline');
    } finally {
      await shutdownAll([good, stranger]);
    }
  });

  it('a plain-ws node cannot join a TLS node', { timeout: 20_000 }, async () => {
    const secure = await startTlsNode('secure', pki, true);
    const plain = new Manager('plain', SECRET, fastOptions());
    const plainLogs: LogEntry[] = [];
    plain.log$.subscribe((e) => plainLogs.push(e));
    try {
      const plainAddress = await plain.listen('127.0.0.1:0');
      const joins: string[] = [];
      secure.manager.nodeJoin$.subscribe((n) => joins.push(n));
      plain.nodeJoin$.subscribe((n) => joins.push(n));
      secure.manager.addNode('plain', plainAddress);
      plain.addNode('secure', secure.address);
      await first(plain.log$, (e) => e.code === 'RXC_ERR_DIAL', 5000, 'plain fails to dial the TLS node');
      await first(secure.manager.log$, (e) => e.code === 'RXC_ERR_DIAL', 5000, 'the TLS node fails to dial the plain one');
      await sleep(500);
      assert.deepEqual(joins, []);
    } finally {
      await shutdownAll([secure, { manager: plain, address: '', logs: plainLogs }]);
    }
  });

  it('rejects listenTls with an unusable key', { timeout: 5000 }, async () => {
    const m = new Manager('k', SECRET);
    try {
      await assert.rejects(m.listenTls('127.0.0.1:0', { key: 'not a key', cert: 'not a cert' }), /cannot listen on 127\.0\.0\.1:0/);
    } finally {
      await m.shutdown();
    }
  });
});
