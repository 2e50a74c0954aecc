import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { CloseCause, Code } from '../limits.js';

/** Why a connection closed, in the words every transport shares: see `CloseCause` in limits.ts. */
export type { CloseCause } from '../limits.js';

/**
 * What a transport reports about one connection. `close` is always the last
 * event. `local` is true when this side's transport detected the fault that
 * closed it (an oversized or invalid frame, a socket error) rather than the
 * peer closing; `error` carries that fault when there was one.
 */
export type SocketEvent =
  /**
   * A text frame arrives as a string, or as its UTF-8 bytes with `text`
   * set (the session then checks its MAC on the bytes as they came and
   * decodes them once); a binary frame as a Buffer without `text`.
   */
  | { readonly type: 'message'; readonly data: Buffer | string; readonly text?: boolean }
  | {
      readonly type: 'close';
      readonly cause: CloseCause;
      readonly reason: string;
      readonly local: boolean;
      readonly error?: Error;
    };

/**
 * One node-to-node connection, as the core sees it: frames in, frames out,
 * close. The core never touches a socket.
 */
export interface Connection {
  /** Unique per transport instance, growing: the newer connection has the larger id. */
  readonly id: number;
  /** `outbound` when this node dialed, `inbound` when it accepted. */
  readonly direction: 'inbound' | 'outbound';
  /** The other end, for logs only (ws: `host:port`; memory: its name). */
  readonly remote: string;
  /**
   * The connection's events. Subscribe once, at once: the subscription
   * attaches the listeners; it completes after the `close` event;
   * unsubscribing earlier terminates the connection.
   */
  readonly events$: Observable<SocketEvent>;
  /**
   * Queues one frame; a closed connection drops it silently. A text frame is
   * a string or a Buffer of UTF-8 text already encoded (so a broadcast
   * encodes once for all peers); with `binary`, the Buffer is sent as bytes
   * and arrives as a Buffer.
   */
  send(data: string | Buffer, binary?: boolean): void;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /**
   * Orderly close with a cause and a short reason the peer may see. Once
   * the close is under way, later calls do nothing.
   */
  close(cause: CloseCause, reason: string): void;
  /** Immediate close, for a dead or hostile peer: the peer sees `reset`, if anything. */
  terminate(): void;
  /**
   * True when the transport tells the peer's liveness itself (NATS: one
   * heartbeat per node on a shared subject): the session then sends no pings
   * of its own, and the transport delivers `pong` frames of its own making,
   * whose `id` is the receiver's clock minus the measured round trip. They
   * count as reads for readTimeout. Absent or false: the session pings.
   */
  readonly presence?: boolean;
  /**
   * True when nobody but the two ends can write a frame into this connection
   * or alter one: TLS, a transport that seals every frame itself (NATS), an
   * in-process network. Absent or false (plain ws): after the handshake the
   * session binds every frame to it with a MAC (protocol/frameAuth.ts).
   */
  readonly sealed?: boolean;
  /**
   * Called once by the session when the peer has proved the secret: the
   * transport lifts its pre-authentication limits (the frame size cap, the
   * count of pending handshakes). Optional: a transport without such limits omits it.
   */
  authenticated?(): void;
  /**
   * The names the peer's verified TLS certificate carries (SAN DNS names and
   * the subject CN), set by the ws transport on TLS connections when mutual
   * TLS (`requestCert`) is on; the session refuses a peer whose name is not
   * among them. Undefined otherwise.
   */
  readonly peerNames?: readonly string[];
}

/** A Node request handler, as `http.createServer` or express take. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** TLS material for `listenTls`: PEM strings or Buffers. */
export interface TlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** CA(s) peers' certificates must chain to; the system CAs when absent. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Require and verify a client certificate from dialing peers (mutual TLS). */
  readonly requestCert?: boolean;
  /** Refuse peers whose certificate does not verify. Default true. */
  readonly rejectUnauthorized?: boolean;
}

