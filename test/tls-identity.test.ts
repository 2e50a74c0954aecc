/**
 * TLS material and identity over real sockets: `updateTls` swaps this node's
 * key and certificate with no leave (the server's new connections and new
 * dials use the new ones), and with mutual TLS a certificate must name the
 * node it claims (SAN DNS name or CN), else refused and logged (RXC_ERR_TLS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Manager, type ManagerOptions } from '../src/index.js';
import type { LogEntry } from '../src/log.js';
import { certificateNames } from '../src/transport/ws/index.js';
import { createPki, servedFingerprint, type Pem, type Pki } from './support/certs.js';
import { fastOptions, first, joinedAll, SECRET, sleep, type Node } from './support/cluster.js';
import { scope } from './support/scope.js';

let pki: Pki;
let nextPki: Pki;

before(() => {
  pki = createPki('cluster CA');
  nextPki = createPki('next cluster CA');
});
after(() => {
  pki.dispose();
  nextPki.dispose();
});

async function tlsNode(name: string, pem: Pem, ca: string | string[], options: ManagerOptions = fastOptions()): Promise<Node> {
  const manager = new Manager(name, SECRET, options);
  const logs: LogEntry[] = [];
  manager.log$.subscribe((entry) => logs.push(entry));
  const address = await manager.listenTls('127.0.0.1:0', { ...pem, ca, requestCert: true });
  return { manager, address, logs };
}

describe('TLS identity and rotation', () => {
  it('refuses a peer whose certificate names another node, whether it dials in or is dialed, and logs RXC_ERR_TLS', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const good = await tlsNode('good', pki.issue('good'), pki.ca.cert);
    defer(() => good.manager.shutdown());
    // knows the secret and holds a certificate of the cluster's CA, but one issued to "mallory"
    const impostor = await tlsNode('victim', pki.issue('mallory'), pki.ca.cert);
    defer(() => impostor.manager.shutdown());
    const joins: string[] = [];
    good.manager.nodeJoin$.subscribe((n) => joins.push(n));
    impostor.manager.nodeJoin$.subscribe((n) => joins.push(n));
    good.manager.addNode('victim', impostor.address);
    impostor.manager.addNode('good', good.address);
    const refusal = (direction: string) => (e: LogEntry): boolean => e.code === 'RXC_ERR_TLS' && e.node === 'victim' && e.message.includes(`connection ${direction} victim closed`);
    const [inbound, outbound] = await Promise.all([
      first(good.manager.log$, refusal('from'), 8000, 'good refuses the impostor dialing in'),
      first(good.manager.log$, refusal('to'), 8000, 'good refuses the impostor it dialed'),
    ]);
    for (const refused of [inbound, outbound]) assert.match(refused.message, /presented a certificate for localhost, mallory, not one naming victim/);
    await sleep(500);
    assert.deepEqual(joins, [], 'no join on either side');
    assert.notEqual((await first(good.manager.members$)).get('victim')?.status, 'Online');
    // a certificate that names its node (here by CN) joins as usual
    const named = await tlsNode('named', pki.issue('named'), pki.ca.cert);
    defer(() => named.manager.shutdown());
    good.manager.addNode('named', named.address);
    named.manager.addNode('good', good.address);
    await joinedAll([good, named], 8000);
  });

  it('reads the names of a verified certificate: SAN DNS names and the CN', () => {
    const pem = pki.issue('node-x');
    const x509 = new X509Certificate(pem.cert);
    assert.match(x509.subject, /CN=node-x/);
    const fake = { authorized: true, getPeerCertificate: () => ({ subject: { CN: 'node-x' }, subjectaltname: 'IP Address:127.0.0.1, DNS:localhost, DNS:node-x.internal' }) };
    assert.deepEqual(certificateNames(fake as never), ['localhost', 'node-x.internal', 'node-x']);
    assert.equal(certificateNames({ ...fake, authorized: false } as never), undefined, 'an unverified certificate names nobody');
  });

  it('updateTls swaps the key and certificate with no leave; the server presents the new one and new dials use it', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const both = [pki.ca.cert, nextPki.ca.cert];
    const a = await tlsNode('a', pki.issue('a'), both);
    defer(() => a.manager.shutdown());
    const b = await tlsNode('b', pki.issue('b'), both);
    defer(() => b.manager.shutdown());
    const leaves: string[] = [];
    a.manager.nodeLeave$.subscribe((n) => leaves.push(`a-${n}`));
    b.manager.nodeLeave$.subscribe((n) => leaves.push(`b-${n}`));
    a.manager.addNode('b', b.address);
    b.manager.addNode('a', a.address);
    await joinedAll([a, b]);

    const fresh = nextPki.issue('a');
    a.manager.updateTls({ ...fresh, ca: both });
    const probe = nextPki.issue('probe');
    assert.equal(await servedFingerprint(a.address, probe, both), new X509Certificate(fresh.cert).fingerprint256, 'new connections get the new certificate');
    // c trusts only the next CA and cannot dial a (wrong address): only a's new dial can link them
    const c = await tlsNode('c', nextPki.issue('c'), nextPki.ca.cert);
    defer(() => c.manager.shutdown());
    c.manager.addNode('a', '127.0.0.1:9');
    a.manager.addNode('c', c.address);
    await first(c.manager.members$, (m) => m.get('a')?.status === 'Online', 8000, 'c sees a Online over a dial made with the new certificate');
    // the old connection lived on
    await sleep(300);
    assert.deepEqual(leaves, [], 'no leave');
    assert.equal((await first(a.manager.members$)).get('b')?.status, 'Online');
    const swapped = `TLS key and certificate updated: now serving certificate CN=a (SHA-256 ${new X509Certificate(fresh.cert).fingerprint256}, valid until `;
    assert.ok(a.logs.some((e) => e.level === 'info' && e.message.startsWith(swapped)), 'the swap is logged with the new certificate');
    // unusable material changes nothing
    assert.throws(() => a.manager.updateTls({ key: 'not a key', cert: 'not a cert' }));
    assert.equal(await servedFingerprint(a.address, probe, both), new X509Certificate(fresh.cert).fingerprint256);
  });

  it('refuses updateTls on a manager that does not listen with TLS', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const plain = new Manager('plain', SECRET, fastOptions());
    defer(() => plain.shutdown());
    const pem = pki.issue('plain');
    assert.throws(() => plain.updateTls(pem), /does not listen with TLS/);
    await plain.listen('127.0.0.1:0');
    assert.throws(() => plain.updateTls(pem), /does not listen with TLS/);
  });
});
