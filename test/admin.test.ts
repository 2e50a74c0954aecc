/**
 * Admin access apart from the mesh: `POST /api/v1/login` checks `api.admins`
 * (scrypt hashes made by hashAdminPassword), never the cluster secret; it is
 * off without admins; failures are throttled per address (IPv6 per /64) and
 * globally; `api.listen` moves the whole API off the cluster port.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { Manager, hashAdminPassword } from '../src/index.js';
import { addressKey, LoginThrottle } from '../src/api/auth.js';
import { createApiHandler } from '../src/api/handler.js';
import { findManager } from '../src/api/registry.js';
import { ADMIN_HASH_PARAMS, parseAdminHash, verifyAdminPassword } from '../src/api/password.js';
import { fastOptions, SECRET, startNode, type Node } from './support/cluster.js';
import { scope } from './support/scope.js';

const PASSWORD = 'admin-password-not-the-cluster-secret';
const HASH = hashAdminPassword(PASSWORD);

interface Answer {
  readonly status: number;
  readonly body: { success: boolean; error: string | null; data: unknown };
}

function call(address: string, path: string, body?: unknown, ms = 5000): Promise<Answer> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address.slice(0, at), port: Number(address.slice(at + 1)), path, method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'] }));
        res.on('error', reject);
      },
    );
    req.setTimeout(ms, () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('hashAdminPassword', () => {
  it('makes a self-describing scrypt hash (N = 2^15, r = 8, p = 1) with a fresh salt, verified in constant time', async () => {
    const parts = HASH.split('$');
    assert.equal(parts.length, 6);
    assert.deepEqual(parts.slice(0, 4), ['scrypt', '32768', '8', '1']);
    assert.match(parts[4] ?? '', /^[A-Za-z0-9_-]{22}$/, 'a 16-byte base64url salt');
    assert.match(parts[5] ?? '', /^[A-Za-z0-9_-]{43}$/, 'a 32-byte base64url hash');
    assert.notEqual(hashAdminPassword(PASSWORD), HASH, 'a fresh salt each time');
    assert.equal(ADMIN_HASH_PARAMS.N, 2 ** 15);
    const parsed = parseAdminHash(HASH, 'x');
    assert.equal(await verifyAdminPassword(parsed, PASSWORD), true);
    assert.equal(await verifyAdminPassword(parsed, `${PASSWORD}!`), false);
    assert.equal(await verifyAdminPassword(parsed, ''), false);
  });

  it('refuses an empty or over-long password, and a malformed stored hash is a TypeError when the manager is built', () => {
    assert.throws(() => hashAdminPassword(''), TypeError);
    assert.throws(() => hashAdminPassword('x'.repeat(1025)), TypeError);
    const [, , , , salt = '', hash = ''] = HASH.split('$');
    for (const bad of ['', 'plain-password', `bcrypt$32768$8$1$${salt}$${hash}`, `scrypt$1000$8$1$${salt}$${hash}`, `scrypt$1024$8$1$${salt}$${hash}`, `scrypt$32768$0$1$${salt}$${hash}`,
      `scrypt$32768$8$1$${salt}`, `scrypt$32768$8$1$${salt}$not+base64url`, `scrypt$32768$8$1$AAAA$${hash}`, 42]) {
      assert.throws(() => new Manager('m', SECRET, { api: { admins: { alice: bad as string } } }), (e: unknown) => e instanceof TypeError && /api\.admins\["alice"\]/.test(e.message), `refused: ${String(bad)}`);
    }
    assert.throws(() => new Manager('m', SECRET, { api: { admins: [] as unknown as Record<string, string> } }), /Invalid api\.admins/);
    assert.throws(() => new Manager('m', SECRET, { api: { admins: { '': HASH } } }), /Invalid api\.admins/);
  });

  it('rxcluster-hash-password reads the password from stdin and prints a hash that verifies', { timeout: 20_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/hash-password.ts'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stdin.end('from stdin\nsecond line ignored\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    const printed = out.trim();
    assert.match(printed, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.equal(await verifyAdminPassword(parseAdminHash(printed, 'printed'), 'from stdin'), true);
    assert.equal(await verifyAdminPassword(parseAdminHash(printed, 'printed'), 'second line ignored'), false);
  });
});

describe('POST /api/v1/login', () => {
  it('is off without admins: 404 saying so, while issueApiToken still works', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const node = await startNode('nologin', fastOptions());
    defer(() => node.manager.shutdown());
    const answer = await call(node.address, '/api/v1/login', { username: 'alice', password: SECRET });
    assert.equal(answer.status, 404);
    assert.match(String(answer.body.error), /login is off: no admin is configured \(api\.admins\)/);
    assert.equal(answer.body.data, null);
    assert.match(node.manager.issueApiToken('alice'), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('lets an admin in with its password, never with the cluster secret; an unknown username gets the same 403', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const node = await startNode('login', fastOptions({ api: { admins: { alice: HASH } } }));
    defer(() => node.manager.shutdown());
    const withSecret = await call(node.address, '/api/v1/login', { username: 'alice', password: SECRET });
    assert.equal(withSecret.status, 403, 'the cluster secret is not an admin password');
    assert.equal(withSecret.body.error, 'wrong username or password');
    // wait out the delay of that failure
    await new Promise((resolve) => setTimeout(resolve, 150));
    const unknown = await call(node.address, '/api/v1/login', { username: 'bob', password: PASSWORD });
    assert.equal(unknown.status, 403);
    assert.equal(unknown.body.error, withSecret.body.error, 'an unknown username looks the same');
    await new Promise((resolve) => setTimeout(resolve, 250));
    const right = await call(node.address, '/api/v1/login', { username: 'alice', password: PASSWORD });
    assert.equal(right.status, 200, JSON.stringify(right.body));
    assert.deepEqual(Object.keys(right.body.data as object).sort(), ['manager', 'token', 'username']);
    const old = await call(node.address, '/api/v1/login', { username: 'alice', secret: PASSWORD });
    assert.equal(old.status, 400, 'the old { username, secret } body is refused');
    assert.match(String(old.body.error), /LoginBody\.password: expected Password/);
  });
});

describe('LoginThrottle', () => {
  it('groups IPv6 addresses by /64 and IPv4-mapped addresses with their IPv4 form', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    assert.equal(addressKey('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.notEqual(addressKey('2001:db8:1:2::5'), addressKey('2001:db8:1:3::5'));
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(addressKey('10.1.2.3'), '10.1.2.3');
    const throttle = new LoginThrottle();
    throttle.failed('2001:db8:1:2::1', 0);
    assert.ok(throttle.blockedFor('2001:db8:1:2::2', 50) > 0, 'another address of the same /64 waits too');
    assert.equal(throttle.blockedFor('2001:db8:1:3::1', 50), 0, 'another /64 does not');
  });

  it('pauses every login once the failures of all addresses together pass the global budget, longer with each pause in a row', () => {
    const throttle = new LoginThrottle({ globalFailures: 20, globalWindowMs: 1000, maxGlobalDelayMs: 8000 });
    for (let i = 0; i < 19; i++) throttle.failed(`10.0.${i}.1`, 100);
    assert.equal(throttle.blockedFor('192.168.0.1', 100), 0, 'under the budget a fresh address goes ahead');
    throttle.failed('10.0.99.1', 100);
    assert.equal(throttle.blockedFor('192.168.0.1', 100), 1000, 'the 20th failure within the window pauses everyone for a window');
    assert.equal(throttle.blockedFor('192.168.0.1', 1100), 0);
    for (let i = 0; i < 20; i++) throttle.failed(`10.1.${i}.1`, 1200);
    assert.equal(throttle.blockedFor('192.168.0.1', 1200), 2000, 'the next pause in a row doubles');
    for (let i = 0; i < 20; i++) throttle.failed(`10.2.${i}.1`, 3300);
    for (let i = 0; i < 20; i++) throttle.failed(`10.3.${i}.1`, 7400);
    assert.equal(throttle.blockedFor('192.168.0.1', 7400), 8000, 'capped at maxGlobalDelayMs');
    // 10,000 fresh addresses, one failure each, in a window each: none gets the budget of another
    const many = new LoginThrottle({ maxEntries: 100 });
    let checked = 0;
    for (let i = 0; i < 10_000; i++) {
      const now = i * 10;
      const address = `172.16.${Math.floor(i / 256)}.${i % 256}`;
      if (many.blockedFor(address, now) > 0) continue;
      checked++;
      many.failed(address, now);
    }
    assert.ok(checked <= 100 * 20 * 1.1, `many addresses get no more guesses than the global budget allows (${checked} checked in 100 s)`);
    assert.ok(many.size <= 1000, `the per-address state stays bounded (${many.size})`);
  });

  it('refuses logins while the global pause runs, even from an address that never failed', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const node = await startNode('global', fastOptions({ api: { admins: { alice: HASH } } }));
    defer(() => node.manager.shutdown());
    // the manager's handler with a small global budget, in a server of our own;
    // each guess comes from another loopback address
    const target = findManager('global');
    assert.ok(target !== undefined);
    const handler = createApiHandler(target, { login: { globalFailures: 3, globalWindowMs: 5000, baseDelayMs: 1 } });
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const port = (server.address() as { port: number }).port;
    const fromAddress = (local: string, password: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, localAddress: local, path: '/api/v1/login', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ username: 'alice', password }));
      });
    assert.equal(await fromAddress('127.0.0.3', 'guess-1'), 403);
    assert.equal(await fromAddress('127.0.0.4', 'guess-2'), 403);
    assert.equal(await fromAddress('127.0.0.5', 'guess-3'), 403);
    const started = performance.now();
    assert.equal(await fromAddress('127.0.0.6', PASSWORD), 429, 'a fresh address with the right password is refused unchecked during the pause');
    assert.ok(performance.now() - started < 100, 'answered at once, no scrypt run');
  });
});

describe('api.listen', () => {
  it('serves the whole API on its own port, answers 404 to HTTP on the cluster port, and closes it at shutdown', { timeout: 20_000 }, async () => {
    const manager = new Manager('own-port', SECRET, fastOptions({ api: { listen: '127.0.0.1:0', admins: { alice: HASH } } }));
    assert.equal(manager.apiAddress, null, 'no API address before listen');
    const address = await manager.listen('127.0.0.1:0');
    const node: Node = { manager, address, logs: [] };
    try {
      const api = manager.apiAddress;
      assert.ok(api !== null && api !== address, `an address of its own (${String(api)})`);
      const list = await call(api, '/api/v1/cluster');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.data, { managers: ['own-port'] });
      assert.equal((await call(api, '/api/v1/login', { username: 'alice', password: PASSWORD })).status, 200);
      const onCluster = await call(node.address, '/api/v1/cluster');
      assert.equal(onCluster.status, 404, 'the cluster port serves no API');
      assert.equal((await call(node.address, '/')).status, 404);
    } finally {
      await manager.shutdown();
    }
    const api = manager.apiAddress ?? '';
    await assert.rejects(call(api, '/api/v1/cluster', undefined, 2000), /ECONNREFUSED/, 'closed at shutdown');
  });

  it('refuses a malformed api.listen at construction, and a busy one at listen', { timeout: 10_000 }, async (t) => {
    assert.throws(() => new Manager('bad', SECRET, { api: { listen: 'nonsense' } }), /Invalid api\.listen/);
    const defer = scope(t);
    const first = new Manager('busy1', SECRET, fastOptions({ api: { listen: '127.0.0.1:0' } }));
    defer(() => first.shutdown());
    await first.listen('127.0.0.1:0');
    const second = new Manager('busy2', SECRET, fastOptions({ api: { listen: first.apiAddress ?? '' } }));
    defer(() => second.shutdown());
    await assert.rejects(second.listen('127.0.0.1:0'), /cannot listen on .* \(api\.listen\)/);
    // the failed listen left the manager as it was: it can listen again with its cluster port free
    assert.equal(second.address, null);
  });
});
