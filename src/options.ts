import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { randomBytes } from 'node:crypto';
import { isLeft } from 'fp-ts/lib/Either.js';
import { DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_SEND_BUFFER_BYTES } from './limits.js';
import { parseAddress } from './address.js';
import { parseAdmins } from './api/credentials.js';
import { NodeName } from './protocol/frames.js';
import { parseKeyring, type Keyring, type Secret } from './protocol/keyring.js';
import { DEFAULT_SETTINGS, mergeSettings, type Settings } from './settings.js';
import { resolveMetricsOptions, type MetricsOptions, type ResolvedMetricsOptions } from './metrics/options.js';
import type { Transport } from './transport/types.js';
import { wsTransport } from './transport/ws/index.js';
import { checkMetadata, type Metadata } from './metadata.js';
import type { QuorumStrategy } from './protocol/quorum.js';

/** Default lifetime of an API token: one hour, in ms (the seed's APITokenDuration). */
export const DEFAULT_TOKEN_DURATION = 60 * 60 * 1000;

/** The third constructor argument; every field is optional. */
export interface ManagerOptions {
  /** Timings in ms; see Settings for each default. */
  readonly settings?: Partial<Settings>;
  /** Bytes per frame (ws maxPayload). Default 1 MiB. */
  readonly maxPayload?: number;
  /** Per-peer send buffer high-water mark in bytes; past it the peer is a slow consumer and is dropped. Default 16 MiB. */
  readonly sendBufferBytes?: number;
  /** Log every frame sent and received at debug level (the seed's LogTraffic). Default false. */
  readonly logTraffic?: boolean;
  /**
   * Accepted connections that have not proved the secret yet, at most (ws: from
   * the TCP accept). Past it a new connection is closed at once, and the
   * refusals are logged once per 5 s (RXC_ERR_HANDSHAKE_LIMIT). Outbound dials
   * are not counted, so a node under such a flood still joins the peers it
   * dials. Default 64.
   */
  readonly maxPendingHandshakes?: number;
  /** HTTP API options (the seed's APIEnabled, APITokenDuration, APITokenSigningKey). */
  readonly api?: {
    readonly enabled?: boolean;
    /** Token lifetime in ms. Default one hour. */
    readonly tokenDuration?: number;
    /** HMAC key for API tokens. Default: 32 random bytes per manager. */
    readonly signingKey?: string | Buffer;
    /**
     * Who may log in with `POST /api/v1/login`: username → `hashAdminPassword(password)`.
     * Never the cluster secret. Default none: the login route is off and tokens
     * come only from `manager.issueApiToken`.
     */
    readonly admins?: Readonly<Record<string, string>>;
    /**
     * `host:port` of a server of the API's own, started by `listen` and closed
     * by `shutdown`; the cluster port then answers HTTP requests 404. Default:
     * the API shares the cluster port.
     */
    readonly listen?: string;
  };
  /** Prometheus metrics, served at `GET /metrics` on the API: `{}` for a registry of this manager's own, or `{ registry, prefix }`. Default off. */
  readonly metrics?: MetricsOptions;
  /**
   * How nodes reach each other: `wsTransport()` (the default, a full mesh of
   * WebSockets), `network.transport()` of a MemoryNetwork in tests. One
   * transport per manager.
   */
  readonly transport?: Transport;
  /**
   * How quorum is decided from the agreed view: `{ strategy: 'majority' }` (the
   * default: the seed's rule), `{ strategy: 'static', size }`, `{ strategy:
   * 'keep-oldest' }` or `{ strategy: 'referee', node }`, each with an optional
   * `stableAfter` (ms). See the README's "Quorum and the agreed view".
   */
  readonly quorum?: QuorumStrategy;
  /** This node's tags and roles: a JSON object of at most 4 KiB, sent to peers in the handshake. Default `{}`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Drives every timing pipeline and log$ timestamps. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Jitter source in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/** Every option with its default applied, validated. */
export interface ResolvedOptions {
  readonly settings: Settings;
  readonly maxPayload: number;
  readonly sendBufferBytes: number;
  readonly logTraffic: boolean;
  readonly maxPendingHandshakes: number;
  readonly apiEnabled: boolean;
  readonly tokenDuration: number;
  readonly signingKey: string | Buffer;
  /** username → hashAdminPassword(password), checked (parsed) here. */
  readonly admins: Readonly<Record<string, string>>;
  /** The API's own `host:port`, or undefined: the cluster port. */
  readonly apiListen: string | undefined;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  readonly transport: Transport;
  readonly metadata: Metadata;
  readonly metrics: ResolvedMetricsOptions | undefined;
  readonly quorum: QuorumStrategy;
}

/**
 * Validates the constructor's arguments and applies the defaults.
 *
 * @throws TypeError naming the offending argument or option field; nothing is half-applied
 */
export function resolveOptions(name: string, authKey: Secret | Keyring, options: ManagerOptions): ResolvedOptions {
  if (isLeft(NodeName.decode(name))) throw new TypeError('Invalid name: expected 1 to 128 characters without control characters');
  parseKeyring(authKey);
  if (typeof options !== 'object' || options === null) throw new TypeError('Invalid options: expected an object');
  const key = options.api?.signingKey;
  if (key !== undefined && !((typeof key === 'string' || Buffer.isBuffer(key)) && key.length > 0)) {
    throw new TypeError('Invalid api.signingKey: expected a non-empty string or Buffer');
  }
  const admins = options.api?.admins ?? {};
  parseAdmins(admins);
  const apiListen = options.api?.listen;
  if (apiListen !== undefined) {
    try {
      if (typeof apiListen !== 'string') throw new TypeError('expected "host:port"');
      parseAddress(apiListen, true);
    } catch (error) {
      throw new TypeError(`Invalid api.listen: ${(error as Error).message}`, { cause: error });
    }
  }
  if (options.scheduler !== undefined && (typeof options.scheduler.now !== 'function' || typeof options.scheduler.schedule !== 'function')) {
    throw new TypeError('Invalid scheduler: expected an RxJS SchedulerLike');
  }
  if (options.random !== undefined && typeof options.random !== 'function') throw new TypeError('Invalid random: expected a function');
  const transport = options.transport;
  if (transport !== undefined && (typeof transport !== 'object' || transport === null || typeof transport.listen !== 'function' || typeof transport.dial$ !== 'function' || typeof transport.parseAddress !== 'function')) {
    throw new TypeError('Invalid transport: expected a Transport, such as wsTransport() or network.transport()');
  }
  return {
    settings: mergeSettings(DEFAULT_SETTINGS, options.settings),
    maxPayload: positiveInt('maxPayload', options.maxPayload, DEFAULT_MAX_PAYLOAD),
    sendBufferBytes: positiveInt('sendBufferBytes', options.sendBufferBytes, DEFAULT_SEND_BUFFER_BYTES),
    logTraffic: bool('logTraffic', options.logTraffic, false),
    maxPendingHandshakes: positiveInt('maxPendingHandshakes', options.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES),
    apiEnabled: bool('api.enabled', options.api?.enabled, true),
    tokenDuration: positiveInt('api.tokenDuration', options.api?.tokenDuration, DEFAULT_TOKEN_DURATION),
    signingKey: key ?? randomBytes(32),
    admins,
    apiListen,
    scheduler: options.scheduler ?? asyncScheduler,
    random: options.random ?? Math.random,
    metrics: resolveMetricsOptions(options.metrics),
    transport: transport ?? wsTransport(),
    metadata: options.metadata === undefined ? Object.freeze({}) : checkMetadata(options.metadata, 'metadata'),
    quorum: checkQuorum(options.quorum),
  };
}

/**
 * Checks the name `addNode` is given.
 *
 * @throws TypeError for a malformed name, or this node's own name `self`
 */
export function checkPeerName(name: string, self: string): void {
  if (isLeft(NodeName.decode(name))) throw new TypeError(`Invalid node name: expected 1 to 128 characters without control characters`);
  if (name === self) throw new TypeError(`Invalid node name: "${name}" is this node's own name`);
}

/** The quorum option, validated; the default is the majority rule. */
function checkQuorum(value: unknown): QuorumStrategy {
  if (value === undefined) return { strategy: 'majority' };
  const bad = (why: string): never => {
    throw new TypeError(`Invalid quorum: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return bad(`expected { strategy: 'majority' | 'static' | 'keep-oldest' | 'referee', ... }`);
  const q = value as Record<string, unknown>;
  const stableAfter = q.stableAfter;
  if (stableAfter !== undefined && (typeof stableAfter !== 'number' || !Number.isSafeInteger(stableAfter) || stableAfter < 0)) bad('stableAfter must be a whole number of ms, 0 or more');
  const extra: { stableAfter?: number } = typeof stableAfter === 'number' ? { stableAfter } : {};
  switch (q.strategy) {
    case 'majority':
      return { strategy: 'majority', ...extra };
    case 'keep-oldest':
      return { strategy: 'keep-oldest', ...extra };
    case 'static':
      if (typeof q.size !== 'number' || !Number.isSafeInteger(q.size) || q.size < 1) bad('static needs size, a whole number of nodes, 1 or more');
      return { strategy: 'static', size: q.size as number, ...extra };
    case 'referee':
      if (isLeft(NodeName.decode(q.node))) bad('referee needs node, a node name');
      return { strategy: 'referee', node: q.node as string, ...extra };
    default:
      return bad(`unknown strategy ${JSON.stringify(q.strategy)}; expected 'majority', 'static', 'keep-oldest' or 'referee'`);
  }
}

export type { TlsOptions } from './transport/types.js';

function positiveInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`Invalid ${field}: expected a positive whole number`);
  }
  return value;
}

function bool(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`Invalid ${field}: expected a boolean`);
  return value;
}
