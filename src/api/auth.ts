import type { IncomingMessage } from 'node:http';
import { jwt } from './jwt.js';

/** The cookie that carries the API token after a login. */
export const SESSION_COOKIE = 'session';

/** The longest token the API looks at; anything longer is refused unread. */
const MAX_TOKEN_LENGTH = 4096;
/** The shape of a compact JWS: three base64url parts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The token a request presents: `Authorization: Bearer <token>` first, else
 * the `session` cookie. An Authorization header in any other form, or a value
 * that is not shaped like a JWT, yields undefined (the caller answers 403).
 */
export function presentedToken(req: IncomingMessage): { readonly token: string; readonly from: 'bearer' | 'cookie' } | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    return match?.[1] !== undefined && wellFormed(match[1]) ? { token: match[1], from: 'bearer' } : undefined;
  }
  const token = cookieValue(req.headers.cookie, SESSION_COOKIE);
  return token !== undefined && wellFormed(token) ? { token, from: 'cookie' } : undefined;
}

function wellFormed(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(token);
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 16 * 1024) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Set-Cookie value for a freshly issued token: HttpOnly, SameSite=Strict,
 * Path=/, Secure over TLS, and a Max-Age that ends with the token.
 */
export function sessionCookie(token: string, secure: boolean): string {
  const decoded = jwt().decode(token);
  const exp = typeof decoded === 'object' && decoded !== null && typeof decoded.exp === 'number' ? decoded.exp : undefined;
  const maxAge = exp === undefined ? undefined : Math.max(0, exp - Math.floor(Date.now() / 1000));
  return [
    `${SESSION_COOKIE}=${token}`,
    'HttpOnly',
    'SameSite=Strict',
    'Path=/',
    ...(maxAge === undefined ? [] : [`Max-Age=${maxAge}`]),
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * Whether a cookie-authenticated request may act: a browser names the page
 * that sent it in `Origin`, which must be this very host. A request without
 * Origin is not a cross-site browser request. (SameSite=Strict already keeps
 * the cookie off cross-site requests; this holds for browsers without it.)
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** How failed logins from one remote address slow down the next answers. */
export interface LoginThrottleOptions {
  /** Delay after the first failure, in ms; it doubles with each further one. Default 100. */
  readonly baseDelayMs?: number;
  /** The longest delay, in ms. Default 3000. */
  readonly maxDelayMs?: number;
  /** Addresses remembered at most; the least recently failed is forgotten first. Default 10000. */
  readonly maxEntries?: number;
  /** An address with no failure for this long starts afresh, in ms. Default 15 minutes. */
  readonly forgetAfterMs?: number;
}

export const DEFAULT_LOGIN_THROTTLE: Required<LoginThrottleOptions> = Object.freeze({
  baseDelayMs: 100,
  maxDelayMs: 3000,
  maxEntries: 10_000,
  forgetAfterMs: 15 * 60 * 1000,
});

/**
 * Failed logins per remote address, bounded in size: the n-th failure in a
 * row is answered after `baseDelayMs * 2^(n-1)`, capped at `maxDelayMs`. A
 * success forgets the address.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; last: number; until: number }>();
  readonly #options: Required<LoginThrottleOptions>;

  constructor(options: LoginThrottleOptions = {}) {
    this.#options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
  }

  /** Records a failure from `address`; returns how long to wait before answering, in ms. */
  failed(address: string, now = Date.now()): number {
    const { baseDelayMs, maxDelayMs, maxEntries, forgetAfterMs } = this.#options;
    const previous = this.#failures.get(address);
    const count = previous !== undefined && now - previous.last < forgetAfterMs ? previous.count + 1 : 1;
    // re-insert, so the Map's order is least recently failed first
    this.#failures.delete(address);
    const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(count - 1, 30));
    this.#failures.set(address, { count, last: now, until: now + wait });
    while (this.#failures.size > maxEntries) {
      const oldest = this.#failures.keys().next();
      if (oldest.done === true) break;
      this.#failures.delete(oldest.value);
    }
    return wait;
  }

  /**
   * How long `address` must still wait after its last failure before another
   * attempt is even looked at, in ms (0: go ahead). Guesses sent in parallel
   * are refused unchecked, so the delay really bounds the guessing rate.
   */
  blockedFor(address: string, now = Date.now()): number {
    const entry = this.#failures.get(address);
    return entry === undefined ? 0 : Math.max(0, entry.until - now);
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#failures.size;
  }
}
