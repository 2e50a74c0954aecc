/**
 * A NATS client without the cluster secret, on the same NATS account: it sees
 * every subject and may publish on any. It tries to join, inject a message,
 * forge a leave and replay recorded frames; everything is refused, logged,
 * and nothing reaches the application.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { CODES } from '../src/limits.js';
import { clusterKey, openSealed, pairKeys, seal, sealBatch } from '../src/protocol/frameMac.js';
import { nameToken } from '../src/transport/nats/index.js';
import { fastOptions, first, joinedAll, logText, membersNow, sleep } from './support/cluster.js';
import { natsMesh, type NatsNode } from './support/natsNodes.js';
import { startNatsServer } from './support/natsServer.js';
import { scope } from './support/scope.js';

const PREFIX = 'rxc.sec';
const WRONG = 'not-the-secret-but-32-bytes-long';

describe('NATS: a client without the secret', () => {
  it('can neither join, inject, forge a leave nor replay: all refused and logged, nothing delivered', { timeout: 40_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const raw = await connect({ servers: server.url });
    defer(() => raw.close());
    const recorded: Array<{ subject: string; data: Uint8Array }> = [];
    raw.subscribe(`${PREFIX}.>`, { callback: (_e, m) => void recorded.push({ subject: m.subject, data: new Uint8Array(m.data) }) });
    await raw.flush();

    const nodes = await natsMesh(['a', 'b'], [server.url], fastOptions(), PREFIX);
    defer(async () => Promise.all(nodes.map((n) => n.manager.shutdown())));
    const [a, b] = nodes as [NatsNode, NatsNode];
    a.manager.addNode('mallory');
    await joinedAll(nodes, 8000);
    const packets: unknown[] = [];
    a.manager.fromCluster$.subscribe((p) => packets.push(p.message()));
    const joins: string[] = [];
    a.manager.nodeJoin$.subscribe((n) => joins.push(n));
    // two broadcasts in one tick: one sealed batch
    b.manager.toCluster$.next('legit broadcast');
    b.manager.toCluster$.next('legit broadcast 2');
    b.manager.toNode$.next({ node: 'a', message: 'legit private' });
    await first(a.manager.fromCluster$, (p) => p.message() === 'legit private', 3000, 'the legit messages');
    await sleep(300);
    const legit = ['legit broadcast', 'legit broadcast 2', 'legit private'];
    assert.deepEqual(packets, legit);

    const toA = `${PREFIX}.p.${nameToken('a')}.${nameToken('b')}`;
    const pairFrames = recorded.filter((r) => r.subject === toA && openSealed(r.data)?.kind === 'F');
    const broadcast = recorded.find((r) => r.subject === `${PREFIX}.all` && openSealed(r.data)?.kind === 'M');
    const beat = recorded.find((r) => r.subject === `${PREFIX}.beat` && openSealed(r.data) !== undefined && Buffer.from(r.data).includes('"n":"b"'));
    assert.ok(pairFrames.length >= 3 && broadcast !== undefined && beat !== undefined, 'the eavesdropper recorded pair frames, a batch of broadcasts and a heartbeat');
    // the live connection: the one that carried the private message, the last frame recorded
    const cid = Buffer.from(openSealed(pairFrames.at(-1)!.data)!.id, 'hex');
    const bEpoch = Buffer.from(openSealed(broadcast.data)!.id, 'hex');
    const wrongCluster = clusterKey(WRONG);
    const msg = (text: string): string => JSON.stringify({ type: 'msg', from: 'b', time: Date.now(), data: text });

    // 0. an open of another wire version (a node from before batched broadcasts) is refused, saying why
    const stale = { v: 1, from: 'b', to: 'a', cid: randomBytes(16).toString('hex'), nonce: randomBytes(32).toString('hex'), epoch: randomBytes(16).toString('hex'), floors: [0, 0] };
    const staleAnswer = JSON.parse((await raw.request(`${PREFIX}.hs.${nameToken('a')}`, JSON.stringify(stale), { timeout: 2000 })).string()) as { v: number; refused?: string };
    assert.deepEqual(staleAnswer, { v: 2, refused: 'NATS wire version 2 here, 1 there: run one version on every node' });

    // 1. join as a configured name, with a guessed secret: the open is answered (as a TCP accept would be), the hello is not
    const open = { v: 2, from: 'mallory', to: 'a', cid: randomBytes(16).toString('hex'), nonce: randomBytes(32).toString('hex'), epoch: randomBytes(16).toString('hex'), floors: [0, 0] };
    const answer = JSON.parse((await raw.request(`${PREFIX}.hs.${nameToken('a')}`, JSON.stringify(open), { timeout: 2000 })).string()) as { nonce: string; epoch: string; floors: [number, number] };
    const guessed = pairKeys(WRONG, {
      cid: open.cid, dialer: 'mallory', acceptor: 'a', dialerNonce: open.nonce, acceptorNonce: answer.nonce,
      dialerEpoch: open.epoch, acceptorEpoch: answer.epoch, dialerFloors: [0, 0], acceptorFloors: answer.floors,
    });
    const toAFromMallory = `${PREFIX}.p.${nameToken('a')}.${nameToken('mallory')}`;
    raw.publish(toAFromMallory, seal(guessed.toAcceptor, 'F', Buffer.from(open.cid, 'hex'), 1, JSON.stringify({ type: 'hello', version: 2, name: 'mallory', to: 'a', nonce: open.nonce })));
    raw.publish(toAFromMallory, JSON.stringify({ type: 'hello', version: 2, name: 'mallory', to: 'a', nonce: open.nonce }));
    raw.publish(`${PREFIX}.hs.${nameToken('a')}`, 'garbage');

    // 2. inject a message: as a broadcast of b (its epoch, a fresh seq) and on b's live pair connection
    raw.publish(`${PREFIX}.all`, seal(wrongCluster, 'B', bEpoch, 1_000_000, msg('injected broadcast')));
    raw.publish(`${PREFIX}.all`, sealBatch(wrongCluster, bEpoch, 1_000_002, [Buffer.from(msg('injected batch')), Buffer.from(msg('injected batch 2'))]));
    raw.publish(toA, seal(randomBytes(32), 'F', cid, 1_000_000, msg('injected private')));
    raw.publish(toA, Buffer.concat([Buffer.from(pairFrames.at(-1)!.data.subarray(0, 39)), Buffer.from(msg('spliced'))]));

    // 3. forge b's leave: a close and a leave notice on b's connection, a heartbeat saying b has no connection
    raw.publish(toA, seal(randomBytes(32), 'C', cid, 1_000_001, JSON.stringify({ cause: 'shutdown', reason: 'bye' })));
    raw.publish(toA, seal(randomBytes(32), 'F', cid, 1_000_002, '{"type":"leave"}'));
    raw.publish(`${PREFIX}.beat`, seal(wrongCluster, 'H', bEpoch, 1_000_000, JSON.stringify({ n: 'b', t: Date.now(), p: {} })));

    // 4. replay recorded frames, byte for byte
    for (const r of pairFrames) raw.publish(r.subject, r.data);
    raw.publish(broadcast.subject, broadcast.data);
    raw.publish(beat.subject, beat.data);
    await raw.flush();

    // a's handshake with mallory times out (connectTimeout); b stays joined all along
    await first(a.manager.log$, (e) => e.code === CODES.HANDSHAKE_TIMEOUT, 5000, 'the handshake with mallory to time out').catch(() => undefined);
    await sleep(300);
    assert.deepEqual(packets, legit, 'nothing injected or replayed was delivered');
    assert.deepEqual(joins, [], 'mallory never joined');
    assert.equal(membersNow(a.manager).get('b')?.status, 'Online', 'b is still joined: no forged leave took');
    assert.equal(membersNow(a.manager).get('mallory')?.status !== 'Online', true);
    const stats = a.transport.stats;
    t.diagnostic(`a refused ${stats.forged} forged and ${stats.replayed} replayed frames`);
    assert.ok(stats.forged >= 9, `forged frames counted: ${stats.forged}`);
    // the live connection's recorded frames (at least the private message), the batch, the heartbeat;
    // frames of a connection closed since (the loser of a simultaneous dial) are dropped unread
    assert.ok(stats.replayed >= 3, `replays counted: ${stats.replayed}`);
    assert.equal(stats.lost, 0, 'no sequence gap was opened by the forgeries');
    const codes = new Set(a.logs.map((e) => e.code));
    for (const code of [CODES.FORGED, CODES.REPLAY, CODES.BAD_FRAME, CODES.HANDSHAKE_TIMEOUT]) assert.ok(codes.has(code), `${code} logged\n${logText(a)}`);
    // and b still talks to a
    const after = first(a.manager.fromCluster$, () => true, 3000, 'a broadcast after the attacks');
    b.manager.toCluster$.next('still legit');
    assert.equal((await after).message(), 'still legit');
  });
});
