import { createHash, timingSafeEqual } from 'node:crypto';
import { jwt } from './jwt.js';

/**
 * The HTTP API's own credentials: the key that signs its tokens, their
 * lifetime, and the check a login makes. The manager holds one and never
 * looks inside.
 */
export class ApiCredentials {
  readonly #signingKey: string | Buffer;
  readonly #tokenDuration: number;
  readonly #loginDigest: Buffer;

  /**
   * @param signingKey - HMAC key for HS256 tokens
   * @param tokenDuration - token lifetime in ms
   * @param loginSecret - what `POST /api/v1/login` checks a password against
   */
  constructor(signingKey: string | Buffer, tokenDuration: number, loginSecret: string | Buffer) {
    this.#signingKey = signingKey;
    this.#tokenDuration = tokenDuration;
    this.#loginDigest = digest(loginSecret);
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

  /** Whether `password` is the login secret, compared in constant time. */
  checkLogin(password: string): boolean {
    return typeof password === 'string' && timingSafeEqual(digest(password), this.#loginDigest);
  }
}

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}
