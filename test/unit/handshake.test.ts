import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  handshakeProof,
  makeNonce,
  preferConnection,
  verifyProof,
  type HandshakeRole,
  type HandshakeTranscript,
} from '../../src/protocol/handshake.js';
import { HexDigest } from '../../src/protocol/frames.js';

const SECRET = 'cluster secret';
const ND = '1'.repeat(64);
const NA = '2'.repeat(64);
const OTHER_NONCE = '3'.repeat(64);
const TRANSCRIPT: HandshakeTranscript = { dialer: 'node1', acceptor: 'node2', dialerNonce: ND, acceptorNonce: NA };
const ROLES: readonly HandshakeRole[] = ['dialer', 'acceptor'];

/** Transcripts that differ from TRANSCRIPT in one way each. */
const VARIANTS: readonly (readonly [label: string, transcript: HandshakeTranscript])[] = [
  ['another dialer name', { ...TRANSCRIPT, dialer: 'node3' }],
  ['another acceptor name', { ...TRANSCRIPT, acceptor: 'node3' }],
  ['another dialer nonce', { ...TRANSCRIPT, dialerNonce: OTHER_NONCE }],
  ['another acceptor nonce', { ...TRANSCRIPT, acceptorNonce: OTHER_NONCE }],
  ['names swapped', { ...TRANSCRIPT, dialer: 'node2', acceptor: 'node1' }],
  ['nonces swapped', { ...TRANSCRIPT, dialerNonce: NA, acceptorNonce: ND }],
  ['a character moved across the name boundary', { ...TRANSCRIPT, dialer: 'node1n', acceptor: 'ode2' }],
  ['a name moved into a nonce', { ...TRANSCRIPT, dialerNonce: `${ND}node1`, dialer: '' }],
];

describe('handshakeProof', () => {
  for (const role of ROLES) {
    it(`should be 64 lower-case hex characters for the ${role}`, () => {
      const proof = handshakeProof(SECRET, role, TRANSCRIPT);
      assert.match(proof, /^[0-9a-f]{64}$/);
      assert.ok(HexDigest.is(proof));
    });

    it(`should be deterministic for the ${role}`, () => {
      assert.equal(handshakeProof(SECRET, role, TRANSCRIPT), handshakeProof(SECRET, role, { ...TRANSCRIPT }));
    });

    it(`should not depend on the secret's form (string or Buffer) for the ${role}`, () => {
      assert.equal(handshakeProof(SECRET, role, TRANSCRIPT), handshakeProof(Buffer.from(SECRET), role, TRANSCRIPT));
    });
  }

  it('should differ by role', () => {
    assert.notEqual(handshakeProof(SECRET, 'dialer', TRANSCRIPT), handshakeProof(SECRET, 'acceptor', TRANSCRIPT));
  });

  for (const role of ROLES) {
    for (const [label, transcript] of VARIANTS) {
      it(`should differ for the ${role} with ${label}`, () => {
        assert.notEqual(handshakeProof(SECRET, role, transcript), handshakeProof(SECRET, role, TRANSCRIPT));
      });
    }
  }

  const secrets: readonly (readonly [label: string, secret: string | Buffer])[] = [
    ['another secret', 'cluster secreT'],
    ['a longer secret', `${SECRET} `],
    ['an empty secret', ''],
    ['a binary secret', Buffer.from([0, 1, 2, 3])],
  ];
  for (const role of ROLES) {
    for (const [label, secret] of secrets) {
      it(`should differ for the ${role} with ${label}`, () => {
        assert.notEqual(handshakeProof(secret, role, TRANSCRIPT), handshakeProof(SECRET, role, TRANSCRIPT));
      });
    }
  }
});

