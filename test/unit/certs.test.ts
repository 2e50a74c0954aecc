/**
 * The test PKI (test/support/certs.ts) builds certificates without openssl:
 * node's own X.509 parser reads them, and a real mutual TLS handshake on
 * 127.0.0.1 accepts them, and refuses a stranger CA's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createPki, type Pem } from '../support/certs.js';

/** Resolves with the server's view of one TLS handshake (authorized, or the error), or rejects on the client side. */
async function handshake(server: Pem & { ca: string }, client: Pem & { ca: string }): Promise<{ serverSaw: string; clientAuthorized: boolean }> {
  const tlsServer = createServer({ key: server.key, cert: server.cert, ca: server.ca, requestCert: true, rejectUnauthorized: false });
  const seen = new Promise<string>((resolve) => {
    tlsServer.once('secureConnection', (socket: TLSSocket) => {
      resolve(socket.authorized ? `authorized ${socket.getPeerX509Certificate()?.subject ?? ''}` : `refused: ${String(socket.authorizationError)}`);
      socket.end();
    });
    tlsServer.once('tlsClientError', (error) => resolve(`refused: ${error.message}`));
  });
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  try {
    const { port } = tlsServer.address() as AddressInfo;
    const socket = connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: client.ca, timeout: 5000 });
    socket.on('error', () => undefined);
    await Promise.race([once(socket, 'secureConnect'), once(socket, 'error').then(([error]) => Promise.reject(error as Error))]);
    const clientAuthorized = socket.authorized;
    // under TLS 1.3 the server checks the client's certificate after the client is done: wait for its verdict
    const serverSaw = await seen;
    socket.destroy();
    return { serverSaw, clientAuthorized };
  } finally {
    tlsServer.close();
  }
}

describe('test PKI', () => {
  it('issues a CA and node certificates that node:crypto parses and verifies', () => {
    const pki = createPki('unit CA');
    const ca = new X509Certificate(pki.ca.cert);
    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=unit CA');
    assert.ok(ca.verify(ca.publicKey), 'the CA is self-signed');
    assert.match(pki.ca.key, /^-----BEGIN PRIVATE KEY-----\n/);

    const node = new X509Certificate(pki.issue('node-a').cert);
    assert.equal(node.ca, false);
    assert.equal(node.subject, 'CN=node-a');
    assert.equal(node.issuer, 'CN=unit CA');
    assert.ok(node.verify(ca.publicKey), 'signed by the CA');
    assert.ok(!node.verify(new X509Certificate(createPki('other').ca.cert).publicKey), 'not by another CA');
    assert.equal(node.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(node.checkHost('localhost'), 'localhost');
    assert.equal(node.checkHost('example.com'), undefined);
    assert.deepEqual(node.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const validFor = Date.parse(node.validTo) - Date.now();
    assert.ok(validFor > 24 * 3600_000 && validFor < 3 * 24 * 3600_000, `valid for about two days: ${node.validTo}`);
    assert.notEqual(new X509Certificate(pki.issue('node-a').cert).serialNumber, node.serialNumber, 'a fresh serial per certificate');
  });

  it('passes a mutual TLS handshake on 127.0.0.1, and a stranger CA does not', { timeout: 10_000 }, async () => {
    const pki = createPki();
    const stranger = createPki('stranger CA');
    const good = await handshake({ ...pki.issue('server'), ca: pki.ca.cert }, { ...pki.issue('client'), ca: pki.ca.cert });
    assert.deepEqual(good, { serverSaw: 'authorized CN=client', clientAuthorized: true });

    const bad = await handshake({ ...pki.issue('server'), ca: pki.ca.cert }, { ...stranger.issue('intruder'), ca: pki.ca.cert });
    assert.match(bad.serverSaw, /^refused: /);
  });
});
