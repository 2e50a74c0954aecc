/**
 * Property tests (fast-check, fixed seed): random and mutated input at every
 * stage of a connection, against ONE real manager A with a real joined peer
 * B. Each property predicts, with an oracle written apart from src/protocol
 * (test/support/fuzz.ts), exactly what A must do with each message: answer
 * the next handshake step, deliver it, or close that one client with which
 * code. The handshake is protocol 2: any well-formed hello gets the same bare
 * challenge; the caller's name and `to` are judged only after its proof.
 * Throughout, A logs no `error` entry, nothing reaches
 * `uncaughtException`, and B stays Online on both sides.
 *
 * Re-run a failure with its seed: RXC_PROPS_SEED=<seed> node --import tsx --test test/props.test.ts
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { concat, defer as deferred, filter, from } from 'rxjs';
import { CLOSE, CODES, HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION } from '../src/limits.js';
import type { LogEntry } from '../src/log.js';
import type { Packet } from '../src/packet.js';
import { decodeFrame, encodeMsg } from '../src/protocol/frames.js';
import { handshakeProof } from '../src/protocol/handshake.js';
import { stretchSecret } from '../src/protocol/keyring.js';
import { fastOptions, first, joinedAll, logText, SECRET, sleep, startNode, type Node, membersNow } from './support/cluster.js';
import { authOf, isChallenge, isWelcome, RawClient, nonce, rawHello, rawJoin, type Welcome } from './support/raw.js';
import {
  anyValidFrame,
  applyMutations,
  authFrame,
  AUTH_KEYS,
  bytesOf,
  carrier,
  carry,
  classify,
  classifyText,
  faultCode,
  frameTypeOf,
  garbage,
  helloFrame,
  hex64,
  HELLO_KEYS,
  millis,
  msgData,
  MSG_KEYS,
  mutation,
  nodeName,
  PING_KEYS,
  type Carrier,
  type Mutation,
  type Outgoing,
  type Verdict,
} from './support/fuzz.js';

/** The seed of every property here; printed with each result and in every failure report. */
const SEED = Number(process.env['RXC_PROPS_SEED'] ?? 20_251_125);
/** A's maxPayload: small, so that long strings pass it now and then. */
const MAX_PAYLOAD = 32 * 1024;
/** The largest frame A reads before the sender proved the secret. */
const PRE_AUTH_LIMIT = Math.min(MAX_PAYLOAD, HANDSHAKE_MAX_FRAME);
/**
 * The names configured on A. B is connected: a caller that proves the secret
 * as B with an older incarnation (0) is welcomed, then refused; R is free.
 */
const CONFIGURED = new Set(['B', 'R']);
/** A secret A does not have. */
const WRONG_SECRET = `not-${SECRET}`;

/**
 * Runs a property with the file's seed, a bounded number of runs and a time
 * budget; fails with fast-check's report (seed and counterexample) and
 * asserts that enough runs happened to mean something.
 */
async function holds<Ts extends [unknown, ...unknown[]]>(
  t: TestContext,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  { numRuns, budget, minRuns = Math.ceil(numRuns / 2) }: { numRuns: number; budget: number; minRuns?: number },
): Promise<void> {
  const started = performance.now();
  const details = await fc.check(property as fc.IAsyncPropertyWithHooks<Ts>, { seed: SEED, numRuns, interruptAfterTimeLimit: budget, timeout: 10_000, includeErrorInReport: true });
  const ms = performance.now() - started;
  t.diagnostic(`seed ${SEED}: ${details.numRuns} runs (${details.numSkips} skipped) in ${ms.toFixed(0)} ms${details.interrupted ? ' (interrupted by the time budget)' : ''}`);
  if (details.failed) throw new Error(`property failed (seed ${SEED}; re-run with RXC_PROPS_SEED=${SEED}):\n${fc.defaultReportMessage(details) ?? ''}`);
  assert.ok(details.numRuns >= minRuns, `only ${details.numRuns} runs within ${budget} ms (seed ${SEED}); at least ${minRuns} expected`);
}

// ---------------------------------------------------------------------------
// pure properties

