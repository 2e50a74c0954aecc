import type { Observable, Observer } from 'rxjs';
import type * as t from 'io-ts';
import type { LogEntry } from './log.js';
import type { ApiClusterNode } from './membership/snapshot.js';
import type { View } from './membership/view.js';
import type { Channel, RequestOptions } from './messaging.js';
import type { AnyRegistry } from './metrics/index.js';
import type { IncomingRequest, Packet } from './packet.js';
import type { Keyring, Secret } from './protocol/keyring.js';
import type { Settings } from './settings.js';
import type { TrafficStats } from './stats.js';
import type { RequestHandler, TlsOptions } from './transport/types.js';
import type { ApiRequest, MembershipEvent, NodeMessage, StateDump } from './types.js';

/**
 * What a cluster manager offers its application: observables out
 * (packets, membership, quorum, the view, logs), observers in (broadcast,
 * private messages), request/reply, channels, and the seed's methods.
 * `Manager` implements it; each member is documented here once.
 */
export interface ClusterManager {
  /** This node's name, unique in the cluster (1-128 characters). */
  readonly name: string;
  /** Application packets from peers (hot). */
  readonly fromCluster$: Observable<Packet>;
  /** Admin requests that came through the HTTP API (hot). */
  readonly fromClusterApi$: Observable<ApiRequest>;
  /** Joins and leaves, a leave with its reason (`shutdown`, `timeout`, `lost`, `removed`, `slow`, `restarted`…) (hot). */
  readonly membership$: Observable<MembershipEvent>;
  /** The name of each node that joined, after it survived joinDelay (hot). */
  readonly nodeJoin$: Observable<string>;
  /** The name of each joined node that left (hot). */
  readonly nodeLeave$: Observable<string>;
  /** Whether this node sees a majority: the current value at once, then each change. */
  readonly quorum$: Observable<boolean>;
  /** Every configured or connected peer (never self), replayed. */
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  /**
   * The agreed view, replayed: `{ id, members, converged }`. members: the
   * cluster's largest fully connected set as this node computes it from the
   * reachability reports (itself included unless it is outside that set);
   * id: a hash of them, equal on every node with the same members;
   * converged: every peer this node sees reports the same id.
   */
  readonly view$: Observable<View>;
  /** The view's lowest-named member while this node has quorum, else null; replayed. */
  readonly leader$: Observable<string | null>;
  /** Whom each node reports it sees (this node's own report included), replayed: the connectivity matrix. */
  readonly reachability$: Observable<ReadonlyMap<string, readonly string[]>>;
  /**
   * Back-pressure for producers: `true` while every peer's send buffer has
   * room, `false` once one peer has a quarter of `sendBufferBytes` unsent
   * (at once, if so already when subscribed), `true` again once all are down
   * to a sixteenth.
   */
  readonly writable$: Observable<boolean>;
  /** Requests from peers (hot): each an IncomingRequest to answer once with `reply(message)`. */
  readonly requests$: Observable<IncomingRequest>;
  /** Log entries (hot). */
  readonly log$: Observable<LogEntry>;
  /** Broadcast: each value goes to every online peer, never to self. Completing or erroring never stops the manager. */
  readonly toCluster$: Observer<unknown>;
  /** Private messages: `{ node, message }`. Completing or erroring never stops the manager. */
  readonly toNode$: Observer<NodeMessage>;
  /**
   * Asks `node` and waits for its reply: cold, one request per subscription;
   * emits the reply Packet and completes. Fails with a RequestError whose
   * code says why: RXC_ERR_REQUEST_TIMEOUT (no reply within `timeout`, or the
   * `requestTimeout` setting), RXC_ERR_NOT_CONFIGURED, RXC_ERR_NOT_ONLINE,
   * RXC_ERR_PEER_LEFT (it left while the request was pending), RXC_ERR_SEND.
   * Unsubscribing cancels: a late reply is dropped and counted.
   *
   * @example
   * m.request$('node2', { get: 'config' }, { timeout: 1000 }).subscribe((reply) => console.log(reply.message()));
   */
  request$(node: string, message: unknown, options?: RequestOptions): Observable<Packet>;
  /**
   * Messages under the name `name`, typed by an io-ts `codec` when given: a
   * message that fails it is logged (RXC_ERR_CHANNEL_DECODE, with the field
   * path) and dropped. Channel messages never appear on fromCluster$.
   *
   * @throws TypeError for a name that is not 1-128 characters without control characters
   */
  channel<T = unknown>(name: string, codec?: t.Decoder<unknown, T>): Channel<T>;
  /** This node's metadata now (its tags and roles, as peers see them). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /**
   * Replaces this node's metadata and tells every connected peer; each of
   * them emits a `membership$` `update` for this node.
   *
   * @throws TypeError when it is not a JSON object of at most 4 KiB
   */
  setMetadata(metadata: Readonly<Record<string, unknown>>): void;
  /**
   * Configures a peer to dial and accept (the seed's AddNode). May be called
   * before or after listen; calling it again with another address moves it
   * (a live connection stays; the next dial uses the new address).
   *
   * @param name - the peer's name
   * @param addr - where it listens, as the transport reads it (ws: `host:port`; none on NATS)
   * @throws TypeError for a malformed name or address, or this node's own name
   */
  addNode(name: string, addr?: string): void;
  /** Forgets a node and closes its connection (the seed's RemoveNode). */
  removeNode(name: string): void;
  /** Whether `name` is configured (the seed's NodeConfigured). */
  nodeConfigured(name: string): boolean;
  /** Every configured node (the seed's NodesConfigured). */
  nodesConfigured(): Record<string, boolean>;
  /**
   * Listens for peers and starts dialing the configured ones (the seed's ListenAndServe).
   *
   * @param addr - where to listen, as the transport reads it (ws: `host:port`, port 0 picks a free one)
   * @returns the bound address
   * @rejects Error when the address is malformed, the port busy, or the manager listens already
   */
  listen(addr?: string): Promise<string>;
  /**
   * Like `listen`, over TLS (the seed's ListenAndServeTLS): serves wss, and
   * dials every peer over TLS too, verifying it against `ca` when given.
   * With `requestCert`, TLS is mutual.
   *
   * @rejects Error when the address is malformed, the port busy, or the key or certificate unusable
   */
  listenTls(addr: string, tls: TlsOptions): Promise<string>;
  /**
   * Rotates the cluster secret with no restart and no leave: connections stay
   * up; new handshakes prove with `primary`, and proofs made with any of
   * `accepted` are taken. Roll out `{ primary: old, accepted: [new] }`, then
   * `{ primary: new, accepted: [old] }`, then `new` alone.
   *
   * @param keyring - a secret, or `{ primary, accepted?: [...] }`
   * @throws TypeError naming the field when the keyring is malformed; nothing changes then
   */
  setSecrets(keyring: Secret | Keyring): void;
  /**
   * Swaps this node's TLS key and certificate (and CAs) with no leave: open
   * connections keep theirs; new connections, both accepted and dialed, use
   * the new ones. The API's own HTTPS server (`api.listen`) too. Logs the
   * new certificate's subject, SHA-256 fingerprint and expiry (info).
   *
   * @throws Error when the manager does not listen with TLS; TypeError or the TLS error for unusable material (nothing changes then)
   */
  updateTls(tls: Pick<TlsOptions, 'key' | 'cert' | 'ca'>): void;
  /** Applies new settings to every running pipeline (the seed's UpdateSettings). @throws TypeError naming the offending field; nothing is applied then */
  updateSettings(settings: Partial<Settings>): void;
  /** The settings in force. */
  readonly settings: Settings;
  /** The bound address of the API's own server (`api.listen`), once listening; null when the API has none. */
  readonly apiAddress: string | null;
  /** The bound address, once listening. */
  readonly address: string | null;
  /** The most unsent bytes queued for any one peer: past `sendBufferBytes` that peer is dropped as a slow consumer. */
  readonly bufferedAmount: number;
  /** Logs the current state and returns it (the seed's StateDump). */
  stateDump(): StateDump;
  /** A signed token for the admin API (the seed's apiMakeKey): HS256 with `api.signingKey`, valid for `api.tokenDuration`. */
  issueApiToken(username: string): string;
  /** The HTTP API as a Node request handler, to mount in your own server (also served on the cluster port while `api.enabled`). */
  readonly requestHandler: RequestHandler;
  /** Tells peers, closes connections and completes every stream. Idempotent: a second call returns the first call's Promise. */
  shutdown(): Promise<void>;
  /** The prom-client Registry holding this manager's metrics (the `metrics` option's, or its own), or undefined when metrics are off. Its series leave it on shutdown. */
  readonly metricsRegistry: AnyRegistry | undefined;
  /** Traffic counters since this manager started: messages and bytes each way, redials, refusals by reason. */
  readonly stats: TrafficStats;
}
