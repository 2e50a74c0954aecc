import { createHash, scryptSync } from 'node:crypto';

/**
 * The cluster secret, and how it becomes the handshake's HMAC key.
 *
 * A secret is stretched once per manager (and once per `setSecrets`) with
 * scrypt before any HMAC uses it: a handshake recorded off the wire (on plain
 * ws, or by a peer that proved nothing) then costs an offline guesser a
 * scrypt run per guess instead of one HMAC. The salt is fixed and public
 * (`rxcluster/handshake/v2`): every node must derive the same key from the
 * same secret with no exchange, and the nonces in each proof already keep
 * proofs from being precomputed.
 */

/** A shared secret: a non-empty string (UTF-8) or Buffer. */
export type Secret = string | Buffer;

/**
 * A secret with the ones still accepted while it is rotated in: new
 * handshakes prove with `primary`; proofs made with any of `accepted` are
 * taken too (serf/memberlist keyring).
 */
export interface Keyring {
  readonly primary: Secret;
  readonly accepted?: readonly Secret[];
}

/** The stretched keys a session proves and verifies with. */
export interface HandshakeKeys {
  /** The key of new proofs. */
  readonly primary: Buffer;
  /** Every key a received proof may be made with: primary first, then the accepted ones. */
  readonly all: readonly Buffer[];
}

/** The fixed, public scrypt salt of the handshake key. */
export const HANDSHAKE_SALT = 'rxcluster/handshake/v2';
/** scrypt parameters of the handshake key: N = 2^14, r = 8, p = 1 (16 MiB, one run per secret per process). */
export const STRETCH_PARAMS = Object.freeze({ N: 2 ** 14, r: 8, p: 1 });
/** Bytes of the handshake key. */
const KEY_BYTES = 32;
/** Accepted secrets at most, so a verifier tries a bounded number of keys. */
export const MAX_ACCEPTED_SECRETS = 8;

/**
 * Checks a constructor `authKey` or a `setSecrets` argument.
 *
 * @returns the primary secret and the accepted ones (primary excluded)
 * @throws TypeError naming `field` when it is neither a non-empty secret nor a keyring of them
 */
export function parseKeyring(value: unknown, field = 'authKey'): { readonly primary: Secret; readonly accepted: readonly Secret[] } {
  const isSecret = (s: unknown): s is Secret => (typeof s === 'string' || Buffer.isBuffer(s)) && s.length > 0;
  if (isSecret(value)) return { primary: value, accepted: [] };
  const expected = `expected a non-empty string or Buffer, or a keyring { primary, accepted?: [...] } of them (at most ${MAX_ACCEPTED_SECRETS} accepted)`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`Invalid ${field}: ${expected}`);
  const { primary, accepted = [] } = value as { primary?: unknown; accepted?: unknown };
  if (!isSecret(primary)) throw new TypeError(`Invalid ${field}.primary: ${expected}`);
  if (!Array.isArray(accepted) || accepted.length > MAX_ACCEPTED_SECRETS || !accepted.every(isSecret)) throw new TypeError(`Invalid ${field}.accepted: ${expected}`);
  return { primary, accepted: [...(accepted as Secret[])] };
}

/**
 * The handshake key of `secret`: scrypt(secret, HANDSHAKE_SALT, N = 2^14,
 * r = 8, p = 1), 32 bytes. Synchronous; the result is kept per process for
 * a few secrets, so managers of one process sharing a secret stretch it once.
 */
export function stretchSecret(secret: Secret): Buffer {
  const id = createHash('sha256').update('rxcluster/stretch-cache').update(secret).digest('hex');
  const cached = cache.get(id);
  if (cached !== undefined) return cached;
  const { N, r, p } = STRETCH_PARAMS;
  const key = scryptSync(secret, HANDSHAKE_SALT, KEY_BYTES, { N, r, p, maxmem: 128 * N * r + 1024 * 1024 });
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(id, key);
  return key;
}
const CACHE_SIZE = 16;
const cache = new Map<string, Buffer>();

/**
 * The stretched keys of a keyring.
 *
 * @throws TypeError as parseKeyring does
 */
export function handshakeKeys(keyring: unknown, field = 'authKey'): HandshakeKeys {
  const { primary, accepted } = parseKeyring(keyring, field);
  const first = stretchSecret(primary);
  const all = [first];
  for (const secret of accepted) {
    const key = stretchSecret(secret);
    if (!all.some((k) => k.equals(key))) all.push(key);
  }
  return { primary: first, all };
}

/** A shared secret shorter than this is logged as weak. */
export const MIN_SECRET_BYTES = 32;

/**
 * Why the keyring's primary secret is weak (shorter than MIN_SECRET_BYTES),
 * or undefined when it is not.
 */
export function weakSecret(keyring: unknown): string | undefined {
  const bytes = Buffer.byteLength(parseKeyring(keyring).primary);
  return bytes < MIN_SECRET_BYTES ? `the shared secret is only ${bytes} bytes: use ${MIN_SECRET_BYTES} or more random bytes, or it can be guessed` : undefined;
}
