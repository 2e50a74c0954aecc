import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { handshakeProof, matchingKey, type HandshakeTranscript } from '../../src/protocol/handshake.js';
import { HANDSHAKE_SALT, handshakeKeys, MAX_ACCEPTED_SECRETS, parseKeyring, STRETCH_PARAMS, stretchSecret } from '../../src/protocol/keyring.js';

const TRANSCRIPT: HandshakeTranscript = { dialer: 'node1', acceptor: 'node2', dialerNonce: '1'.repeat(64), acceptorNonce: '2'.repeat(64) };

describe('stretchSecret', () => {
  it('is scrypt(secret, "rxcluster/handshake/v2", N = 2^14, r = 8, p = 1) into 32 bytes', () => {
    assert.equal(HANDSHAKE_SALT, 'rxcluster/handshake/v2');
    assert.deepEqual({ ...STRETCH_PARAMS }, { N: 16384, r: 8, p: 1 });
    const expected = scryptSync('old secret', 'rxcluster/handshake/v2', 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    assert.deepEqual(stretchSecret('old secret'), expected);
  });

  it('gives the same key for the same bytes as string or Buffer, another for another secret, never the secret itself', () => {
    assert.deepEqual(stretchSecret('same'), stretchSecret(Buffer.from('same')));
    assert.notDeepEqual(stretchSecret('same'), stretchSecret('other'));
    assert.notEqual(stretchSecret('same').toString('utf8'), 'same');
    // so a proof made with the raw secret is not one made with the stretched key
    assert.notEqual(handshakeProof('same', 'dialer', TRANSCRIPT), handshakeProof(stretchSecret('same'), 'dialer', TRANSCRIPT));
  });
});

describe('parseKeyring', () => {
  it('takes a secret or { primary, accepted? }', () => {
    assert.deepEqual(parseKeyring('s'), { primary: 's', accepted: [] });
    assert.deepEqual(parseKeyring({ primary: 'p', accepted: ['a', Buffer.from('b')] }), { primary: 'p', accepted: ['a', Buffer.from('b')] });
    assert.deepEqual(parseKeyring({ primary: 'p' }), { primary: 'p', accepted: [] });
  });

  it('refuses, naming the field, anything else', () => {
    const cases: [unknown, RegExp][] = [
      ['', /^Invalid authKey: /],
      [42, /^Invalid authKey: /],
      [null, /^Invalid authKey: /],
      [['p'], /^Invalid authKey: /],
      [{}, /^Invalid authKey\.primary: /],
      [{ primary: '' }, /^Invalid authKey\.primary: /],
      [{ primary: 'p', accepted: 'a' }, /^Invalid authKey\.accepted: /],
      [{ primary: 'p', accepted: [''] }, /^Invalid authKey\.accepted: /],
      [{ primary: 'p', accepted: Array.from({ length: MAX_ACCEPTED_SECRETS + 1 }, (_, i) => `s${i}`) }, /^Invalid authKey\.accepted: /],
    ];
    for (const [value, error] of cases) assert.throws(() => parseKeyring(value), (e: unknown) => e instanceof TypeError && error.test(e.message), JSON.stringify(value));
  });
});

describe('handshakeKeys and matchingKey', () => {
  it('proves with the primary and takes a proof made with any accepted secret, none other', () => {
    const keys = handshakeKeys({ primary: 'new', accepted: ['old', 'new'] });
    assert.deepEqual(keys.primary, stretchSecret('new'));
    assert.equal(keys.all.length, 2, 'a repeated secret is tried once');
    const withOld = handshakeProof(stretchSecret('old'), 'dialer', TRANSCRIPT);
    assert.deepEqual(matchingKey(keys.all, 'dialer', TRANSCRIPT, withOld), stretchSecret('old'));
    const withNew = handshakeProof(stretchSecret('new'), 'dialer', TRANSCRIPT);
    assert.deepEqual(matchingKey(keys.all, 'dialer', TRANSCRIPT, withNew), stretchSecret('new'));
    assert.equal(matchingKey(keys.all, 'dialer', TRANSCRIPT, handshakeProof(stretchSecret('stranger'), 'dialer', TRANSCRIPT)), undefined);
    assert.equal(matchingKey(keys.all, 'acceptor', TRANSCRIPT, withOld), undefined, 'the role still counts');
  });
});