describe('verifyProof', () => {
  const dialerProof = handshakeProof(SECRET, 'dialer', TRANSCRIPT);
  const acceptorProof = handshakeProof(SECRET, 'acceptor', TRANSCRIPT);

  for (const role of ROLES) {
    it(`should accept the right proof of the ${role}`, () => {
      assert.equal(verifyProof(SECRET, role, TRANSCRIPT, handshakeProof(SECRET, role, TRANSCRIPT)), true);
    });
  }

  const flipLast = (hex: string): string => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
  const wrong: readonly (readonly [label: string, secret: string | Buffer, role: HandshakeRole, transcript: HandshakeTranscript, received: string])[] = [
    ['the acceptor proof checked as the dialer', SECRET, 'dialer', TRANSCRIPT, acceptorProof],
    ['the dialer proof checked as the acceptor', SECRET, 'acceptor', TRANSCRIPT, dialerProof],
    ['a wrong secret', 'wrong secret', 'dialer', TRANSCRIPT, dialerProof],
    ['a wrong dialer nonce', SECRET, 'dialer', { ...TRANSCRIPT, dialerNonce: OTHER_NONCE }, dialerProof],
    ['a wrong acceptor nonce', SECRET, 'dialer', { ...TRANSCRIPT, acceptorNonce: OTHER_NONCE }, dialerProof],
    ['a wrong dialer name', SECRET, 'dialer', { ...TRANSCRIPT, dialer: 'mallory' }, dialerProof],
    ['a wrong acceptor name', SECRET, 'acceptor', { ...TRANSCRIPT, acceptor: 'mallory' }, acceptorProof],
    ['one bit off', SECRET, 'dialer', TRANSCRIPT, flipLast(dialerProof)],
    ['an empty string', SECRET, 'dialer', TRANSCRIPT, ''],
    ['one byte short', SECRET, 'dialer', TRANSCRIPT, dialerProof.slice(0, 62)],
    ['one character short', SECRET, 'dialer', TRANSCRIPT, dialerProof.slice(0, 63)],
    ['one byte too many', SECRET, 'dialer', TRANSCRIPT, `${dialerProof}00`],
    ['one character too many', SECRET, 'dialer', TRANSCRIPT, `${dialerProof}0`],
    ['the right proof followed by non-hex', SECRET, 'dialer', TRANSCRIPT, `${dialerProof}zz`],
    ['the right proof followed by a newline', SECRET, 'dialer', TRANSCRIPT, `${dialerProof}\n`],
    ['the right proof twice', SECRET, 'dialer', TRANSCRIPT, dialerProof.repeat(2)],
    ['non-hex of the right length', SECRET, 'dialer', TRANSCRIPT, 'g'.repeat(64)],
    ['the right proof with its last character non-hex', SECRET, 'dialer', TRANSCRIPT, `${dialerProof.slice(0, -1)}g`],
    ['the proof in base64', SECRET, 'dialer', TRANSCRIPT, Buffer.from(dialerProof, 'hex').toString('base64')],
  ];
  for (const [label, secret, role, transcript, received] of wrong) {
    it(`should refuse ${label}`, () => {
      assert.equal(verifyProof(secret, role, transcript, received), false);
    });
  }

  it('should refuse a replayed dialer proof: same dialer nonce, fresh acceptor nonce', () => {
    // a recorded handshake: the attacker replays the dialer's hello and auth
    const recorded = handshakeProof(SECRET, 'dialer', TRANSCRIPT);
    const freshAcceptorNonce = makeNonce();
    const replay: HandshakeTranscript = { ...TRANSCRIPT, acceptorNonce: freshAcceptorNonce };
    assert.equal(verifyProof(SECRET, 'dialer', replay, recorded), false);
  });

  it('should refuse a replayed acceptor proof: fresh dialer nonce, same acceptor nonce', () => {
    const recorded = handshakeProof(SECRET, 'acceptor', TRANSCRIPT);
    const replay: HandshakeTranscript = { ...TRANSCRIPT, dialerNonce: makeNonce() };
    assert.equal(verifyProof(SECRET, 'acceptor', replay, recorded), false);
  });

  it('should refuse a proof reflected back to its sender', () => {
    // the acceptor's own proof, sent back as if it were the dialer's
    assert.equal(verifyProof(SECRET, 'dialer', TRANSCRIPT, acceptorProof), false);
  });
});

describe('makeNonce', () => {
  it('should be 64 lower-case hex characters, a valid HexDigest', () => {
    for (let i = 0; i < 20; i++) {
      const nonce = makeNonce();
      assert.match(nonce, /^[0-9a-f]{64}$/);
      assert.ok(HexDigest.is(nonce));
    }
  });

  it('should differ on each call', () => {
    const nonces = new Set(Array.from({ length: 1000 }, () => makeNonce()));
    assert.equal(nonces.size, 1000);
  });
});

describe('preferConnection', () => {
  interface Conn {
    readonly id: string;
    readonly dialer: string;
    readonly seq: number;
  }
  const table: readonly (readonly [label: string, a: Conn, b: Conn, winner: string])[] = [
    ['the one dialed by the first name', { id: 'a', dialer: 'node1', seq: 1 }, { id: 'b', dialer: 'node2', seq: 2 }, 'a'],
    ['the first name, even with the older seq', { id: 'a', dialer: 'node2', seq: 9 }, { id: 'b', dialer: 'node1', seq: 1 }, 'b'],
    ['by code unit, not by number', { id: 'a', dialer: 'node10', seq: 1 }, { id: 'b', dialer: 'node9', seq: 2 }, 'a'],
    ['upper case before lower case', { id: 'a', dialer: 'node', seq: 1 }, { id: 'b', dialer: 'Node', seq: 2 }, 'b'],
    ['a prefix before its extension', { id: 'a', dialer: 'nodeA', seq: 1 }, { id: 'b', dialer: 'node', seq: 2 }, 'b'],
    ['same dialer: the newer seq', { id: 'a', dialer: 'node1', seq: 1 }, { id: 'b', dialer: 'node1', seq: 2 }, 'b'],
    ['same dialer: the newer seq, first argument', { id: 'a', dialer: 'node2', seq: 7 }, { id: 'b', dialer: 'node2', seq: 3 }, 'a'],
    ['same dialer: seq 0 loses', { id: 'a', dialer: 'x', seq: 0 }, { id: 'b', dialer: 'x', seq: 1 }, 'b'],
  ];
  for (const [label, a, b, winner] of table) {
    it(`should keep ${label}, whatever the argument order`, () => {
      assert.equal(preferConnection(a, b).id, winner);
      assert.equal(preferConnection(b, a).id, winner);
      assert.equal(preferConnection(a, b), preferConnection(b, a));
    });
  }

  it('should let two nodes that dialed each other agree', () => {
    // node1 sees its own dial (seq 4) and node2's (seq 5); node2 sees the same two with its own seqs
    const onNode1 = preferConnection({ dialer: 'node1', seq: 4 }, { dialer: 'node2', seq: 5 });
    const onNode2 = preferConnection({ dialer: 'node2', seq: 1 }, { dialer: 'node1', seq: 2 });
    assert.equal(onNode1.dialer, 'node1');
    assert.equal(onNode2.dialer, 'node1');
  });
});
