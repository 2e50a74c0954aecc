import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
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

/** A Set-Cookie value that makes the browser drop the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return [`${SESSION_COOKIE}=`, 'HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=0', ...(secure ? ['Secure'] : [])].join('; ');
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

/** How failed logins slow down the next answers: per remote address, and for the whole handler. */
export interface LoginThrottleOptions {
  /** Delay after an address's first failure, in ms; it doubles with each further one. Default 100. */
  readonly baseDelayMs?: number;
  /** The longest delay of one address, in ms. Default 3000. */
  readonly maxDelayMs?: number;
  /**
   * Addresses remembered at most. Past it, the least recently failed address
   * whose delay has run out is forgotten; one still delayed never is. Default 10000.
   */
  readonly maxEntries?: number;
  /** An address with no failure for this long starts afresh, in ms. Default 15 minutes. */
  readonly forgetAfterMs?: number;
  /**
   * Failed logins from all addresses together per `globalWindowMs` before every
   * login is refused unchecked for a while: many addresses (a botnet, an IPv6
   * prefix) get no more guesses than one. Default 20.
   */
  readonly globalFailures?: number;
  /** The window of `globalFailures`, in ms. Default 1000. */
  readonly globalWindowMs?: number;
  /**
   * The longest global pause, in ms: the first is one window, each further
   * one in a row doubles it. Default 10000.
   */
  readonly maxGlobalDelayMs?: number;
  /** Password checks (scrypt, on the thread pool) running at once, at most; one per address. Default 4. */
  readonly maxConcurrentChecks?: number;
}

export const DEFAULT_LOGIN_THROTTLE: Required<LoginThrottleOptions> = Object.freeze({
  baseDelayMs: 100,
  maxDelayMs: 3000,
  maxEntries: 10_000,
  forgetAfterMs: 15 * 60 * 1000,
  globalFailures: 20,
  globalWindowMs: 1000,
  maxGlobalDelayMs: 10_000,
  maxConcurrentChecks: 4,
});

/**
 * Failed logins, throttled twice over. Per remote address (IPv6 grouped by
 * its /64, one holder's usual share): the n-th failure in a row is answered
 * after `baseDelayMs * 2^(n-1)`, capped at `maxDelayMs`, and a success
 * forgets the address. For the whole handler: `globalFailures` failures
 * within `globalWindowMs` pause every login for a window, doubling with each
 * pause in a row up to `maxGlobalDelayMs`. An attempt made while either
 * delay runs is refused without being checked, so the delays really bound
 * the guessing rate, and at most `maxConcurrentChecks` checks run at once.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; last: number; until: number }>();
  readonly #checking = new Set<string>();
  readonly #options: Required<LoginThrottleOptions>;
  #window = { start: -Infinity, count: 0 };
  #pauses = 0;
  #lastPause = -Infinity;
  #globalUntil = 0;

  constructor(options: LoginThrottleOptions = {}) {
    this.#options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
  }

  /** Records a failure from `address`; returns how long to wait before answering, in ms. */
  failed(address: string, now = Date.now()): number {
    const { baseDelayMs, maxDelayMs, forgetAfterMs } = this.#options;
    const key = addressKey(address);
    const previous = this.#failures.get(key);
    const count = previous !== undefined && now - previous.last < forgetAfterMs ? previous.count + 1 : 1;
    // re-insert, so the Map's order is least recently failed first
    this.#failures.delete(key);
    const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(count - 1, 30));
    this.#failures.set(key, { count, last: now, until: now + wait });
    this.#evict(now);
    this.#failedGlobally(now);
    return wait;
  }

  #failedGlobally(now: number): void {
    const { globalFailures, globalWindowMs, maxGlobalDelayMs, forgetAfterMs } = this.#options;
    if (now - this.#window.start >= globalWindowMs) this.#window = { start: now, count: 0 };
    this.#window.count++;
    if (this.#window.count < globalFailures) return;
    // a pause long after the last one starts the doubling afresh
    this.#pauses = now - this.#lastPause < Math.min(forgetAfterMs, 60_000 + maxGlobalDelayMs) ? this.#pauses + 1 : 1;
    this.#lastPause = now;
    this.#globalUntil = now + Math.min(maxGlobalDelayMs, globalWindowMs * 2 ** Math.min(this.#pauses - 1, 30));
    this.#window = { start: this.#globalUntil, count: 0 };
  }

  /** Forgets the least recently failed addresses past maxEntries, never one still delayed. */
  #evict(now: number): void {
    let excess = this.#failures.size - this.#options.maxEntries;
    if (excess <= 0) return;
    let looked = 0;
    for (const [key, entry] of this.#failures) {
      if (excess <= 0 || looked++ > 1000) break;
      if (entry.until > now) continue;
      this.#failures.delete(key);
      excess--;
    }
  }

  /**
   * How long `address` must still wait before another attempt is even looked
   * at, in ms (0: go ahead): its own delay or the global one, whichever ends later.
   */
  blockedFor(address: string, now = Date.now()): number {
    const entry = this.#failures.get(addressKey(address));
    return Math.max(0, entry === undefined ? 0 : entry.until - now, this.#globalUntil - now);
  }

  /**
   * Takes a check slot for `address`: undefined when that address has a check
   * running already or `maxConcurrentChecks` run, else the function that frees it.
   */
  beginCheck(address: string): (() => void) | undefined {
    const key = addressKey(address);
    if (this.#checking.has(key) || this.#checking.size >= this.#options.maxConcurrentChecks) return undefined;
    this.#checking.add(key);
    let held = true;
    return () => {
      if (held) this.#checking.delete(key);
      held = false;
    };
  }

  succeeded(address: string): void {
    this.#failures.delete(addressKey(address));
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#failures.size;
  }
}

/**
 * The unit a remote address is throttled as: an IPv4 address itself (also
 * when IPv4-mapped), an IPv6 address by its /64 prefix.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(address)) return address;
  const zoneless = address.split('%')[0] ?? address;
  const [head = '', tail] = zoneless.split('::') as [string, string | undefined];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  // an embedded IPv4 tail counts as two groups, and never reaches the first four
  const groups = [...headParts, ...Array<string>(Math.max(0, 8 - headParts.length - tailParts.length)).fill('0'), ...tailParts];
  return `${groups.slice(0, 4).map((g) => (Number.parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}
