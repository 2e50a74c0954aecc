/**
 * The HTTP API over real HTTP on 127.0.0.1: every route and status code, the
 * token checks, the login cookie and throttle, the event stream, the handler
 * mounted in a server of our own, and hostile requests that must harm nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { BehaviorSubject, defer, finalize, of, Subject } from 'rxjs';
import { hashAdminPassword, Manager, type ApiRequest } from '../src/index.js';
import type { ApiClusterNode } from '../src/index.js';
import { createApiHandler } from '../src/api/handler.js';
import { LoginThrottle } from '../src/api/auth.js';
import { recentEvents, RECENT_EVENTS, type ApiMembershipEvent, type ApiOverview } from '../src/api/overview.js';
import { findManager, registerManager, unregisterManager, type ApiTarget, type RequestHandler } from '../src/api/registry.js';
import { fastOptions, first, joinedAll, shutdownAll, sleep, startMesh, startNode, SECRET, type Node, membersNow, tokenUser } from './support/cluster.js';

const SIGNING_KEY = 'api-test-signing-key';
/** The admins' password: never the cluster secret. */
const PASSWORD = 'admin-password-not-the-secret';
const ADMIN_HASH = hashAdminPassword(PASSWORD);
const ADMINS = { alice: ADMIN_HASH, bob: ADMIN_HASH, carol: ADMIN_HASH, mallory: hashAdminPassword('mallory-own-password') };
const OPTIONS = fastOptions({ api: { signingKey: SIGNING_KEY, admins: ADMINS }, metadata: { role: 'api-test' } });

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

interface Envelope {
  readonly success: boolean;
  readonly error: string | null;
  readonly data: unknown;
}

interface CallOptions {
  readonly method?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  readonly ms?: number;
  /** Default: a fresh connection per request (`agent: false`). */
  readonly agent?: http.Agent;
}

/** One request over a fresh connection; the path is sent exactly as given (no normalisation). */
function call(address: string, path: string, { method = 'GET', headers = {}, body, ms = 5000, agent }: CallOptions = {}): Promise<Answer> {
  const [host, port] = hostPort(address);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(ms, () => req.destroy(new Error(`no answer within ${ms} ms: ${method} ${path.slice(0, 80)}`)));
    req.on('error', reject);
    req.end(body);
  });
}

function hostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

function envelope(answer: Answer): Envelope {
  assert.match(String(answer.headers['content-type']), /^application\/json/, `JSON answer expected, got: ${answer.text.slice(0, 200)}`);
  const body = JSON.parse(answer.text) as Envelope;
  assert.deepEqual(Object.keys(body).sort(), ['data', 'error', 'success'], 'the envelope has exactly success, error, data');
  return body;
}

/** Asserts an error envelope with `status`, its error matching `error`. */
function assertFailure(answer: Answer, status: number, error: RegExp, what: string): void {
  assert.equal(answer.status, status, `${what}: status (body ${answer.text.slice(0, 200)})`);
  const body = envelope(answer);
  assert.equal(body.success, false, `${what}: success`);
  assert.equal(body.data, null, `${what}: data`);
  assert.match(String(body.error), error, `${what}: error`);
}

