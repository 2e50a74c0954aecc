import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { batchParts, clusterKey, macHolds, MAX_SEQ, openSealed, pairKeys, seal, sealBatch, SEALED_HEADER_BYTES, type PairOpening } from '../../src/protocol/frameMac.js';
import { checkPrefix, nameToken, Subjects } from '../../src/transport/nats/subjects.js';

const SECRET = 'test-secret-of-32-bytes-length!!';
const opening: PairOpening = {
  cid: 'a'.repeat(32), dialer: 'd', acceptor: 'a', dialerNonce: '1'.repeat(64), acceptorNonce: '2'.repeat(64),
  dialerEpoch: 'e'.repeat(32), acceptorEpoch: 'f'.repeat(32), dialerFloors: [3, 4], acceptorFloors: [5, 6],
};

describe('frameMac', () => {
  it('should seal and open a frame, header fields intact', () => {
    const key = clusterKey(SECRET);
    const id = randomBytes(16);
    const sealed = seal(key, 'B', id, 42, 'hello');
    assert.equal(sealed.length, SEALED_HEADER_BYTES + 5);
    const frame = openSealed(sealed);
    assert.ok(frame !== undefined);
    assert.equal(frame.kind, 'B');
    assert.equal(frame.id, id.toString('hex'));
    assert.equal(frame.seq, 42);
    assert.equal(frame.payload.toString(), 'hello');
    assert.equal(macHolds(key, frame), true);
  });

  it('should refuse a frame under another key, with a changed byte, or of another kind', () => {
    const key = clusterKey(SECRET);
    const id = randomBytes(16);
    const sealed = seal(key, 'B', id, 1, 'payload');
    assert.equal(macHolds(clusterKey('another secret of 32 bytes long!'), openSealed(sealed)!), false, 'another secret');
    for (const at of [0, 1, 17, 22, 23, SEALED_HEADER_BYTES, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] = (bad[at]! ^ (at === 0 ? 0x0a : 0x01)) & 0xff; // at 0: 'B' (0x42) becomes 'H' (0x48)
      const frame = openSealed(bad);
      assert.ok(frame === undefined || !macHolds(key, frame), `byte ${at} changed`);
    }
  });

  it('should seal several broadcasts as one batch under one MAC, and read them back in order', () => {
    const key = clusterKey(SECRET);
    const id = randomBytes(16);
    const parts = [Buffer.from('one'), Buffer.from(''), Buffer.from('three')];
    const sealed = sealBatch(key, id, 9, parts);
    const frame = openSealed(sealed);
    assert.ok(frame !== undefined);
    assert.equal(frame.kind, 'M');
    assert.equal(frame.seq, 9, 'the last broadcast\'s sequence number');
    assert.equal(macHolds(key, frame), true);
    assert.deepEqual(batchParts(frame.payload)?.map(String), ['one', '', 'three']);
    for (const at of [0, SEALED_HEADER_BYTES, SEALED_HEADER_BYTES + 3, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] = (bad[at]! ^ 0x01) & 0xff;
      const changed = openSealed(bad);
      assert.ok(changed === undefined || !macHolds(key, changed), `byte ${at} changed`);
    }
  });

  it('should read no batch whose lengths do not add up, or that holds fewer than two broadcasts', () => {
    const payload = openSealed(sealBatch(clusterKey(SECRET), randomBytes(16), 2, [Buffer.from('ab'), Buffer.from('cd')]))!.payload;
    assert.equal(batchParts(payload.subarray(0, payload.length - 1)), undefined, 'cut short');
    assert.equal(batchParts(Buffer.concat([payload, Buffer.from([0, 0])])), undefined, 'a stray length');
    assert.equal(batchParts(Buffer.concat([payload, Buffer.from([0, 0, 0, 9, 1])])), undefined, 'a length past the end');
    assert.equal(batchParts(payload.subarray(0, 6)), undefined, 'one broadcast');
    assert.equal(batchParts(Buffer.alloc(0)), undefined, 'none');
  });

  it('should read nothing from a short frame or one of no known kind', () => {
    assert.equal(openSealed(Buffer.alloc(SEALED_HEADER_BYTES - 1)), undefined);
    assert.equal(openSealed(Buffer.from(`{"type":"hello"${' '.repeat(40)}}`)), undefined);
  });

  it('should carry the largest sequence number', () => {
    assert.equal(openSealed(seal(clusterKey(SECRET), 'H', randomBytes(16), MAX_SEQ, ''))?.seq, MAX_SEQ);
  });

  it('should derive two pair keys, one per direction, that change with every field of the opening', () => {
    const keys = pairKeys(SECRET, opening);
    assert.notDeepEqual(keys.toAcceptor, keys.toDialer);
    assert.deepEqual(pairKeys(SECRET, opening), keys, 'deterministic');
    const changes: Array<Partial<PairOpening>> = [
      { cid: 'b'.repeat(32) }, { dialer: 'x' }, { acceptor: 'x' }, { dialerNonce: '3'.repeat(64) }, { acceptorNonce: '3'.repeat(64) },
      { dialerEpoch: '0'.repeat(32) }, { acceptorEpoch: '0'.repeat(32) }, { dialerFloors: [3, 5] }, { acceptorFloors: [0, 6] },
    ];
    for (const change of changes) assert.notDeepEqual(pairKeys(SECRET, { ...opening, ...change }).toAcceptor, keys.toAcceptor, JSON.stringify(change));
    assert.notDeepEqual(pairKeys('another secret of 32 bytes long!', opening).toAcceptor, keys.toAcceptor);
    assert.notDeepEqual(clusterKey(SECRET), keys.toAcceptor);
  });
});

describe('NATS subjects', () => {
  it('should make one subject token of any node name', () => {
    for (const name of ['a', 'node.one', 'x>*', 'with space', 'ünïcødé', '-_']) {
      assert.match(nameToken(name), /^[A-Za-z0-9_-]+$/, name);
      assert.equal(Buffer.from(nameToken(name), 'base64url').toString('utf8'), name);
    }
  });

  it('should name the subjects of a node under its prefix', () => {
    const s = new Subjects('rxc.t', 'a.b');
    assert.equal(s.handshake, `rxc.t.hs.${nameToken('a.b')}`);
    assert.equal(s.pairsToSelf, `rxc.t.p.${nameToken('a.b')}.*`);
    assert.equal(s.pairTo('c'), `rxc.t.p.${nameToken('c')}.${nameToken('a.b')}`);
    assert.equal(s.handshakeOf('c'), `rxc.t.hs.${nameToken('c')}`);
    assert.equal(s.all, 'rxc.t.all');
    assert.equal(s.beat, 'rxc.t.beat');
  });

  it('should refuse a malformed prefix, naming it', () => {
    for (const bad of ['', 'a..b', 'a.*', 'a.>', 'a b', '.a', 'a.']) assert.throws(() => checkPrefix(bad), /Invalid subjectPrefix/, bad);
    assert.equal(checkPrefix('rx-c_1.x'), 'rx-c_1.x');
  });
});
