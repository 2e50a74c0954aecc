import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * Admin passwords for the HTTP API, stored as self-describing scrypt hashes:
 *
 * ```
 * scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>
 * ```
 *
 * `hashAdminPassword` makes one with N = 2^15, r = 8, p = 1 (32 MiB of memory),
 * a 16-byte random salt and a 32-byte hash. A stored hash is parsed once, when
 * the manager is built (a malformed one is a TypeError then); a login derives
 * the candidate asynchronously (on libuv's thread pool, never on the event
 * loop) and compares in constant time.
 */

/** log2 of the default scrypt cost N. */
export const ADMIN_HASH_LOG_N = 15;
/** The scrypt parameters `hashAdminPassword` uses. */
export const ADMIN_HASH_PARAMS = Object.freeze({ N: 2 ** ADMIN_HASH_LOG_N, r: 8, p: 1 });
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds on the parameters a stored hash may name, so a typo cannot stall a login. */
const MIN_N = 2 ** 14;
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
/** The longest password a login checks, in characters. */
export const MAX_PASSWORD_LENGTH = 1024;

/** A stored admin hash, parsed. */
export interface AdminHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * Hashes an admin password for `api.admins` (username → hash).
 *
 * @param password - 1 to 1024 characters
 * @returns `scrypt$32768$8$1$<salt>$<hash>` (base64url fields)
 * @throws TypeError for an empty, too long or non-string password
 * @example
 * new Manager('n1', secret, { api: { admins: { alice: hashAdminPassword('correct horse battery staple') } } });
 */
export function hashAdminPassword(password: string): string {
  if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new TypeError(`Invalid password: expected 1 to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const { N, r, p } = ADMIN_HASH_PARAMS;
  const salt = randomBytes(SALT_BYTES);
  const hash = scryptSync(password.normalize('NFC'), salt, HASH_BYTES, { N, r, p, maxmem: maxmem(N, r, p) });
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/**
 * Parses a stored hash.
 *
 * @param field - names the option in the error (`api.admins.alice`)
 * @throws TypeError naming `field` when the hash is malformed or its parameters are out of bounds
 */
export function parseAdminHash(stored: unknown, field: string): AdminHash {
  const bad = (why: string): TypeError => new TypeError(`Invalid ${field}: ${why}; expected the output of hashAdminPassword (scrypt$N$r$p$salt$hash)`);
  if (typeof stored !== 'string' || stored.length > 512) throw bad('not a hash string');
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw bad('not a scrypt hash');
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const int = (s: string): number => (/^[1-9][0-9]{0,9}$/.test(s) ? Number(s) : NaN);
  const N = int(n);
  const R = int(r);
  const P = int(p);
  if (!(N >= MIN_N && N <= MAX_N && (N & (N - 1)) === 0)) throw bad(`N must be a power of two from ${MIN_N} to ${MAX_N}`);
  if (!(R >= 1 && R <= MAX_R)) throw bad(`r must be 1 to ${MAX_R}`);
  if (!(P >= 1 && P <= MAX_P)) throw bad(`p must be 1 to ${MAX_P}`);
  const b64 = /^[A-Za-z0-9_-]+$/;
  if (!b64.test(salt) || !b64.test(hash)) throw bad('salt and hash must be base64url');
  const saltBytes = Buffer.from(salt, 'base64url');
  const hashBytes = Buffer.from(hash, 'base64url');
  if (saltBytes.length < 16) throw bad('the salt must hold 16 bytes or more');
  if (hashBytes.length < 16 || hashBytes.length > 64) throw bad('the hash must hold 16 to 64 bytes');
  return { N, r: R, p: P, salt: saltBytes, hash: hashBytes };
}

/**
 * Whether `password` matches `stored`: derived off the event loop, compared in constant time.
 * Never rejects: a failure to derive is a mismatch.
 */
export function verifyAdminPassword(stored: AdminHash, password: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) return Promise.resolve(false);
  const { N, r, p, salt, hash } = stored;
  return new Promise((resolve) => {
    scrypt(password.normalize('NFC'), salt, hash.length, { N, r, p, maxmem: maxmem(N, r, p) }, (error, derived) => {
      resolve(error === null && derived.length === hash.length && timingSafeEqual(derived, hash));
    });
  });
}

/** A hash no password matches, checked for unknown usernames so their answer takes as long. */
export function decoyHash(): AdminHash {
  decoy ??= { ...ADMIN_HASH_PARAMS, salt: randomBytes(SALT_BYTES), hash: randomBytes(HASH_BYTES) };
  return decoy;
}
let decoy: AdminHash | undefined;

function maxmem(N: number, r: number, p: number): number {
  // scrypt needs 128·N·r bytes (plus 128·r·p); leave headroom over Node's 32 MiB default
  return 128 * N * r + 128 * r * p + 1024 * 1024;
}
