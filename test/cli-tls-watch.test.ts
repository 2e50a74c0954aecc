/**
 * The `rxcluster` CLI watches its TLS files: a certificate renewed on disk
 * while the node runs, written in place, renamed over the old file or behind
 * a swapped symlink (a Kubernetes secret volume), is
 * served to new connections with no leave and one log line; material that
 * does not load is refused with a warning and the previous certificate
 * served on. Real CLI processes, real files, real TLS connections.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLS_RELOAD_GRACE_MS } from '../src/cli.js';
import { TLS_RELOAD_QUIET_MS } from '../src/tlsFiles.js';
import { sleep } from './support/cluster.js';
import { createPki, servedFingerprint, type Pem } from './support/certs.js';
import { meshJoined, startCliCluster, FAST, type CliLine, type CliNode, type Timed } from './support/cli-node.js';
import { within } from './support/raw.js';
import { scope } from './support/scope.js';

function fingerprintOf(pem: Pem): string {
  return new X509Certificate(pem.cert).fingerprint256;
}

type LogLine = Extract<CliLine, { type: 'log' }>;

/** The log lines a node printed whose message starts with `prefix`. */
function logs(node: CliNode, prefix: string): LogLine[] {
  return node.lines.flatMap(({ line }) => (line.type === 'log' && line.message.startsWith(prefix) ? [line] : []));
}

const SWAPPED = 'TLS key and certificate updated';
const REFUSED = 'TLS files not reloaded';

