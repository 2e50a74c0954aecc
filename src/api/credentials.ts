import { jwt } from './jwt.js';
import { decoyHash, parseAdminHash, verifyAdminPassword, type AdminHash } from './password.js';

/**
 * The HTTP API's own credentials: the key that signs its tokens, their
 * lifetime, and the check a login makes. The manager holds one and never
 * looks inside.
 */
export class ApiCredentials {
  readonly #signingKey: string | Buffer;
  readonly #tokenDuration: number;
  readonly #admins: ReadonlyMap<string, AdminHash>;

  /**
   * @param signingKey - HMAC key for HS256 tokens
   * @param tokenDuration - token lifetime in ms
   * @param admins - username → `hashAdminPassword(password)`: whom `POST /api/v1/login` lets in (none: login is off)
   * @throws TypeError naming the admin whose stored hash is malformed
   */
  constructor(signingKey: string | Buffer, tokenDuration: number, admins: Readonly<Record<string, string>> = {}) {
    this.#signingKey = signingKey;
    this.#tokenDuration = tokenDuration;
    this.#admins = parseAdmins(admins);
  }

  /** Whether any admin is configured: without one, `POST /api/v1/login` is off. */
  get loginEnabled(): boolean {
    return this.#admins.size > 0;
  }

  /** A signed HS256 token for `username` on the manager `manager`. */
  issue(username: string, manager: string): string {
    return jwt().sign({ sub: username, mgr: manager }, this.#signingKey, {
      algorithm: 'HS256',
      expiresIn: Math.max(1, Math.floor(this.#tokenDuration / 1000)),
    });
  }

  /** The username of a valid, unexpired HS256 token for `manager`, or undefined. */
  verify(token: string, manager: string): string | undefined {
    try {
      const payload = jwt().verify(token, this.#signingKey, { algorithms: ['HS256'] });
      if (typeof payload !== 'object' || typeof payload.sub !== 'string' || payload['mgr'] !== manager) return undefined;
      return payload.sub;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether `username` is an admin and `password` its password. An unknown
   * username costs the same scrypt work as a known one, so the answer's
   * timing does not tell which usernames exist. Never rejects.
   */
  checkLogin(username: string, password: string): Promise<boolean> {
    const stored = this.#admins.get(username);
    return verifyAdminPassword(stored ?? decoyHash(), password).then((match) => match && stored !== undefined);
  }
}

/**
 * Parses `api.admins`.
 *
 * @throws TypeError naming the field when it is not a record of usernames to hashAdminPassword hashes
 */
export function parseAdmins(admins: unknown): ReadonlyMap<string, AdminHash> {
  if (typeof admins !== 'object' || admins === null || Array.isArray(admins)) {
    throw new TypeError('Invalid api.admins: expected an object of username → hashAdminPassword(password)');
  }
  const parsed = new Map<string, AdminHash>();
  for (const [username, stored] of Object.entries(admins)) {
    // eslint-disable-next-line no-control-regex
    if (username.length === 0 || username.length > 128 || /[\u0000-\u001f\u007f]/.test(username)) {
      throw new TypeError('Invalid api.admins: a username must be 1 to 128 characters without control characters');
    }
    parsed.set(username, parseAdminHash(stored, `api.admins[${JSON.stringify(username)}]`));
  }
  return parsed;
}