/** What the manager hands a transport when it starts listening. */
export interface ListenOptions {
  /** Bytes per frame: a bigger one closes its connection with `too-big`. */
  readonly maxPayload: number;
  /** Serve over TLS (ws: wss, and dial peers over TLS too). A transport without TLS rejects. */
  readonly tls?: TlsOptions;
  /** Serve this HTTP handler on the same port, where the transport has one (ws). */
  readonly requestHandler?: RequestHandler;
  /**
   * Accepted connections not yet authenticated, at most; past it a new one is
   * closed at once (and logged once per interval). Default 64.
   */
  readonly maxPendingHandshakes?: number;
  /** Ms an accepted connection may take from its accept to its upgrade (ws), read at each accept: connectTimeout. */
  readonly handshakeTimeout?: () => number;
  /** This node's name, for transports that route by name (NATS). */
  readonly self?: string;
  /** The cluster secret, for transports that seal every frame themselves (NATS: frame MACs). */
  readonly secret?: string | Buffer;
  /** Every secret of the keyring (stretched), the primary first: such a transport seals with the first and accepts any. */
  readonly secrets?: readonly Buffer[];
  /** The timings in force, live, for transports with presence of their own (NATS heartbeats every pingInterval). */
  readonly settings$?: Observable<{ readonly pingInterval: number; readonly readTimeout: number }>;
}

/** A transport's own log entry (a refused frame, a server failover), logged by the manager as is. */
export interface TransportLogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  /** The peer concerned, when known. */
  readonly node?: string;
  readonly code?: Code;
}

/**
 * Something the transport refused before it became a connection (a failed
 * TLS handshake, a bad HTTP upgrade), reported so the manager can log it.
 */
export interface Refusal {
  readonly remote: string;
  readonly reason: string;
  /**
   * `tls`: a certificate or TLS fault (logged as RXC_ERR_TLS); `overload`:
   * refused for maxPendingHandshakes (logged as RXC_ERR_HANDSHAKE_LIMIT);
   * `other` otherwise (debug).
   */
  readonly kind: 'tls' | 'overload' | 'other';
}

/** A dial that could not open a connection; `tls` when the fault was a certificate or TLS one. */
export class DialError extends Error {
  override readonly name = 'DialError';
  constructor(
    message: string,
    readonly tls: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Node-to-node transport: connections in, connections out, close. One
 * instance serves one manager. Addresses are opaque to the core: the
 * transport parses and checks them.
 */
export interface Transport {
  /** A short name for logs: `ws`, `nats`, `memory`. */
  readonly kind: string;
  /**
   * Checks an address and returns its canonical form (the form stored and
   * shown); `undefined` is allowed where the transport needs no address.
   *
   * @throws TypeError naming the address when it is malformed or missing
   */
  parseAddress(address: string | undefined, purpose: 'listen' | 'dial'): string;
  /**
   * Starts accepting; resolves the bound address in canonical form
   * (ws: port 0 picks one).
   *
   * @rejects when the address cannot be bound, or the transport listens already
   */
  listen(address: string, options: ListenOptions): Promise<string>;
  /** Accepted connections (hot). */
  readonly incoming$: Observable<Connection>;
  /** Connections refused before they were connections, for the log (hot). */
  readonly refused$: Observable<Refusal>;
  /**
   * A fresh connection per subscription: emits it once open, completes when
   * it closes, errors with a DialError when it cannot be opened within
   * `timeout` ms. Unsubscribing terminates it. The address is re-resolved on
   * every subscription.
   *
   * @param address - the peer's canonical address
   * @param peer - the peer's node name (transports that route by name use it)
   * @param timeout - ms for the connection to open
   */
  dial$(address: string, peer: string, timeout: number): Observable<Connection>;
  /**
   * Optional fast path: queue one frame on several connections at once. A
   * transport with fan-out of its own (NATS) makes it one publish; absent,
   * the manager sends to each connection.
   */
  broadcast?(data: Buffer, connections: readonly Connection[]): void;
  /**
   * Optional: serve new connections and dial with a new key and certificate,
   * keeping every open connection (ws with TLS).
   *
   * @throws Error when the transport does not listen with TLS
   */
  updateTls?(tls: Pick<TlsOptions, 'key' | 'cert' | 'ca'>): void;
  /**
   * The keyring changed (`setSecrets`): for a transport that seals frames
   * itself (NATS), the stretched secrets, the primary first. New frames and
   * new connections are sealed with the primary; frames and openings sealed
   * with any of them are accepted. Open connections keep their keys.
   */
  updateSecrets?(secrets: readonly Buffer[]): void;
  /** Optional: what the transport has to say on its own (hot); the manager logs it. */
  readonly log$?: Observable<TransportLogEntry>;
  /** Stops accepting and closes every connection. Idempotent. */
  close(): Promise<void>;
}