describe('decodeFrame and encodeMsg (pure properties)', () => {
  it('never throws on any string, and returns an Either that agrees with the wire contract', { timeout: 30_000 }, async (t) => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ maxLength: 200, unit: 'binary' }),
      fc.json({ maxDepth: 4 }),
      anyValidFrame.map((f) => JSON.stringify(f)),
      fc.record({ frame: anyValidFrame, mutations: fc.array(mutation([...HELLO_KEYS, ...MSG_KEYS, ...PING_KEYS, ...AUTH_KEYS]), { minLength: 1, maxLength: 3 }) }).map(({ frame, mutations }) => applyMutations(frame, mutations)),
    );
    await holds(t, fc.property(text, (s) => {
      const decoded = decodeFrame(s);
      assert.ok(isLeft(decoded) || isRight(decoded), 'an Either');
      const verdict = classifyText(s);
      if (verdict.kind === 'frame') {
        assert.ok(isRight(decoded), `a ${verdict.type} frame by the contract was refused: ${isLeft(decoded) ? decoded.left : ''}`);
        assert.equal(decoded.right.type, verdict.type);
      } else {
        assert.ok(isLeft(decoded), `accepted what the contract refuses (${verdict.kind}): ${s.slice(0, 200)}`);
        assert.equal(typeof decoded.left, 'string');
        assert.ok(decoded.left.length <= 1000, 'the reason is short');
      }
    }), { numRuns: 5000, budget: 15_000 });
  });

  it('never throws on any bytes (decoded as UTF-8), and agrees with the contract', { timeout: 30_000 }, async (t) => {
    await holds(t, fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      const decoded = decodeFrame(buffer);
      assert.ok(isLeft(decoded) || isRight(decoded), 'an Either');
      assert.equal(isRight(decoded), classifyText(buffer.toString('utf8')).kind === 'frame');
    }), { numRuns: 2000, budget: 10_000 });
  });

  it('round-trips any JSON value through encodeMsg and decodeFrame', { timeout: 30_000 }, async (t) => {
    await holds(t, fc.property(nodeName, millis, msgData, (name, time, data) => {
      const decoded = decodeFrame(encodeMsg(name, time, data));
      if (!isRight(decoded)) assert.fail(`refused its own msg: ${decoded.left}`);
      assert.equal(decoded.right.type, 'msg');
      if (decoded.right.type !== 'msg') return;
      assert.equal(decoded.right.from, name);
      assert.equal(decoded.right.time, time);
      assert.deepEqual(decoded.right.data, JSON.parse(JSON.stringify(data)));
    }), { numRuns: 1000, budget: 10_000 });
  });
});

// ---------------------------------------------------------------------------
// one real manager A, its real peer B, and a raw client per run