function json(value: unknown): CallOptions {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A server of our own on 127.0.0.1:0 serving `handler`. */
async function ownServer(handler: RequestHandler): Promise<{ readonly address: string; readonly close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Streams a chunked POST body of up to `maxBytes`, one 16 KiB chunk at a
 * time, and stops as soon as an answer arrives: how many bytes were written
 * by then shows whether the server answered before reading everything.
 */
function streamUntilAnswered(address: string, path: string, headers: http.OutgoingHttpHeaders, maxBytes: number): Promise<{ status: number; written: number; connection: string | undefined }> {
  const [host, port] = hostPort(address);
  return new Promise((resolve, reject) => {
    // a keep-alive client: the server itself must decide to close the connection
    const agent = new http.Agent({ keepAlive: true });
    const req = http.request({ host, port, path, method: 'POST', headers, agent });
    req.on('close', () => agent.destroy());
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let written = 0;
    let answered = false;
    const pump = (): void => {
      while (!answered && written < maxBytes) {
        written += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    req.on('response', (res) => {
      answered = true;
      resolve({ status: res.statusCode ?? 0, written, connection: res.headers.connection });
      res.resume();
      req.destroy();
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to the streamed body')));
    pump();
  });
}

/** Reads an event stream until `until` matches the text so far, or `ms` pass. */
async function readEvents(
  address: string,
  path: string,
  until: (text: string) => boolean,
  ms = 5000,
): Promise<{ status: number; type: string | null; text: string; ended: boolean; abort: () => void }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const res = await fetch(`http://${address}${path}`, { signal: controller.signal });
  let text = '';
  let ended = false;
  const reader = res.body?.getReader();
  assert.ok(reader !== undefined, 'event stream has a body');
  const decoder = new TextDecoder();
  try {
    while (!until(text)) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    throw new Error(`event stream: ${String(error)}; read so far: ${text.slice(0, 500)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return { status: res.status, type: res.headers.get('content-type'), text, ended, abort: () => controller.abort() };
}

function dataEvents(text: string): { quorum: boolean; nodes: Record<string, { status: string }> }[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => JSON.parse(block.slice('data: '.length)) as { quorum: boolean; nodes: Record<string, { status: string }> });
}

describe('HTTP API', () => {
  let nodes: Node[] = [];
  let a: Manager;
  let b: Manager;
  let disabled: Node;
  const apiRequests: ApiRequest[] = [];

  before(async () => {
    nodes = await startMesh(['a', 'b'], OPTIONS);
    await joinedAll(nodes);
    [a, b] = nodes.map((n) => n.manager) as [Manager, Manager];
    a.fromClusterApi$.subscribe((request) => apiRequests.push(request));
    disabled = await startNode('c', fastOptions({ api: { enabled: false, signingKey: SIGNING_KEY } }));
  });

  after(async () => {
    await shutdownAll([...nodes, disabled]);
  });

  const addr = (): string => nodes[0]?.address ?? '';
  const tokenFor = async (username = 'alice'): Promise<string> => {
    const answer = await call(addr(), '/api/v1/login', json({ username, password: PASSWORD }));
    assert.equal(answer.status, 200, answer.text);
    return (envelope(answer).data as { token: string }).token;
  };

  it('GET /api/v1/cluster lists the managers of this process whose API is enabled', { timeout: 10_000 }, async () => {
    const answer = await call(addr(), '/api/v1/cluster');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.deepEqual(envelope(answer), { success: true, error: null, data: { managers: ['a', 'b'] } });
    const head = await call(addr(), '/api/v1/cluster', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '', 'HEAD has no body');
    const options = await call(addr(), '/api/v1/cluster', { method: 'OPTIONS' });
    assert.equal(options.status, 200);
    assert.equal(options.headers.allow, 'GET, HEAD, OPTIONS');
    // the manager whose API is disabled serves nothing on its port
    assert.equal((await call(disabled.address, '/api/v1/cluster')).status, 404);
  });

  it('GET /api/v1/cluster/:manager shows every configured and connected node with its counters', { timeout: 10_000 }, async () => {
    b.toCluster$.next({ hello: 'a' });
    await first(a.members$, (m) => (m.get('b')?.packets ?? 0) >= 1 && (m.get('b')?.lag ?? 0) >= 0, 5000, 'a packet counted');
    a.addNode('ghost', '127.0.0.1:1');
    try {
      const answer = await call(addr(), '/api/v1/cluster/a');
      assert.equal(answer.status, 200);
      const body = envelope(answer);
      assert.equal(body.success, true);
      assert.equal(body.error, null);
      const data = body.data as { nodes: Record<string, Record<string, unknown>>; quorum: boolean };
      assert.deepEqual(Object.keys(data.nodes).sort(), ['b', 'ghost']);
      const node = data.nodes['b'] ?? {};
      assert.deepEqual(Object.keys(node).sort(), ['addr', 'error', 'jointime', 'lag', 'leaveReason', 'leavetime', 'metadata', 'name', 'packets', 'status']);
      assert.equal(node['name'], 'b');
      assert.deepEqual(node['metadata'], { role: 'api-test' }, 'the metadata b sent in its handshake');
      assert.equal(node['leaveReason'], null);
      assert.equal(node['addr'], nodes[1]?.address);
      assert.equal(node['status'], 'Online');
      assert.equal(node['error'], '');
      assert.equal(typeof node['lag'], 'number');
      assert.ok((node['packets'] as number) >= 1, 'the packet from b is counted');
      assert.ok(Math.abs(Date.parse(String(node['jointime'])) - Date.now()) < 60_000, 'jointime is an ISO date');
      assert.equal(data.nodes['ghost']?.['status'], 'Offline');
      assert.equal(data.nodes['ghost']?.['jointime'], null);
      assert.equal(data.quorum, true);
      const events = (body.data as { events?: { type: string; node: string; time: string }[] }).events ?? [];
      assert.ok(events.some((e) => e.type === 'join' && e.node === 'b' && !Number.isNaN(Date.parse(e.time))), `b's join is among the recent events (${JSON.stringify(events)})`);
      // another manager of the process, through a's port
      const other = envelope(await call(addr(), '/api/v1/cluster/b')).data as { nodes: Record<string, { status: string }> };
      assert.equal(other.nodes['a']?.status, 'Online');
    } finally {
      a.removeNode('ghost');
    }
  });

  it('answers 404 for an unknown manager, node or route, and for a manager whose API is disabled', { timeout: 10_000 }, async () => {
    const token = await tokenFor();
    assertFailure(await call(addr(), '/api/v1/cluster/nope'), 404, /unknown manager/, 'unknown manager');
    assertFailure(await call(addr(), '/api/v1/cluster/c'), 404, /unknown manager/, 'API-disabled manager');
    assertFailure(await call(addr(), '/api/v1/cluster/nope/events'), 404, /unknown manager/, 'events of an unknown manager');
    const auth = { authorization: `Bearer ${token}` };
    assertFailure(await call(addr(), '/api/v1/cluster/a/admin/nope/reconnect', { method: 'POST', headers: auth }), 404, /unknown node/, 'unknown node');
    assertFailure(await call(addr(), '/api/v1/cluster/a/admin/a/reconnect', { method: 'POST', headers: auth }), 404, /unknown node/, 'itself is no node');
    assertFailure(await call(addr(), '/api/v1/cluster/nope/admin/b/reconnect', { method: 'POST', headers: auth }), 404, /unknown manager/, 'admin on unknown manager');
    for (const path of ['/api/v2/cluster', '/favicon.ico', '/api/v1/cluster/a/extra', '/api/v1/cluster/a/admin/b', '/api', '/index.html']) {
      assertFailure(await call(addr(), path), 404, /no such route/, path);
    }
    assertFailure(await call(addr(), '/?manager=nope'), 404, /unknown manager/, 'status page of an unknown manager');
    assertFailure(await call(addr(), '/api/v1/login', json({ username: 'alice', password: PASSWORD, manager: 'nope' })), 404, /unknown manager/, 'login to an unknown manager');
  });

  it('answers 405 with an Allow header for a wrong method on a known route', { timeout: 10_000 }, async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/api/v1/cluster', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/api/v1/cluster/a', 'GET, HEAD, OPTIONS'],
      ['POST', '/api/v1/cluster/a/events', 'GET, HEAD, OPTIONS'],
      ['GET', '/api/v1/cluster/a/admin/b/reconnect', 'POST, OPTIONS'],
      ['GET', '/api/v1/login', 'POST, OPTIONS'],
      ['POST', '/', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const answer = await call(addr(), path, { method });
      assertFailure(answer, 405, /method not allowed/, `${method} ${path}`);
      assert.equal(answer.headers.allow, allow, `${method} ${path}: Allow`);
    }
  });

  it('POST /api/v1/login answers a token and sets it as an HttpOnly, SameSite=Strict session cookie', { timeout: 10_000 }, async () => {
    const answer = await call(addr(), '/api/v1/login', json({ username: 'alice', password: PASSWORD }));
    assert.equal(answer.status, 200, answer.text);
    const data = envelope(answer).data as { token: string; username: string; manager: string };
    assert.equal(data.username, 'alice');
    assert.equal(data.manager, 'a', 'the home manager by default');
    assert.equal(await tokenUser(a, data.token), 'alice');
    assert.equal(await tokenUser(b, data.token), undefined, "a's token is not b's");
    const cookies = answer.headers['set-cookie'] ?? [];
    assert.equal(cookies.length, 1);
    const parts = (cookies[0] ?? '').split(';').map((p) => p.trim());
    assert.equal(parts[0], `session=${data.token}`);
    assert.ok(parts.includes('HttpOnly'), `HttpOnly in ${cookies[0]}`);
    assert.ok(parts.includes('SameSite=Strict'), `SameSite=Strict in ${cookies[0]}`);
    assert.ok(parts.includes('Path=/'), `Path=/ in ${cookies[0]}`);
    assert.ok(!parts.includes('Secure'), 'no Secure flag over plain HTTP');
    const maxAge = Number(parts.find((p) => p.startsWith('Max-Age='))?.slice('Max-Age='.length));
    assert.ok(maxAge > 3500 && maxAge <= 3600, `Max-Age ends with the token (${maxAge})`);
    // another manager of the process issues its own token
    const forB = envelope(await call(addr(), '/api/v1/login', json({ username: 'bob', password: PASSWORD, manager: 'b' }))).data as { token: string; manager: string };
    assert.equal(forB.manager, 'b');
    assert.equal(await tokenUser(b, forB.token), 'bob');
  });

  it('answers 400 naming the field for a login body that is malformed or fails its codec', { timeout: 10_000 }, async () => {
    const cases: [CallOptions, RegExp][] = [
      [{ method: 'POST', body: '{"username": "alice", "secret": ' }, /not valid JSON/],
      [{ method: 'POST', body: '' }, /not valid JSON/],
      [json([]), /LoginBody: expected LoginBody/],
      [json('alice'), /LoginBody: expected LoginBody/],
      [json({ password: PASSWORD }), /^LoginBody\.username: expected Username$/],
      [json({ username: '', password: PASSWORD }), /^LoginBody\.username: expected Username$/],
      [json({ username: 'x'.repeat(129), password: PASSWORD }), /^LoginBody\.username: expected Username$/],
      [json({ username: 'al\nice', password: PASSWORD }), /^LoginBody\.username: expected Username$/],
      [json({ username: 'alice' }), /^LoginBody\.password: expected Password$/],
      [json({ username: 'alice', password: 42 }), /^LoginBody\.password: expected Password$/],
      [json({ username: 'alice', password: PASSWORD, manager: 5 }), /^LoginBody\.manager: expected NodeName$/],
      [json({ username: 'alice', password: PASSWORD, manager: '' }), /^LoginBody\.manager: expected NodeName$/],
      [{ method: 'POST', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, /not valid UTF-8/],
    ];
    for (const [options, error] of cases) {
      const answer = await call(addr(), '/api/v1/login', options);
      assertFailure(answer, 400, error, `login ${String(options.body).slice(0, 60)}`);
      assert.ok(!answer.text.includes(PASSWORD), 'the password is never echoed');
      assert.equal(answer.headers['set-cookie'], undefined, 'no cookie on failure');
    }
  });

  it('answers a wrong password 403 after a delay that grows with each failure from the same address', { timeout: 40_000 }, async () => {
    // the manager's handler with a 1 s base delay, in a server of our own: the growth
    // (1 s, 2 s, 4 s) stands well above the time of the scrypt check itself
    const own = await ownServer(createApiHandler(findManager('a') as ApiTarget, { login: { baseDelayMs: 1000, maxDelayMs: 8000 } }));
    try {
      const durations: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const answer = await call(own.address, '/api/v1/login', { ...json({ username: 'mallory', password: `guess-${i}` }), ms: 15_000 });
        durations.push(performance.now() - started);
        assertFailure(answer, 403, /wrong username or password/, `wrong password #${i + 1}`);
        assert.ok(!answer.text.includes(`guess-${i}`), 'the guess is not echoed');
        assert.equal(answer.headers['set-cookie'], undefined);
      }
      const [d1 = 0, d2 = 0, d3 = 0] = durations;
      assert.ok(d1 >= 990, `the first failure is delayed (${d1.toFixed(0)} ms)`);
      assert.ok(d2 >= 1990, `the second failure waits twice as long (${d1.toFixed(0)} then ${d2.toFixed(0)} ms)`);
      assert.ok(d3 >= 3990, `the third twice as long again (${d2.toFixed(0)} then ${d3.toFixed(0)} ms)`);
      // the right password is not delayed, and resets the count
      const started = performance.now();
      assert.equal((await call(own.address, '/api/v1/login', { ...json({ username: 'alice', password: PASSWORD }), ms: 15_000 })).status, 200);
      assert.ok(performance.now() - started < d3, 'a success is answered without the delay');
      const again = performance.now();
      assertFailure(await call(own.address, '/api/v1/login', { ...json({ username: 'mallory', password: 'again' }), ms: 15_000 }), 403, /wrong username or password/, 'after a success');
      assert.ok(performance.now() - again < d3, 'after a success the delay starts afresh');
    } finally {
      await own.close();
    }
  });

  it('refuses guesses sent in parallel unchecked with 429 while the delay runs, so the delay bounds the guessing rate', { timeout: 20_000 }, async () => {
    await tokenFor(); // a success forgets earlier failures from this address
    const guesses = Array.from({ length: 10 }, (_, i) => call(addr(), '/api/v1/login', json({ username: 'mallory', password: `parallel-${i}` })));
    // the right password among them is not even looked at while the delay runs
    const right = call(addr(), '/api/v1/login', json({ username: 'alice', password: PASSWORD }));
    const answers = await Promise.all([...guesses, right]);
    const statuses = answers.map((a) => a.status).sort();
    assert.equal(statuses.filter((x) => x === 403).length, 1, `one guess checked: ${statuses.join(',')}`);
    assert.equal(statuses.filter((x) => x === 429).length, 10, `the others refused unchecked: ${statuses.join(',')}`);
    const refused = answers.find((a) => a.status === 429);
    assert.ok(refused !== undefined && Number(refused.headers['retry-after']) >= 1, 'with a Retry-After');
    assert.equal(answers.at(-1)?.headers['set-cookie'], undefined, 'the right password got no cookie inside the window');
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await call(addr(), '/api/v1/login', json({ username: 'alice', password: PASSWORD }))).status, 200, 'after the delay, the right password logs in');
  });

  it('keeps the throttle state bounded, with the delay doubling up to its cap', () => {
    const throttle = new LoginThrottle({ baseDelayMs: 100, maxDelayMs: 3000, maxEntries: 3 });
    assert.deepEqual(
      Array.from({ length: 8 }, () => throttle.failed('10.0.0.1', 0)),
      [100, 200, 400, 800, 1600, 3000, 3000, 3000],
    );
    for (const address of ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']) throttle.failed(address, 0);
    assert.equal(throttle.size, 5, 'an address still delayed is never forgotten, whatever maxEntries says');
    assert.ok(throttle.blockedFor('10.0.0.1', 0) >= 3000, 'so many addresses cannot push a delayed one out');
    throttle.failed('10.0.0.6', 5000);
    assert.equal(throttle.size, 3, 'once their delays ran out, at most maxEntries addresses are remembered');
    assert.equal(throttle.failed('10.0.0.1', 5000), 100, 'the least recently failed address was forgotten');
    const forgetful = new LoginThrottle({ forgetAfterMs: 1000 });
    forgetful.failed('x', 0);
    assert.equal(forgetful.failed('x', 500), 200);
    assert.equal(forgetful.failed('x', 2000), 100, 'an old failure is forgotten');
    forgetful.succeeded('x');
    assert.equal(forgetful.size, 0);
  });

  it('refuses admin requests with 403 for a missing, malformed, expired, foreign, unsigned or HS512 token', { timeout: 15_000 }, async () => {
    const before = apiRequests.length;
    const claims = { sub: 'alice', mgr: 'a' };
    const good = jwt.sign(claims, SIGNING_KEY, { algorithm: 'HS256', expiresIn: 60 });
    const [header = '', payload = '', signature = ''] = good.split('.');
    const tokens: [string, string][] = [
      ['expired', jwt.sign({ ...claims, exp: nowSeconds() - 10 }, SIGNING_KEY, { algorithm: 'HS256' })],
      ['not yet valid', jwt.sign({ ...claims, nbf: nowSeconds() + 600 }, SIGNING_KEY, { algorithm: 'HS256' })],
      ['another key', jwt.sign(claims, 'some-other-key', { algorithm: 'HS256', expiresIn: 60 })],
      ['alg none', `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, exp: nowSeconds() + 60 })}.`],
      ['alg none with the real signature', `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`],
      ['HS512 with the right key', jwt.sign(claims, SIGNING_KEY, { algorithm: 'HS512', expiresIn: 60 })],
      ['HS384 with the right key', jwt.sign(claims, SIGNING_KEY, { algorithm: 'HS384', expiresIn: 60 })],
      ['tampered payload', `${header}.${b64url({ sub: 'root', mgr: 'a', exp: nowSeconds() + 60 })}.${signature}`],
      ['tampered signature', `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`],
      ['no signature', `${header}.${payload}.`],
      ["b's token", jwt.sign({ sub: 'alice', mgr: 'b' }, SIGNING_KEY, { algorithm: 'HS256', expiresIn: 60 })],
      ['no manager claim', jwt.sign({ sub: 'alice' }, SIGNING_KEY, { algorithm: 'HS256', expiresIn: 60 })],
      ['no subject', jwt.sign({ mgr: 'a' }, SIGNING_KEY, { algorithm: 'HS256', expiresIn: 60 })],
      ['not a JWT', 'hello'],
      ['two parts', `${header}.${payload}`],
      ['huge', `${header}.${'A'.repeat(10_000)}.${signature}`],
    ];
    const path = '/api/v1/cluster/a/admin/b/probe';
    assertFailure(await call(addr(), path, { method: 'POST', body: 'x' }), 403, /valid token is required/, 'no token');
    for (const [what, token] of tokens) {
      assertFailure(await call(addr(), path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'x' }), 403, /token/, `Bearer: ${what}`);
      assertFailure(await call(addr(), path, { method: 'POST', headers: { cookie: `session=${token}` }, body: 'x' }), 403, /token/, `cookie: ${what}`);
    }
    for (const authorization of ['Basic YWxpY2U6c2VjcmV0', 'Bearer', 'Bearer ', `Token ${good}`, `Bearer ${good} extra`, `${good}`]) {
      assertFailure(await call(addr(), path, { method: 'POST', headers: { authorization }, body: 'x' }), 403, /token/, `Authorization: ${authorization.slice(0, 30)}`);
    }
    // a bad Authorization header is not rescued by a good cookie
    assertFailure(await call(addr(), path, { method: 'POST', headers: { authorization: 'Bearer nope', cookie: `session=${good}` } }), 403, /token/, 'bad bearer, good cookie');
    // the cookie from another site's page is refused
    assertFailure(
      await call(addr(), path, { method: 'POST', headers: { cookie: `session=${good}`, origin: 'http://evil.example' }, body: 'x' }),
      403,
      /cross-origin/,
      'cookie with a foreign Origin',
    );
    await sleep(100);
    assert.equal(apiRequests.length, before, 'no refused request reached fromClusterApi$');
    // the well-formed token passes the same route, as a control
    const control = await call(addr(), path, { method: 'POST', headers: { authorization: `Bearer ${good}` }, body: 'x' });
    assert.equal(control.status, 200, control.text);
    assert.equal(apiRequests.length, before + 1);
  });

  it('POST …/admin/:node/:action with a token emits { action, manager, node, data } on fromClusterApi$', { timeout: 15_000 }, async () => {
    const token = await tokenFor();
    const received = first(a.fromClusterApi$, (r) => r.action === 'deploy', 5000, 'the deploy request');
    const body = '{"version": "1.2.3"} ünïcødé';
    const answer = await call(addr(), '/api/v1/cluster/a/admin/b/deploy', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(envelope(answer), { success: true, error: null, data: { action: 'deploy', manager: 'a', node: 'b', username: 'alice' } });
    assert.deepEqual(await received, { action: 'deploy', manager: 'a', node: 'b', data: body });

    // the session cookie alone authorizes too; an empty body is data ''
    const viaCookie = first(a.fromClusterApi$, (r) => r.action === 'flush', 5000, 'the flush request');
    const cookieAnswer = await call(addr(), '/api/v1/cluster/a/admin/b/flush', { method: 'POST', headers: { cookie: `theme=dark; session=${token}`, origin: `http://${addr()}`, host: addr() } });
    assert.equal(cookieAnswer.status, 200, cookieAnswer.text);
    assert.deepEqual(await viaCookie, { action: 'flush', manager: 'a', node: 'b', data: '' });

    // the built-in reconnect drops the connection to b, which comes back
    const left = first(a.nodeLeave$, (n) => n === 'b', 5000, 'b leaves after reconnect');
    const reconnect = first(a.fromClusterApi$, (r) => r.action === 'reconnect', 5000, 'the reconnect request');
    assert.equal((await call(addr(), '/api/v1/cluster/a/admin/b/reconnect', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.deepEqual(await reconnect, { action: 'reconnect', manager: 'a', node: 'b', data: '' });
    assert.equal(await left, 'b');
    await joinedAll(nodes);
  });

  it('answers 400 naming the path parameter that fails its codec', { timeout: 10_000 }, async () => {
    const auth = { authorization: `Bearer ${await tokenFor()}` };
    const cases: [string, RegExp][] = [
      ['/api/v1/cluster/a/admin/b/%20bad', /^AdminPath\.action: expected ActionName$/],
      ['/api/v1/cluster/a/admin/b/' + 'x'.repeat(65), /^AdminPath\.action: expected ActionName$/],
      ['/api/v1/cluster/a/admin/b/re%0Aconnect', /^AdminPath\.action: expected ActionName$/],
      ['/api/v1/cluster/a/admin/' + 'n'.repeat(129) + '/reconnect', /^AdminPath\.node: expected NodeName$/],
      ['/api/v1/cluster/a/admin/b%00/reconnect', /^AdminPath\.node: expected NodeName$/],
      ['/api/v1/cluster/a%7F/admin/b/reconnect', /^AdminPath\.manager: expected NodeName$/],
    ];
    for (const [path, error] of cases) assertFailure(await call(addr(), path, { method: 'POST', headers: auth }), 400, error, path);
    assertFailure(await call(addr(), '/api/v1/cluster/' + 'm'.repeat(129)), 400, /^ManagerPath\.manager: expected NodeName$/, 'long manager');
    assertFailure(await call(addr(), '/api/v1/cluster/%01/events'), 400, /^ManagerPath\.manager: expected NodeName$/, 'control character');
    assertFailure(await call(addr(), '/?manager='), 400, /^PageQuery\.manager: expected NodeName$/, 'empty manager query');
    assertFailure(await call(addr(), '/api/v1/cluster/a/admin/b/deploy', { method: 'POST', headers: auth, body: Buffer.from([0xc3, 0x28]) }), 400, /UTF-8/, 'admin body not UTF-8');
  });

  it('answers 413 for a body over 64 KiB, without reading the rest of it', { timeout: 20_000 }, async () => {
    const auth = { authorization: `Bearer ${await tokenFor()}` };
    const before = apiRequests.length;
    // within the limit: accepted whole
    const exact = 'y'.repeat(64 * 1024);
    const fits = first(a.fromClusterApi$, (r) => r.action === 'big', 5000, 'the 64 KiB request');
    assert.equal((await call(addr(), '/api/v1/cluster/a/admin/b/big', { method: 'POST', headers: auth, body: exact })).status, 200);
    assert.equal((await fits).data.length, exact.length);
    // declared too large: refused before reading
    const keepAlive = new http.Agent({ keepAlive: true });
    try {
      const declared = await call(addr(), '/api/v1/cluster/a/admin/b/big', { method: 'POST', headers: auth, body: 'z'.repeat(64 * 1024 + 1), agent: keepAlive });
      assertFailure(declared, 413, /larger than 65536 bytes/, 'content-length over the limit');
      assert.equal(declared.headers.connection, 'close', 'the unread body is not drained: the connection closes');
      // a request answered after its body was read keeps the connection
      const read = await call(addr(), '/api/v1/cluster/a/admin/b/big', { method: 'POST', headers: auth, body: 'small', agent: keepAlive });
      assert.equal(read.status, 200);
      assert.equal(read.headers.connection, 'keep-alive');
    } finally {
      keepAlive.destroy();
    }
    // chunked, no length: the server stops reading past the limit and answers
    const maxBytes = 64 * 1024 * 1024;
    const streamed = await streamUntilAnswered(addr(), '/api/v1/cluster/a/admin/b/big', auth, maxBytes);
    assert.equal(streamed.status, 413);
    assert.equal(streamed.connection, 'close');
    assert.ok(streamed.written < maxBytes, `answered after ${streamed.written} of ${maxBytes} bytes were written`);
    const login = await streamUntilAnswered(addr(), '/api/v1/login', { 'content-type': 'application/json' }, maxBytes);
    assert.equal(login.status, 413);
    assert.ok(login.written < maxBytes);
    await sleep(100);
    assert.equal(apiRequests.length, before + 2, 'only the requests within the limit were emitted');
  });

  it('serves the status page, escaping the manager name, with a strict content security policy', { timeout: 10_000 }, async () => {
    const page = await call(addr(), '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(page.text, /<meta name="rxcluster-manager" content="a">/);
    assert.match(page.text, /const base = 'api\/v1\/cluster\/' \+ enc\(manager\);/);
    assert.match(page.text, /new EventSource\(base \+ '\/events'\)/);
    assert.match(page.text, /<meta name="rxcluster-login" content="on">/, 'a has admins: the page offers a login');
    assert.match((await call(addr(), '/?manager=b')).text, /<meta name="rxcluster-manager" content="b">/);
    assert.equal((await call(addr(), '/', { method: 'HEAD' })).text, '');
    const hostileName = '"><script>alert(1)</script>';
    const hostile = new Manager(hostileName, SECRET, OPTIONS);
    try {
      await hostile.listen('127.0.0.1:0'); // only a listening manager is listed by the API
      const answer = await call(addr(), `/?manager=${encodeURIComponent(hostileName)}`);
      assert.equal(answer.status, 200);
      assert.ok(!answer.text.includes(hostileName), 'the name is never placed in the markup as is');
      assert.match(answer.text, /content="&#34;&#62;&#60;script&#62;alert\(1\)&#60;\/script&#62;"/);
    } finally {
      await hostile.shutdown();
    }
  });

  it('streams server-sent events of members and quorum, the current state first', { timeout: 10_000 }, async () => {
    const stream = await readEvents(addr(), '/api/v1/cluster/a/events', (text) => dataEvents(text).length >= 1);
    stream.abort();
    assert.equal(stream.status, 200);
    assert.match(String(stream.type), /^text\/event-stream/);
    const [event] = dataEvents(stream.text);
    assert.equal(event?.quorum, true);
    assert.equal(event?.nodes['b']?.status, 'Online');
    assert.deepEqual(Object.keys(event?.nodes['b'] ?? {}).sort(), ['addr', 'error', 'jointime', 'lag', 'leaveReason', 'leavetime', 'metadata', 'name', 'packets', 'status']);
  });

  it('serves every route when manager.requestHandler is mounted in a server of our own', { timeout: 15_000 }, async () => {
    const own = await ownServer(a.requestHandler);
    const forDisabled = await ownServer(disabled.manager.requestHandler);
    try {
      assert.deepEqual(envelope(await call(own.address, '/api/v1/cluster')).data, { managers: ['a', 'b'] });
      assert.equal((await call(own.address, '/api/v1/cluster/a')).status, 200);
      assert.equal((await call(own.address, '/')).status, 200);
      const login = await call(own.address, '/api/v1/login', json({ username: 'carol', password: PASSWORD }));
      assert.equal(login.status, 200);
      const token = (envelope(login).data as { token: string }).token;
      const received = first(a.fromClusterApi$, (r) => r.action === 'mounted', 5000, 'the request through our own server');
      const answer = await call(own.address, '/api/v1/cluster/a/admin/b/mounted', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'via own server' });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(await received, { action: 'mounted', manager: 'a', node: 'b', data: 'via own server' });
      // a manager with api.enabled false still serves its own handler where the user mounts it
      assert.deepEqual(envelope(await call(forDisabled.address, '/api/v1/cluster')).data, { managers: ['a', 'b', 'c'] });
      assert.equal((await call(forDisabled.address, '/api/v1/cluster/c')).status, 200);
    } finally {
      await own.close();
      await forDisabled.close();
    }
  });

  it('ends the event stream when the manager shuts down', { timeout: 15_000 }, async () => {
    const d = await startNode('d', OPTIONS);
    const own = await ownServer(d.manager.requestHandler);
    try {
      const opened = await readEvents(own.address, '/api/v1/cluster/d/events', (text) => dataEvents(text).length >= 1, 5000);
      opened.abort();
      const started = performance.now();
      const ending = readEvents(own.address, '/api/v1/cluster/d/events', () => false, 5000);
      await sleep(200);
      await d.manager.shutdown();
      const stream = await ending;
      assert.equal(stream.ended, true, 'the stream ended by itself');
      assert.ok(performance.now() - started < 3000, 'promptly');
      assertFailure(await call(own.address, '/api/v1/cluster/d'), 404, /unknown manager/, 'a stopped manager is gone');
    } finally {
      await own.close();
      await d.manager.shutdown();
    }
  });

  it('answers hostile and odd requests with 400 or 404, never throwing, leaving the mesh unaffected', { timeout: 30_000 }, async () => {
    const jointime = membersNow(a).get('b')?.jointime?.getTime();
    assert.ok(jointime !== undefined);
    const cases: [string, string, number[]][] = [
      ['GET', '/api/v1/cluster/..%2f..', [404]],
      ['GET', '/api/v1/cluster/..%2F..%2F..%2Fetc%2Fpasswd', [404]],
      ['GET', '/api/v1/cluster/..', [400]],
      ['GET', '/api/v1/cluster/%2e%2e', [400]],
      ['GET', '/api/v1/./cluster', [400]],
      ['GET', '/api/v1/cluster/a/../../../etc/passwd', [400]],
      ['GET', '//api/v1/cluster', [404]],
      ['GET', '/api/v1//cluster', [404]],
      ['GET', '/api/v1/cluster/', [404]],
      ['GET', '/api/v1/cluster/%ZZ', [400]],
      ['GET', '/api/v1/cluster/%', [400]],
      ['GET', '/api/v1/cluster/%C0%AF', [400]],
      ['GET', '/api/v1/cluster/' + 'x'.repeat(3000), [400]],
      ['GET', '/' + 'x/'.repeat(1500), [400]],
      ['GET', '/api/v1/cluster/' + 'x'.repeat(20_000), [400, 431]],
      ['GET', 'http://evil.example/api/v1/cluster', [400]],
      ['OPTIONS', '*', [400]],
      ['GET', '/?manager=%00', [400]],
      ['GET', '/?manager=a&manager=b', [200]],
      ['GET', '/api/v1/cluster?x=%ZZ', [200]],
      ['BREW', '/api/v1/cluster', [400, 405]],
      ['POST', '/api/v1/cluster/a/admin/b/reconnect/../../../../login', [400]],
    ];
    const answers = await Promise.all(cases.map(([method, path]) => call(addr(), path, { method }).then((answer) => ({ method, path, answer }))));
    answers.forEach(({ method, path, answer }, i) => {
      const expected = cases[i]?.[2] ?? [];
      assert.ok(expected.includes(answer.status), `${method} ${path.slice(0, 60)}: ${answer.status} not in ${expected.join('/')} (${answer.text.slice(0, 120)})`);
      if (answer.status !== 431 && answer.status !== 200 && answer.text !== '') assert.equal(envelope(answer).success, false);
    });
    // raw garbage on the socket, and a request that breaks off mid-body
    await new Promise<void>((resolve, reject) => {
      const [host, port] = hostPort(addr());
      const socket = net.connect({ host, port }, () => socket.end('GARBAGE / NOT-HTTP\r\n\r\n'));
      socket.setTimeout(5000, () => socket.destroy(new Error('garbage: no answer')));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      const [host, port] = hostPort(addr());
      const socket = net.connect({ host, port }, () => {
        socket.write('POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"username":');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // the manager still serves, its mesh untouched (no rejoin)
    const after = await call(addr(), '/api/v1/cluster/a');
    assert.equal(after.status, 200);
    assert.equal((envelope(after).data as { nodes: Record<string, { status: string }> }).nodes['b']?.status, 'Online');
    assert.equal(membersNow(a).get('b')?.jointime?.getTime(), jointime, 'the connection to b was never dropped');
    assert.equal(membersNow(b).get('a')?.status, 'Online');
    const ping = first(b.fromCluster$, () => true, 5000, 'a message after the hostile requests');
    a.toCluster$.next('still here');
    assert.equal((await ping).message(), 'still here');
  });
});

/** A stand-in manager whose members$ and methods the test controls; counts the live subscriptions to members$. */
function fakeTarget(name: string, overrides: Partial<ApiTarget> = {}): { target: ApiTarget; members$: BehaviorSubject<ReadonlyMap<string, ApiClusterNode>>; subscribed: () => number } {
  const members$ = new BehaviorSubject<ReadonlyMap<string, ApiClusterNode>>(new Map());
  let live = 0;
  const target: ApiTarget = {
    name,
    apiEnabled: true,
    membersNow: () => members$.value,
    quorumNow: () => true,
    members$: defer(() => {
      live++;
      return members$.pipe(finalize(() => live--));
    }),
    quorum$: new BehaviorSubject(true),
    overview$: of({}),
    overviewNow: () => ({}),
    loginEnabled: true,
    checkLogin: (_username, password) => Promise.resolve(password === PASSWORD),
    issueApiToken: () => 'x.y.z',
    verifyApiToken: () => undefined,
    apiRequest: () => undefined,
    ...overrides,
  };
  return { target, members$, subscribed: () => live };
}

describe('HTTP API handler', () => {
  it('sends heartbeats, unsubscribes when the client goes away, and ends with members$', { timeout: 15_000 }, async () => {
    const fake = fakeTarget('fake-events');
    registerManager(fake.target);
    const own = await ownServer(createApiHandler(fake.target, { heartbeatMs: 50 }));
    try {
      const beats = await readEvents(own.address, '/api/v1/cluster/fake-events/events', (text) => (text.match(/^: heartbeat$/gm) ?? []).length >= 2, 5000);
      assert.equal(dataEvents(beats.text).length, 1, 'one state event, the current one');
      assert.ok(fake.subscribed() >= 1, 'members$ is followed while the client listens');
      beats.abort();
      const deadline = Date.now() + 3000;
      while (fake.subscribed() > 0 && Date.now() < deadline) await sleep(20);
      assert.equal(fake.subscribed(), 0, 'members$ is unsubscribed when the client goes away');

      const ending = readEvents(own.address, '/api/v1/cluster/fake-events/events', () => false, 5000);
      await sleep(200);
      fake.members$.complete();
      const stream = await ending;
      assert.equal(stream.ended, true, 'the stream ends when members$ completes');
    } finally {
      unregisterManager(fake.target);
      await own.close();
    }
  });

  it('carries view, leader, connectivity and recent events into the JSON and the event stream, and leaves out what the manager lacks', { timeout: 10_000 }, async () => {
    const overview$ = new BehaviorSubject<ApiOverview>({
      view: { id: 'abc123', members: ['fake-overview', 'x'], converged: true },
      leader: 'x',
      connectivity: [{ node: 'fake-overview', sees: ['fake-overview', 'x'] }, { node: 'x', sees: ['x'] }],
      events: [{ type: 'join', node: 'x', time: '2026-01-01T00:00:00.000Z' }],
    });
    const fake = fakeTarget('fake-overview', { overview$, overviewNow: () => overview$.value });
    const bare = fakeTarget('fake-bare');
    registerManager(fake.target);
    registerManager(bare.target);
    const own = await ownServer(createApiHandler(fake.target));
    try {
      const data = envelope(await call(own.address, '/api/v1/cluster/fake-overview')).data as Record<string, unknown>;
      assert.deepEqual({ ...data, nodes: undefined, quorum: undefined }, { ...overview$.value, nodes: undefined, quorum: undefined });
      const plain = envelope(await call(own.address, '/api/v1/cluster/fake-bare')).data as Record<string, unknown>;
      assert.deepEqual(Object.keys(plain).sort(), ['nodes', 'quorum'], 'no view, leader, connectivity or events without their streams');

      const live = readEvents(own.address, '/api/v1/cluster/fake-overview/events', (text) => text.includes('"leader":"y"') && text.includes('"reason":"timeout"'), 5000);
      await sleep(200);
      overview$.next({ ...overview$.value, leader: 'y' });
      overview$.next({ ...overview$.value, events: [...(overview$.value.events ?? []), { type: 'leave', node: 'y', time: '2026-01-01T00:00:01.000Z', reason: 'timeout' }] });
      const followed = await live;
      followed.abort();
      assert.equal(dataEvents(followed.text).length, 2, 'the state before and after the new leader');
      // a new client gets the current state and list at once
      const done = await readEvents(own.address, '/api/v1/cluster/fake-overview/events', (text) => text.includes('"leader":"y"') && text.includes('"reason":"timeout"'), 5000);
      done.abort();
      const states = dataEvents(done.text) as unknown as Record<string, unknown>[];
      assert.equal(states.length, 1);
      assert.deepEqual(states[0]?.['view'], { id: 'abc123', members: ['fake-overview', 'x'], converged: true });
      assert.equal(states[0]?.['leader'], 'y');
      assert.equal(states[0]?.['events'], undefined, 'the recent events travel as their own event, not in every state');
      const lists = done.text.split('\n\n').filter((block) => block.startsWith('event: events\ndata: '));
      assert.equal(lists.length, 1);
      assert.deepEqual((JSON.parse(lists[0]?.slice('event: events\ndata: '.length) ?? '') as { events: unknown[] }).events.length, 2);
    } finally {
      unregisterManager(fake.target);
      unregisterManager(bare.target);
      await own.close();
    }
  });

  it('keeps the last RECENT_EVENTS membership events', async () => {
    const membership$ = new Subject<{ type: string; node: string; time: Date; reason?: string }>();
    const lists: (readonly ApiMembershipEvent[])[] = [];
    recentEvents(membership$, 3).subscribe((list) => lists.push(list));
    for (let i = 0; i < 5; i++) membership$.next({ type: i % 2 === 0 ? 'join' : 'leave', node: `n${i}`, time: new Date(i * 1000), ...(i % 2 === 0 ? {} : { reason: 'lost' }) });
    assert.deepEqual(lists[0], []);
    assert.deepEqual(lists.at(-1), [
      { type: 'join', node: 'n2', time: '1970-01-01T00:00:02.000Z' },
      { type: 'leave', node: 'n3', time: '1970-01-01T00:00:03.000Z', reason: 'lost' },
      { type: 'join', node: 'n4', time: '1970-01-01T00:00:04.000Z' },
    ]);
    assert.equal(RECENT_EVENTS, 50);
  });

  it('limits open event streams', { timeout: 10_000 }, async () => {
    const fake = fakeTarget('fake-limit');
    registerManager(fake.target);
    const own = await ownServer(createApiHandler(fake.target, { maxEventStreams: 1 }));
    try {
      const one = await readEvents(own.address, '/api/v1/cluster/fake-limit/events', (text) => dataEvents(text).length >= 1);
      assertFailure(await call(own.address, '/api/v1/cluster/fake-limit/events'), 503, /too many event streams/, 'second stream');
      one.abort();
      const deadline = Date.now() + 3000;
      let status = 0;
      while (Date.now() < deadline) {
        const again = await readEvents(own.address, '/api/v1/cluster/fake-limit/events', (text) => dataEvents(text).length >= 1).catch(() => undefined);
        status = again?.status ?? 0;
        again?.abort();
        if (status === 200) break;
        await sleep(50);
      }
      assert.equal(status, 200, 'a closed stream frees its place');
    } finally {
      unregisterManager(fake.target);
      await own.close();
    }
  });

  it('answers a 500 envelope when the manager itself throws, and keeps serving', { timeout: 10_000 }, async () => {
    const fake = fakeTarget('fake-faulty', {
      membersNow: () => {
        throw new Error('boom');
      },
      verifyApiToken: () => {
        throw new Error('boom');
      },
      issueApiToken: () => {
        throw new Error('boom');
      },
    });
    registerManager(fake.target);
    const own = await ownServer(createApiHandler(fake.target));
    try {
      const answer = await call(own.address, '/api/v1/cluster/fake-faulty');
      assertFailure(answer, 500, /^internal error$/, 'a throwing membersNow');
      assert.ok(!answer.text.includes('boom'), 'the fault itself is not echoed');
      assertFailure(
        await call(own.address, '/api/v1/cluster/fake-faulty/admin/b/x', { method: 'POST', headers: { authorization: 'Bearer a.b.c' } }),
        500,
        /^internal error$/,
        'a throwing verifyApiToken',
      );
      assertFailure(await call(own.address, '/api/v1/login', json({ username: 'u', password: PASSWORD })), 500, /^internal error$/, 'a throwing issueApiToken (after the body was read)');
      assert.equal((await call(own.address, '/api/v1/cluster')).status, 200, 'still serving');
    } finally {
      unregisterManager(fake.target);
      await own.close();
    }
  });
});