describe('rxcluster watches its TLS files', () => {
  it('serves a certificate replaced on disk (in place, by rename, by a swapped symlink) with no leave, and refuses garbage or a key of another certificate with a warning, serving the previous one', { timeout: 90_000 }, async (t) => {
    const defer = scope(t);
    const pki = createPki();
    defer(() => pki.dispose());
    const dir = mkdtempSync(join(tmpdir(), 'rxcluster-cli-tls-watch-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'ca.crt'), pki.ca.cert);
    const keyFile = join(dir, 'a.key');
    const certFile = join(dir, 'a.crt');
    const issued = new Map(['a', 'b'].map((name) => [name, pki.issue(name)]));
    for (const [name, pem] of issued) {
      writeFileSync(join(dir, `${name}.key`), pem.key);
      writeFileSync(join(dir, `${name}.crt`), pem.cert);
    }
    const tlsArgs = (name: string): string[] => ['--tls-key', join(dir, `${name}.key`), '--tls-cert', join(dir, `${name}.crt`), '--tls-ca', join(dir, 'ca.crt'), '--tls-request-cert'];
    const [a, b] = await startCliCluster(['a', 'b'], defer, { settings: FAST, extraArgsFor: tlsArgs });
    assert.ok(a !== undefined && b !== undefined);
    await meshJoined([a, b], 10_000);
    const probe = pki.issue('probe');
    const served = (): Promise<string> => within(servedFingerprint(a.address, probe, pki.ca.cert), 6000, 'a TLS handshake with a');
    const original = issued.get('a');
    assert.ok(original !== undefined);
    assert.equal(await served(), fingerprintOf(original), 'a serves the certificate it started with');
    const swapLine = (pem: Pem, what: string): Promise<Timed> =>
      a.wait((line) => line.type === 'log' && line.level === 'info' && line.message.startsWith(SWAPPED) && line.message.includes(fingerprintOf(pem)), 10_000, what);

    // written in place, the key a moment before the certificate (within the quiet): one swap, never a half one
    const inPlace = pki.issue('a');
    writeFileSync(keyFile, inPlace.key);
    await sleep(TLS_RELOAD_QUIET_MS / 3);
    writeFileSync(certFile, inPlace.cert);
    const first = await swapLine(inPlace, 'a to log the swap to the certificate written in place');
    assert.equal(await served(), fingerprintOf(inPlace), 'a new connection is shown the certificate written in place');
    assert.notEqual(fingerprintOf(inPlace), fingerprintOf(original));
    assert.ok(first.line.type === 'log' && /now serving certificate CN=a \(SHA-256 [0-9A-F:]{95}, valid until \d{4}-\d\d-\d\dT/.test(first.line.message), JSON.stringify(first.line));

    // renamed over the old files (as cert-manager and certbot replace them), the certificate well after
    // the key: past the quiet, so the key alone is read first and does not load; within the grace, so
    // that failure is never logged once the certificate follows
    const renamed = pki.issue('a');
    writeFileSync(join(dir, '.a.key.new'), renamed.key);
    writeFileSync(join(dir, '.a.crt.new'), renamed.cert);
    renameSync(join(dir, '.a.key.new'), keyFile);
    await sleep(TLS_RELOAD_QUIET_MS + 500);
    assert.equal(await served(), fingerprintOf(inPlace), 'the new key alone changed nothing');
    renameSync(join(dir, '.a.crt.new'), certFile);
    await swapLine(renamed, 'a to log the swap to the renamed certificate');
    assert.equal(await served(), fingerprintOf(renamed), 'a new connection is shown the renamed certificate');
    await sleep(TLS_RELOAD_GRACE_MS + 500);
    assert.deepEqual(logs(a, REFUSED), [], 'no warning for the key read before its certificate');
    assert.equal(logs(a, SWAPPED).length, 2, 'one swap line per renewal');

    // garbage for a certificate: a warning naming the file, and the previous certificate served on
    writeFileSync(certFile, 'not a certificate at all\n');
    const garbage = await a.wait((line) => line.type === 'log' && line.message.startsWith(REFUSED), TLS_RELOAD_QUIET_MS + TLS_RELOAD_GRACE_MS + 5000, 'a to warn about the garbage');
    assert.ok(garbage.line.type === 'log');
    assert.equal(garbage.line.level, 'warn');
    assert.ok(garbage.line.message.includes(`TLS certificate file ${certFile} is not a PEM certificate`), garbage.line.message);
    assert.ok(garbage.line.message.includes(`; still serving certificate CN=a (SHA-256 ${fingerprintOf(renamed)}, valid until `), garbage.line.message);
    assert.equal(await served(), fingerprintOf(renamed), 'still the previous certificate');

    // a good certificate whose key is not on disk: refused too (the key on disk is another one's)
    const stranger = pki.issue('a');
    writeFileSync(certFile, stranger.cert);
    const mismatch = await a.wait((line, at) => at > garbage.at && line.type === 'log' && line.message.startsWith(REFUSED), TLS_RELOAD_QUIET_MS + TLS_RELOAD_GRACE_MS + 5000, 'a to warn about the key');
    assert.ok(mismatch.line.type === 'log' && mismatch.line.message.startsWith(`${REFUSED}: the key in ${keyFile} does not match the certificate in ${certFile}; still serving certificate CN=a (SHA-256 ${fingerprintOf(renamed)}`), JSON.stringify(mismatch.line));
    assert.equal(await served(), fingerprintOf(renamed), 'still the previous certificate');
    assert.equal(logs(a, SWAPPED).length, 2, 'no swap for material that does not load');
    assert.equal(logs(a, REFUSED).length, 2, 'one warning each');

    // a Kubernetes secret volume: the files are links through ..data, a link to this version's folder;
    // a new version is a new folder and ..data swapped to it, by a rename in the watched folder
    const version = (name: string, pem: Pem): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'a.key'), pem.key);
      writeFileSync(join(dir, name, 'a.crt'), pem.cert);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    const v1 = pki.issue('a');
    version('..v1', v1);
    symlinkSync('..data/a.key', join(dir, '.a.key.link'));
    symlinkSync('..data/a.crt', join(dir, '.a.crt.link'));
    renameSync(join(dir, '.a.key.link'), keyFile);
    renameSync(join(dir, '.a.crt.link'), certFile);
    await swapLine(v1, 'a to log the swap to the linked certificate');
    const v2 = pki.issue('a');
    version('..v2', v2);
    await swapLine(v2, 'a to log the swap to the next version of the volume');
    assert.equal(await served(), fingerprintOf(v2), 'a new connection is shown the certificate of the new version');
    assert.equal(logs(a, SWAPPED).length, 4, 'one swap line per renewal');

    // the node never left its peer: the link of before lives on, both ways
    await sleep(300);
    for (const node of [a, b]) assert.deepEqual(node.lines.filter(({ line }) => line.type === 'leave'), [], `${node.name} printed no leave`);
    b.send('"after the swaps"');
    await a.wait((line) => line.type === 'message' && line.from === 'b' && line.data === 'after the swaps', 5000, 'a to get a message from b');

    // stopping closes the watch with the rest: a exits promptly on SIGTERM
    const termAt = performance.now();
    a.child.kill('SIGTERM');
    assert.deepEqual(await within(a.exited, 5000, 'a to exit after SIGTERM'), { code: 0, signal: null });
    t.diagnostic(`a exited ${(performance.now() - termAt).toFixed(0)} ms after SIGTERM`);
    assert.equal(a.lines.at(-1)?.line.type, 'stopped');
  });
});