describe('one manager under random input from raw ws clients', () => {
  let a: Node | undefined;
  let b: Node | undefined;
  const events: string[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    uncaught.push(error);
  };

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    a = await startNode('A', fastOptions({ maxPayload: MAX_PAYLOAD }));
    b = await startNode('B');
    for (const node of [a, b]) {
      const name = node.manager.name;
      node.manager.nodeJoin$.subscribe((peer) => events.push(`${name}+${peer}`));
      node.manager.nodeLeave$.subscribe((peer) => events.push(`${name}-${peer}`));
    }
    a.manager.addNode('B', b.address);
    b.manager.addNode('A', a.address);
    a.manager.addNode('R', '127.0.0.1:1'); // configured, never reachable: R only ever comes from a raw client
    await joinedAll([a, b]);
  }, { timeout: 15_000 });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await Promise.all([a?.manager.shutdown(), b?.manager.shutdown()]);
  }, { timeout: 15_000 });

  function nodes(): { a: Node; b: Node } {
    if (a === undefined || b === undefined) throw new Error('the cluster did not start');
    return { a, b };
  }

  /** A did not crash or log an error; B never left and is Online on both sides. */
  function healthy(where: string): void {
    const { a: na, b: nb } = nodes();
    assert.deepEqual(uncaught.map(String), [], `uncaughtException/unhandledRejection ${where}`);
    const errors = na.logs.filter((e) => e.level === 'error').map(String);
    assert.deepEqual(errors, [], `A logged an error ${where}`);
    const bLeft = events.filter((e) => e === 'A-B' || e === 'B-A');
    assert.deepEqual(bLeft, [], `B was disturbed ${where}; A's log:\n${logText(na)}`);
    assert.equal(membersNow(na.manager).get('B')?.status, 'Online', `B Online on A ${where}`);
    assert.equal(membersNow(nb.manager).get('A')?.status, 'Online', `A Online on B ${where}`);
  }

  /** Polls until `predicate` holds, or rejects after `ms`. */
  async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = performance.now() + ms;
    while (!predicate()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(2);
    }
  }

  /** Waits until A holds no link to R any more (so the next run's R is not refused as another instance). */
  function rGone(): Promise<void> {
    const { a: na } = nodes();
    return until(() => membersNow(na.manager).get('R')?.status === 'Offline', 3000, `R Offline on A; A's log:\n${logText(na)}`);
  }

  /** The first entry of A's log from index `since` on with `code`, already there or to come. */
  function loggedSince(since: number, code: string, ms = 2000): Promise<LogEntry> {
    const { a: na } = nodes();
    return first(
      concat(deferred(() => from(na.logs.slice(since))), na.manager.log$),
      (entry) => entry.code === code,
      ms,
      `A to log ${code}; A's log:\n${logText(na)}`,
    );
  }

  function send(client: RawClient, out: Outgoing): void {
    // (with its MAC once the client has joined: the frames under test are what is behind it)
    client.sendFrame(out.payload, out.binary);
  }

  /** The code A logs for a fault verdict. */
  function logCode(verdict: Verdict): string {
    return verdict.kind === 'tooBig' ? CODES.FRAME_TOO_BIG : CODES.BAD_FRAME;
  }

  /**
   * What A must do with the first message of a connection: send a challenge,
   * or close with a code (and log a code). Whatever name a well-formed hello
   * claims and whomever it names in `to`, the answer is the same challenge:
   * only the protocol version is checked before the caller proved the secret.
   */
  function firstFrameOutcome(verdict: Verdict): 'challenge' | { close: number; code: string } {
    const fault = faultCode(verdict);
    if (fault !== undefined || verdict.kind !== 'frame') return { close: fault ?? CLOSE.PROTOCOL_ERROR, code: logCode(verdict) };
    if (verdict.type !== 'hello') return { close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME };
    if (verdict.frame['version'] !== PROTOCOL_VERSION) return { close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED };
    return 'challenge';
  }

  /**
   * What A must do with a valid auth after the challenge to a hello claiming
   * `name` and naming `to`, proved with the right secret or not: the proof is
   * checked first (a wrong one is refused as AUTH whatever the names), then
   * `to`, the own name and the configuration (each refused alike, as
   * PEER_REFUSED), then the fold: B, connected, claimed from an older
   * process, is welcomed and then refused; R is welcomed and stays.
   */
  function authOutcome(name: string, to: string, rightSecret: boolean): 'welcome' | 'welcomeThenRefused' | { close: number; code: string } {
    if (!rightSecret) return { close: CLOSE.POLICY_VIOLATION, code: CODES.AUTH };
    if (to !== 'A' || name === 'A' || !CONFIGURED.has(name)) return { close: CLOSE.POLICY_VIOLATION, code: CODES.PEER_REFUSED };
    return name === 'B' ? 'welcomeThenRefused' : 'welcome';
  }

  /** A's instance and incarnation, from its first welcome: every welcome must carry the same. */
  let aIdentity: { instance: string; incarnation: number } | undefined;
  function checkWelcome(frame: unknown, acceptorProof: string): Welcome {
    assert.ok(isWelcome(frame), `a welcome with exactly type, proof, instance and incarnation: ${JSON.stringify(frame).slice(0, 300)}`);
    assert.equal(frame.proof, acceptorProof, "the welcome carries A's proof for this transcript");
    aIdentity ??= { instance: frame.instance, incarnation: frame.incarnation };
    assert.deepEqual({ instance: frame.instance, incarnation: frame.incarnation }, aIdentity, "A's instance and incarnation are the same in every welcome");
    assert.ok(frame.incarnation <= Date.now(), "A's incarnation is its start time, not in the future");
    return frame;
  }

  /** How often each outcome was expected, per property (so a property that never reaches an outcome shows). */
  let tally = new Map<string, number>();
  function counted(outcome: string): void {
    tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
  }
  function takeTally(): Record<string, number> {
    const out = Object.fromEntries([...tally].sort());
    tally = new Map();
    return out;
  }

  /** The client was closed with the expected code (1008 always with the bare reason 'refused'), nothing sent back first, and A logged the code. */
  async function closedAsExpected(client: RawClient, expected: { close: number; code: string }, since: number, verdict?: Verdict): Promise<void> {
    const what = verdict === undefined ? 'an auth' : verdict.kind === 'frame' ? `a ${verdict.type} frame` : verdict.kind;
    const closed = await client.waitClosed(3000);
    assert.equal(closed.code, expected.close, `close code for ${what} (reason "${closed.reason}")`);
    if (expected.close === CLOSE.POLICY_VIOLATION) assert.equal(closed.reason, 'refused', 'a refusal tells the caller nothing but "refused"');
    assert.equal(client.pending, 0, 'nothing was sent back before the close');
    const entry = await loggedSince(since, expected.code);
    assert.equal(entry.level, 'warn', String(entry));
  }

  /** Opens a client, sends `out` first, and checks A's answer against the oracle. */
  async function firstMessage(out: Outgoing): Promise<void> {
    const { a: na } = nodes();
    const verdict = classify(out, PRE_AUTH_LIMIT);
    const expected = firstFrameOutcome(verdict);
    counted(expected === 'challenge' ? 'challenge' : String(expected.close));
    const since = na.logs.length;
    const client = await RawClient.open(na.address);
    try {
      send(client, out);
      if (expected === 'challenge') {
        const challenge = await client.next(3000, 'a challenge');
        assert.ok(isChallenge(challenge), `a bare challenge (type, version, nonce only) for verdict ${verdict.kind}: ${JSON.stringify(challenge)}`);
      } else {
        await closedAsExpected(client, expected, since, verdict);
      }
    } finally {
      client.destroy();
    }
    healthy(`after ${bytesOf(out).length} bytes as the first message`);
  }

  it('closes only the client whose first message is random bytes or a random string', { timeout: 40_000 }, async (t) => {
    takeTally();
    await holds(t, fc.asyncProperty(garbage, firstMessage), { numRuns: 200, budget: 20_000 });
    const outcomes = takeTally();
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
    for (const code of ['1002', '1007']) assert.ok((outcomes[code] ?? 0) > 0, `no run closed with ${code}`);
    healthy('after the property');
  });

  it('answers a mutated hello as the contract says: 1002, 1007, 1008 (version) or 1009, else a bare challenge; then refuses a wrong proof as AUTH whatever the names, and judges `to` and the name only after a valid proof', { timeout: 60_000 }, async (t) => {
    const { a: na } = nodes();
    const mutatedHello = fc
      .record({
        // R configured and free, B configured and connected, A itself, two unknown names; `to` mostly A
        name: fc.constantFrom('R', 'R', 'B', 'A', 'mallory', 'é'.repeat(100)),
        to: fc.constantFrom('A', 'A', 'A', 'C'),
        nonce: hex64,
        mutations: fc.array(mutation(HELLO_KEYS), { minLength: 0, maxLength: 3 }),
        how: carrier,
        rightSecret: fc.boolean(),
      })
      .map(({ name, to, nonce: n, mutations, how, rightSecret }) => ({ out: carry(applyMutations(helloFrame(name, to, n), mutations), how), rightSecret }));
    takeTally();
    await holds(t, fc.asyncProperty(mutatedHello, async ({ out, rightSecret }) => {
      const verdict = classify(out, PRE_AUTH_LIMIT);
      const first = firstFrameOutcome(verdict);
      if (first !== 'challenge' || verdict.kind !== 'frame') {
        await firstMessage(out);
        return;
      }
      const f = verdict.frame;
      const name = f['name'] as string;
      const to = f['to'] as string;
      const expected = authOutcome(name, to, rightSecret);
      counted(typeof expected === 'string' ? `challenge, ${expected}` : `challenge, ${expected.close} ${expected.code}`);
      const since = na.logs.length;
      const client = await RawClient.open(na.address, { autoPong: true });
      try {
        send(client, out);
        const challenge = await client.next(3000, 'a challenge');
        if (!isChallenge(challenge)) assert.fail(`a bare challenge (type, version, nonce only): ${JSON.stringify(challenge)}`);
        const transcript = { dialer: name, acceptor: to, dialerNonce: f['nonce'] as string, acceptorNonce: challenge.nonce };
        // after the welcome, frames and the close's reason carry the session's MACs
        if (typeof expected === 'string') client.armFrameAuth(SECRET, transcript);
        // B claimed from an older process (incarnation 0) than the B connected now
        client.send(authOf(handshakeProof(stretchSecret(rightSecret ? SECRET : WRONG_SECRET), 'dialer', transcript), nonce(), name === 'B' ? 0 : Date.now()));
        if (typeof expected === 'object') {
          await closedAsExpected(client, expected, since);
        } else {
          checkWelcome(await client.next(3000, 'the welcome'), handshakeProof(stretchSecret(SECRET), 'acceptor', transcript));
          if (expected === 'welcomeThenRefused') {
            const closed = await client.waitClosed(3000);
            assert.deepEqual([closed.code, closed.reason], [CLOSE.POLICY_VIOLATION, 'refused'], 'an older B is refused after the welcome');
            const entry = await loggedSince(since, CODES.PEER_REFUSED);
            assert.deepEqual([entry.level, entry.node], ['warn', 'B'], String(entry));
          } else {
            await sleep(5);
            assert.ok(client.isOpen, 'R stays connected');
          }
        }
      } finally {
        client.destroy();
      }
      if (expected === 'welcome') await rGone();
      healthy(`after a hello as ${JSON.stringify(name).slice(0, 40)} to ${JSON.stringify(to).slice(0, 40)}`);
    }), { numRuns: 300, budget: 35_000 });
    const outcomes = takeTally();
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
    const reached = ['1002', '1007', '1008', '1009', 'challenge, welcome', 'challenge, welcomeThenRefused', `challenge, 1008 ${CODES.AUTH}`, `challenge, 1008 ${CODES.PEER_REFUSED}`];
    for (const outcome of reached) assert.ok((outcomes[outcome] ?? 0) > 0, `no run reached ${outcome}`);
    healthy('after the property');
  });

  it('answers a mutated or forged auth, or any other frame, after a valid hello from R exactly as the contract says (welcome, 1002, 1007, 1008 refused or 1009)', { timeout: 40_000 }, async (t) => {
    type Second =
      | { readonly kind: 'mutatedAuth'; readonly mutations: readonly Mutation[]; readonly how: Carrier }
      | { readonly kind: 'forged'; readonly how: 'acceptorProof' | 'wrongSecret' | 'swappedNames' | 'oldNonce' | 'upperCase' }
      | { readonly kind: 'frame'; readonly frame: Record<string, unknown>; readonly how: Carrier }
      | { readonly kind: 'garbage'; readonly out: Outgoing };
    const second: fc.Arbitrary<Second> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ mutations: fc.array(mutation(AUTH_KEYS), { minLength: 0, maxLength: 3 }), how: carrier }).map((r): Second => ({ kind: 'mutatedAuth', ...r })) },
      { weight: 1, arbitrary: fc.constantFrom('acceptorProof', 'wrongSecret', 'swappedNames', 'oldNonce', 'upperCase' as const).map((how): Second => ({ kind: 'forged', how })) },
      { weight: 2, arbitrary: fc.record({ frame: anyValidFrame, how: carrier }).map((r): Second => ({ kind: 'frame', ...r })) },
      { weight: 1, arbitrary: garbage.map((out): Second => ({ kind: 'garbage', out })) },
    );
    let welcomed = 0;
    takeTally();
    await holds(t, fc.asyncProperty(second, async (s) => {
      const { a: na } = nodes();
      const half = await rawHello(na.address, 'R', 'A', SECRET);
      const { client, transcript, proof } = half;
      const since = na.logs.length;
      const instance = nonce();
      try {
        let out: Outgoing;
        switch (s.kind) {
          case 'mutatedAuth':
            out = carry(applyMutations(authFrame(proof, instance, Date.now()), s.mutations), s.how);
            break;
          case 'forged': {
            const forged = {
              // the acceptor's own proof, reflected back at it
              acceptorProof: half.acceptorProof,
              wrongSecret: handshakeProof(stretchSecret(`not-${SECRET}`), 'dialer', transcript),
              swappedNames: handshakeProof(stretchSecret(SECRET), 'dialer', { ...transcript, dialer: 'A', acceptor: 'R' }),
              oldNonce: handshakeProof(stretchSecret(SECRET), 'dialer', { ...transcript, acceptorNonce: nonce() }),
              upperCase: proof.toUpperCase(),
            }[s.how];
            out = { payload: JSON.stringify(authFrame(forged, instance, Date.now())), binary: false };
            break;
          }
          case 'frame':
            out = carry(JSON.stringify(s.frame), s.how);
            break;
          case 'garbage':
            out = s.out;
            break;
        }
        const verdict = classify(out, PRE_AUTH_LIMIT);
        const fault = faultCode(verdict);
        let expected: 'welcome' | { close: number; code: string };
        if (fault !== undefined || verdict.kind !== 'frame') expected = { close: fault ?? CLOSE.PROTOCOL_ERROR, code: logCode(verdict) };
        else if (verdict.type !== 'auth') expected = { close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME };
        else if (verdict.frame['proof'] !== proof) expected = { close: CLOSE.POLICY_VIOLATION, code: CODES.AUTH };
        else expected = 'welcome';
        counted(expected === 'welcome' ? 'welcome' : String(expected.close));

        send(client, out);
        if (expected === 'welcome') {
          checkWelcome(await client.next(3000, 'the welcome'), half.acceptorProof);
          welcomed++;
        } else {
          await closedAsExpected(client, expected, since, verdict);
        }
      } finally {
        client.destroy();
      }
      await rGone();
      healthy('after the second message of a handshake');
    }), { numRuns: 200, budget: 25_000 });
    const outcomes = takeTally();
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}; ${welcomed} runs sent a valid auth (unmutated, or mutated into a still valid one)`);
    for (const outcome of ['welcome', '1002', '1007', '1008']) assert.ok((outcomes[outcome] ?? 0) > 0, `no run reached ${outcome}`);
    healthy('after the property');
  });

  it('after a correct handshake, delivers every valid frame and closes R at the first malformed one, never disturbing B', { timeout: 50_000 }, async (t) => {
    const { a: na } = nodes();
    const validMsg = fc.record({ from: nodeName, time: millis, data: msgData, how: carrier.filter((c) => c.as !== 'brokenText') }).map(({ from: f, time, data, how }) => carry(JSON.stringify({ type: 'msg', from: f, time, data }), how));
    const validPing = millis.map((id): Outgoing => ({ payload: JSON.stringify({ type: 'ping', id }), binary: false }));
    const validPong = millis.map((id): Outgoing => ({ payload: JSON.stringify({ type: 'pong', id }), binary: false }));
    const mutatedOf = (base: fc.Arbitrary<Record<string, unknown>>, keys: readonly string[]): fc.Arbitrary<Outgoing> =>
      fc
        .record({ base, mutations: fc.array(mutation(keys), { minLength: 1, maxLength: 3 }), how: carrier })
        .map(({ base: frame, mutations, how }) => carry(applyMutations(frame, mutations), how));
    const mutated = fc.oneof(
      mutatedOf(fc.record({ from: nodeName, time: millis, data: msgData }).map((f) => ({ type: 'msg', ...f })), MSG_KEYS),
      mutatedOf(millis.map((id) => ({ type: 'ping', id })), PING_KEYS),
      mutatedOf(millis.map((id) => ({ type: 'pong', id })), PING_KEYS),
    );
    const step: fc.Arbitrary<Outgoing> = fc.oneof(
      { weight: 5, arbitrary: validMsg },
      { weight: 2, arbitrary: validPing },
      { weight: 1, arbitrary: validPong },
      { weight: 4, arbitrary: mutated },
      { weight: 1, arbitrary: garbage },
      { weight: 1, arbitrary: fc.record({ frame: anyValidFrame, how: carrier }).map(({ frame, how }) => carry(JSON.stringify(frame), how)) },
      { weight: 1, arbitrary: fc.constant<Outgoing>({ payload: '{"type":"leave"}', binary: false }) },
    );
    const SENTINEL = 4_242_424_242;
    takeTally();
    let delivered = 0;
    let closedRuns = 0;

    await holds(t, fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
      const countBefore = membersNow(na.manager).get('R')?.packets ?? 0;
      const client = await rawJoin(na.address, 'R', 'A', SECRET, { autoPong: true });
      const got: Packet[] = [];
      const subscription = na.manager.fromCluster$.pipe(filter((p) => p.name === 'R')).subscribe((p) => got.push(p));
      const since = na.logs.length;
      try {
        const expectedData: unknown[] = [];
        const expectedTimes: number[] = [];
        const expectedPongs: number[] = [];
        let end: { close: number; code?: string } | undefined;
        for (const out of steps) {
          send(client, out);
          const verdict = classify(out, MAX_PAYLOAD, true);
          const fault = faultCode(verdict);
          if (fault !== undefined || verdict.kind !== 'frame') {
            end = { close: fault ?? CLOSE.PROTOCOL_ERROR, code: logCode(verdict) };
            break;
          }
          const f = verdict.frame;
          if (verdict.type === 'msg') {
            expectedData.push(f['data']);
            expectedTimes.push((f['time'] as number) + 0); // a Date holds no -0
          } else if (verdict.type === 'ping') {
            expectedPongs.push((f['id'] as number) + 0); // -0 comes back as 0 (JSON)
          } else if (verdict.type === 'pong') {
            // a lag sample: nothing to see from outside
          } else if (verdict.type === 'leave') {
            end = { close: CLOSE.NORMAL };
            break;
          } else if (['req', 'res', 'chan', 'meta'].includes(verdict.type)) {
            // live frames that never reach fromCluster$: a request nobody answers, a
            // reply to no request (dropped), a channel message, a metadata update
          } else {
            end = { close: CLOSE.PROTOCOL_ERROR, code: CODES.BAD_FRAME }; // a handshake frame out of stage
            break;
          }
        }
        counted(end === undefined ? 'open' : String(end.close));
        if (end === undefined) {
          send(client, { payload: JSON.stringify({ type: 'ping', id: SENTINEL }), binary: false });
          expectedPongs.push(SENTINEL);
        }
        const pongs: number[] = [];
        while (pongs.length < expectedPongs.length) {
          const frame = (await client.next(3000, `pong ${pongs.length + 1} of ${expectedPongs.length}`)) as { type?: unknown; id?: unknown };
          assert.equal(frame.type, 'pong', `A sent R something else: ${JSON.stringify(frame).slice(0, 200)}`);
          pongs.push(frame.id as number);
        }
        assert.deepEqual(pongs, expectedPongs, 'each ping answered with its id, in order');
        if (end !== undefined) {
          const closed = await client.waitClosed(3000);
          closedRuns++;
          assert.equal(closed.code, end.close, `close code (reason "${closed.reason}")`);
          if (end.code !== undefined) {
            const entry = await loggedSince(since, end.code);
            assert.equal(entry.level, 'warn', String(entry));
          }
        } else {
          assert.ok(client.isOpen, 'R is still connected after only valid frames');
        }
        assert.equal(got.length, expectedData.length, 'every valid msg delivered once, no other');
        assert.deepEqual(got.map((p) => p.message()), expectedData, 'the data as sent (after a JSON round trip)');
        assert.deepEqual(got.map((p) => p.time.getTime()), expectedTimes, "each packet's time is the frame's");
        delivered += got.length;
      } finally {
        subscription.unsubscribe();
        client.destroy();
      }
      await rGone();
      assert.equal((membersNow(na.manager).get('R')?.packets ?? 0) - countBefore, got.length, "A's packet counter for R grew by the packets delivered");
      healthy('after a session of random frames');
    }), { numRuns: 200, budget: 30_000 });
    const outcomes = takeTally();
    t.diagnostic(`${delivered} msgs delivered; ${closedRuns} sessions ended by A (malformed, out of stage or leave); session ends: ${JSON.stringify(outcomes)}`);
    assert.ok(delivered > 0, 'some msgs were delivered');
    for (const outcome of ['open', '1000', '1002', '1007', '1009']) assert.ok((outcomes[outcome] ?? 0) > 0, `no run reached ${outcome}`);
    healthy('after the property');
  });

  it('delivers a msg nested deeper than JSON.stringify can go with a usable packet, or refuses it', { timeout: 15_000 }, async () => {
    const { a: na } = nodes();
    const depth = 12_000; // 24 KB of brackets: under MAX_PAYLOAD (32 KiB), let alone the default 1 MiB
    const text = `{"type":"msg","from":"R","time":1,"data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    assert.ok(Buffer.byteLength(text) < MAX_PAYLOAD);
    const client = await rawJoin(na.address, 'R', 'A', SECRET, { autoPong: true });
    let received: Packet | undefined;
    const subscription = na.manager.fromCluster$.pipe(filter((p) => p.name === 'R')).subscribe((p) => {
      received = p;
    });
    try {
      client.send(text);
      client.send({ type: 'ping', id: 7 });
      const answer = await Promise.race([client.next(3000, 'the pong'), client.waitClosed(3000)]);
      if (received !== undefined) {
        const packet = received;
        assert.equal(packet.dataType, 'array');
        // the Packet API must not throw on what the network delivered
        assert.doesNotThrow(() => packet.dataMessage, 'packet.dataMessage throws on a delivered packet');
        assert.doesNotThrow(() => JSON.stringify(packet), 'JSON.stringify(packet) throws on a delivered packet');
      } else {
        assert.equal((answer as { code?: unknown }).code, CLOSE.PROTOCOL_ERROR, 'refused as a bad frame');
      }
    } finally {
      subscription.unsubscribe();
      client.destroy();
    }
    await rGone();
    healthy('after a deeply nested msg');
  });
});

