import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NONCE_BYTES, PROTOCOL_VERSION } from '../limits.js';

/**
 * The mutual challenge-response that opens every connection.
 *
 * ```
 * dialer                                              acceptor
 *   hello     { version, name, to, nonce: Nd }          ─►
 *           ◄─ challenge { version, nonce: Na }
 *   auth      { proof: D, instance, incarnation }       ─►
 *           ◄─ welcome { proof: A, instance, incarnation }
 * ```
 *
 * `D = HMAC-SHA256(K, "rxcluster/2 dialer" | Nd | Na | dialer | acceptor)` and
 * `A` the same with the label "acceptor", where `K` is the secret stretched
 * by `stretchSecret` (scrypt, see protocol/keyring.ts). The dialer proves first: the
 * acceptor answers an unauthenticated caller with nothing derived from the
 * secret, so a stranger who connects cannot collect an HMAC to guess the
 * secret from offline; the challenge is the same whatever name the caller
 * claims, so it learns nothing about this node either. The dialer checks the acceptor's proof before it
 * trusts the link, so a wrong secret is refused on both sides; the secret
 * itself never crosses the wire. Both nonces are fresh for every
 * connection, so a recorded handshake replayed later fails, and the role
 * labels keep a proof from being reflected back to its sender.
 */
export interface HandshakeTranscript {
  readonly dialer: string;
  readonly acceptor: string;
  readonly dialerNonce: string;
  readonly acceptorNonce: string;
}

export type HandshakeRole = 'dialer' | 'acceptor';

/** A fresh random nonce, hex-encoded. */
export function makeNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

/**
 * The proof one side sends of knowing the secret.
 *
 * @param secret - the HMAC key: the stretched secret (`stretchSecret`) in the handshake
 * @param role - whose proof: the dialer's or the acceptor's
 * @param transcript - both names and both nonces
 * @returns hex HMAC-SHA256
 */
export function handshakeProof(secret: string | Buffer, role: HandshakeRole, transcript: HandshakeTranscript): string {
  return transcriptHmac(secret, role, transcript).toString('hex');
}

/**
 * HMAC-SHA256 under `key` of a label and the transcript, every field
 * length-prefixed so no two transcripts serialise alike: the proofs
 * (label: the role) and the frame keys (label: "frames from <role>").
 */
export function transcriptHmac(key: string | Buffer, label: string, transcript: HandshakeTranscript): Buffer {
  const h = createHmac('sha256', key);
  for (const field of [`rxcluster/${PROTOCOL_VERSION} ${label}`, transcript.dialerNonce, transcript.acceptorNonce, transcript.dialer, transcript.acceptor]) {
    h.update(`${Buffer.byteLength(field)}:${field};`);
  }
  return h.digest();
}

/**
 * Checks a received proof in constant time.
 *
 * @returns true only when `received` is the proof `role` must send for `transcript`
 */
export function verifyProof(
  secret: string | Buffer,
  role: HandshakeRole,
  transcript: HandshakeTranscript,
  received: string,
): boolean {
  // Buffer.from(…, 'hex') silently drops what follows a bad character: check the form first
  if (!/^[0-9a-f]{64}$/.test(received)) return false;
  const expected = Buffer.from(handshakeProof(secret, role, transcript), 'hex');
  const got = Buffer.from(received, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * The key among `keys` that `received` was made with, or undefined: how an
 * acceptor checks a dialer's proof, and a dialer the acceptor's, while a
 * secret is rotated (every key is tried, none skipped once one matched).
 *
 * @param keys - stretched handshake keys, primary first
 */
export function matchingKey(keys: readonly Buffer[], role: HandshakeRole, transcript: HandshakeTranscript, received: string): Buffer | undefined {
  let found: Buffer | undefined;
  for (const key of keys) {
    if (verifyProof(key, role, transcript, received)) found ??= key;
  }
  return found;
}

/**
 * Which of two connections between the same two nodes survives, by a rule
 * both nodes compute alike: the one dialed by the node whose name sorts first;
 * between two dialed by the same node, the newer one (the older is stale).
 *
 * @param a - the dialer's name and a sequence that grows with each connection on this node
 * @param b - the same for the other connection
 * @returns the connection to keep
 */
export function preferConnection<C extends { readonly dialer: string; readonly seq: number }>(a: C, b: C): C {
  if (a.dialer !== b.dialer) return a.dialer < b.dialer ? a : b;
  return a.seq > b.seq ? a : b;
}
