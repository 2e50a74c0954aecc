import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';

/**
 * The timing settings of a cluster manager, every value in milliseconds.
 *
 * They keep the names and defaults of the Go library rxcluster succeeds, plus
 * `maxConnectInterval`, the cap of the reconnect back-off. Settings are a
 * stream inside the manager: `updateSettings` reaches running pipelines.
 */
export interface Settings {
  /**
   * How often a ping is sent to each connected peer (seed: PingInterval).
   * Default 5000. Shorter finds dead peers sooner and costs a frame per peer
   * per interval. Must stay below `readTimeout`, or a quiet but healthy peer
   * would be dropped between two pings.
   */
  readonly pingInterval: number;
  /**
   * How long a fresh connection must survive before its join is announced
   * (seed: JoinDelay). Default 500. Absorbs simultaneous dials and flapping
   * connections: a connection that dies inside it produces neither join nor
   * leave. Must be below `readTimeout`.
   */
  readonly joinDelay: number;
  /**
   * Silence after which a peer is dropped and announced as left (seed:
   * ReadTimeout). Default 11000. Any frame, a pong included, resets it.
   */
  readonly readTimeout: number;
  /**
   * First delay before redialing a lost or unreachable peer (seed:
   * ConnectInterval). Default 2000. Doubles per failed attempt, with jitter,
   * up to `maxConnectInterval`; resets when the peer joins.
   */
  readonly connectInterval: number;
  /**
   * How long a dial and its handshake may take, in both directions (seed:
   * ConnectTimeout). Default 10000. A handshake that has not finished by
   * then closes that one connection.
   */
  readonly connectTimeout: number;
  /**
   * The cap of the reconnect back-off. Default 30000. Must be at least
   * `connectInterval`.
   */
  readonly maxConnectInterval: number;
  /**
   * How long `request$` waits for the reply before it fails with a
   * RequestError of code RXC_ERR_REQUEST_TIMEOUT. Default 5000. A call's own
   * `timeout` option overrides it.
   */
  readonly requestTimeout: number;
}

/** The defaults of the seed library, plus the back-off cap. */
export const DEFAULT_SETTINGS: Settings = Object.freeze({
  pingInterval: 5000,
  joinDelay: 500,
  readTimeout: 11000,
  connectInterval: 2000,
  connectTimeout: 10000,
  maxConnectInterval: 30000,
  requestTimeout: 5000,
});

/**
 * Short timings for tests and examples on loopback: failures are seen in about
 * a second instead of eleven. Derived from the defaults, overriding timings only.
 */
export const FAST_SETTINGS: Settings = Object.freeze({
  ...DEFAULT_SETTINGS,
  pingInterval: 200,
  joinDelay: 100,
  readTimeout: 1000,
  connectInterval: 100,
  connectTimeout: 2000,
  maxConnectInterval: 1000,
  requestTimeout: 2000,
});

export interface PositiveIntBrand {
  readonly PositiveInt: unique symbol;
}

/** A whole number of milliseconds, at least 1. */
export const PositiveInt = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveIntBrand> => Number.isSafeInteger(n) && n > 0,
  'PositiveInt',
);

const settingsProps = {
  pingInterval: PositiveInt,
  joinDelay: PositiveInt,
  readTimeout: PositiveInt,
  connectInterval: PositiveInt,
  connectTimeout: PositiveInt,
  maxConnectInterval: PositiveInt,
  requestTimeout: PositiveInt,
};

/** The codec of a whole Settings object, without the cross-field rules. */
export const SettingsCodec = t.exact(t.type(settingsProps), 'Settings');
/** The codec of a partial update, as taken by `updateSettings`. */
export const PartialSettingsCodec = t.exact(t.partial(settingsProps), 'PartialSettings');

/**
 * Merges `update` into `base` and validates the result as a whole.
 *
 * @param base - settings in force
 * @param update - fields to change; unknown fields are refused
 * @returns the new, frozen settings
 * @throws TypeError naming the offending field, before anything is applied
 */
export function mergeSettings(base: Settings, update: unknown): Settings {
  if (update === undefined) return base;
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    throw new TypeError('Invalid settings: expected an object of millisecond values');
  }
  for (const key of Object.keys(update)) {
    if (!Object.hasOwn(settingsProps, key)) {
      throw new TypeError(`Invalid settings: unknown field "${key}"`);
    }
  }
  const partial = PartialSettingsCodec.decode(update);
  if (isLeft(partial)) throw new TypeError(`Invalid settings: ${notMilliseconds(partial.left)}`);
  // decode the merged result too: t.partial lets an explicit `undefined` through
  const whole = SettingsCodec.decode({ ...base, ...partial.right });
  if (isLeft(whole)) throw new TypeError(`Invalid settings: ${notMilliseconds(whole.left)}`);
  const merged: Settings = whole.right;
  const problem = crossFieldProblem(merged);
  if (problem !== undefined) throw new TypeError(`Invalid settings: ${problem}`);
  return Object.freeze(merged);
}

/**
 * The fields that are not a positive whole number of milliseconds, in the
 * user's words: `readTimeout must be a positive whole number of milliseconds
 * (got 0)`. A setting is a number, not a secret: a short form of it is shown.
 */
function notMilliseconds(errors: t.Errors): string {
  const problems = new Map<string, string>();
  for (const error of errors) {
    // the context runs codec, (exact's inner codec,) field: the field is the last named key
    const field = [...error.context].reverse().find((entry) => Object.hasOwn(settingsProps, entry.key))?.key ?? 'a setting';
    if (!problems.has(field)) problems.set(field, `${field} must be a positive whole number of milliseconds (got ${shortForm(error.value)})`);
  }
  return [...problems.values()].join('; ');
}

function shortForm(value: unknown): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? typeof value);
  return text.length > 24 ? `${text.slice(0, 21)}...` : text;
}

/** The seed's own rules between fields, and the back-off cap's. */
function crossFieldProblem(s: Settings): string | undefined {
  if (s.joinDelay >= s.readTimeout) {
    return `joinDelay (${s.joinDelay}) must be shorter than readTimeout (${s.readTimeout})`;
  }
  if (s.pingInterval >= s.readTimeout) {
    return `pingInterval (${s.pingInterval}) must be shorter than readTimeout (${s.readTimeout})`;
  }
  if (s.connectInterval > s.maxConnectInterval) {
    return `connectInterval (${s.connectInterval}) must not exceed maxConnectInterval (${s.maxConnectInterval})`;
  }
  return undefined;
}