// A sanity check of the oracle on hand-picked frames, so that a wrong oracle cannot make the properties vacuous.
describe('the test oracle', () => {
  it('classifies hand-picked frames as the codec does', { timeout: 5000 }, () => {
    const n = 'a'.repeat(64);
    const cases: [string, string | undefined][] = [
      [JSON.stringify(helloFrame('R', 'A', n)), 'hello'],
      ['{"type":"hello","version":2.0,"name":"R","to":"A","nonce":"' + n + '"}', 'hello'],
      ['{"type":"hello","version":1.5,"name":"R","to":"A","nonce":"' + n + '"}', undefined],
      ['{"type":"hello","version":2,"name":"R","nonce":"' + n + '","instance":"' + n + '"}', undefined], // protocol 1's hello: no `to`
      [JSON.stringify(helloFrame('R', 'A', n.toUpperCase())), undefined],
      ['{"type":"challenge","version":2,"nonce":"' + n + '"}', 'challenge'],
      ['{"type":"challenge","version":2}', undefined],
      [JSON.stringify(authFrame(n, n, 0)), 'auth'],
      [JSON.stringify(authFrame(n, n, 8_640_000_000_000_000)), 'auth'],
      [JSON.stringify(authFrame(n, n, -1)), undefined],
      [JSON.stringify(authFrame(n, n, 1.5)), undefined],
      [JSON.stringify(authFrame(n, n.toUpperCase(), 1)), undefined],
      ['{"type":"auth","proof":"' + n + '"}', undefined], // protocol 1's auth: no instance, no incarnation
      ['{"type":"welcome","proof":"' + n + '","instance":"' + n + '","incarnation":1e3,"meta":{}}', 'welcome'],
      ['{"type":"welcome","proof":"' + n + '","instance":"' + n + '","incarnation":1e3}', undefined], // no metadata
      ['{"type":"req","id":1,"from":"R","time":0,"data":[1]}', 'req'],
      ['{"type":"res","id":1,"from":"R","time":0}', undefined],
      ['{"type":"chan","ch":"","from":"R","time":0,"data":1}', undefined],
      ['{"type":"chan","ch":"orders","from":"R","time":0,"data":1}', 'chan'],
      ['{"type":"meta","data":{"role":"x"}}', 'meta'],
      ['{"type":"meta","data":[]}', undefined],
      ['{"type":"welcome","proof":"' + n + '","instance":"' + n + '"}', undefined],
      ['{"type":"msg","from":"R","time":-0,"data":null}', 'msg'],
      ['{"type":"msg","from":"R","time":0}', undefined],
      ['{"type":"ping","id":8640000000000001}', undefined],
      ['{"type":"ping","id":1e3}', 'ping'],
      ['[{"type":"leave"}]', undefined],
      ['{"type":"leave","extra":1}', 'leave'],
    ];
    for (const [text, type] of cases) {
      const verdict = classifyText(text);
      assert.equal(verdict.kind === 'frame' ? verdict.type : undefined, type, text.slice(0, 80));
      const decoded = decodeFrame(text);
      assert.equal(isRight(decoded) ? decoded.right.type : undefined, type, `codec: ${text.slice(0, 80)}`);
      assert.equal(frameTypeOf(JSON.parse(text)), type);
    }
  });
});
