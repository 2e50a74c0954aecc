import { BehaviorSubject, filter, map, Subject, Subscription, tap, type Observable, type Observer } from 'rxjs';
import { ManagerApi } from './api/adapter.js';
import { connections$ } from './connections.js';
import { CODES, type Code } from './limits.js';
import { listen, type Lifecycle } from './listen.js';
import { LogEntry, type LogLevel } from './log.js';
import { countsOf, type ApiClusterNode } from './membership/index.js';
import { LiveMembership } from './membership/live.js';
import type { View } from './membership/view.js';
import { clusterMetrics, type AnyRegistry, type ClusterMetrics } from './metrics/index.js';
import { checkPeerName, resolveOptions, type ManagerOptions, type ResolvedOptions } from './options.js';
import { Outbox } from './outbox.js';
import { IncomingRequest, Packet } from './packet.js';
import { Messaging, type Channel, type RequestOptions } from './messaging.js';
import { checkMetadata } from './metadata.js';
import type * as t from 'io-ts';
import { makeNonce } from './protocol/handshake.js';
import { handshakeKeys, weakSecret, type HandshakeKeys, type Keyring, type Secret } from './protocol/keyring.js';
import type { SessionEvent } from './session/session.js';
import { mergeSettings, type Settings } from './settings.js';
import { shutdown } from './shutdown.js';
import { describeState } from './stateDump.js';
import { TrafficStats } from './stats.js';
import type { RequestHandler, TlsOptions, Transport } from './transport/types.js';
import type { ApiRequest, MembershipEvent, NodeMessage, StateDump } from './types.js';

export type { ManagerOptions } from './options.js';
export type { TlsOptions } from './transport/types.js';
export type { Keyring, Secret } from './protocol/keyring.js';
export type { ApiRequest, MembershipEvent, NodeMessage, StateDump } from './types.js';
export type { View } from './membership/view.js';
export type { QuorumStrategy } from './protocol/quorum.js';

/**
 * The cluster manager: joins this named process to an authenticated cluster
 * of peers over its transport (a full mesh of WebSockets by default). Wiring
 * only: the membership is a fold (`membership/`), each connection a session
 * stream (`session/`), every rule about time an operator (`operators/`).
 *
 * @example
 * const m = new Manager('node1', 'a-secret-of-at-least-32-bytes!!!');
 * m.addNode('node2', '127.0.0.1:9655');
 * await m.listen('127.0.0.1:9654');
 * m.fromCluster$.subscribe((p) => console.log(p.name, p.message()));
 * m.nodeJoin$.subscribe(() => m.toCluster$.next('Hello World!'));
 */
export class Manager {
  readonly #o: ResolvedOptions;
  /** The stretched handshake keys; setSecrets swaps them. */
  #keys: HandshakeKeys;
  /** Why the primary secret is weak, logged at listen; undefined when it is not. */
  #weak: string | undefined;
  readonly #transport: Transport;
  /** Random per manager: tells this process apart from another with the same name. */
  readonly #instance = makeNonce();
  readonly #incarnation: number;
  readonly #settings: BehaviorSubject<Settings>;
  readonly #api: ManagerApi;
  readonly #members: LiveMembership;
  readonly #outbox: Outbox;
  readonly #config = new Subject<{ readonly name: string; readonly addr: string | undefined }>();
  readonly #log = new Subject<LogEntry>();
  readonly #subscription = new Subscription();
  readonly #stats = new TrafficStats();
  readonly #messaging: Messaging;
  #metadata: Readonly<Record<string, unknown>>;
  readonly #metrics: ClusterMetrics | undefined;
  readonly #life: Lifecycle = { phase: 'new', address: null, apiAddress: null };
  #shutdown: Promise<void> | undefined;

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
  readonly log$: Observable<LogEntry> = this.#log.asObservable();
  /** Broadcast: each value goes to every online peer, never to self. Completing or erroring never stops the manager. */
  readonly toCluster$: Observer<unknown>;
  /** Private messages: `{ node, message }`. Completing or erroring never stops the manager. */
  readonly toNode$: Observer<NodeMessage>;

  /**
   * @param name - this node's name, unique in the cluster (1-128 characters)
   * @param authKey - the cluster's shared secret; it never crosses the wire
   * @param options - see ManagerOptions
   * @throws TypeError naming the offending argument or option field
   */
  constructor(readonly name: string, authKey: Secret | Keyring, options: ManagerOptions = {}) {
    const o = (this.#o = resolveOptions(name, authKey, options));
    this.#keys = handshakeKeys(authKey);
    this.#weak = weakSecret(authKey);
    this.#transport = o.transport;
    this.#incarnation = Math.max(0, Math.round(o.scheduler.now()));
    this.#settings = new BehaviorSubject(o.settings);
    const log = (level: LogLevel, message: string, node?: string, code?: Code): void => this.#emitLog(level, message, node, code);
    this.#outbox = new Outbox(name, o, (level, message, node) => log(level, message, node, CODES.SEND), () => this.#members.links(), this.#stats);
    this.#members = new LiveMembership(
      name,
      {
        leave: (link) => this.#outbox.leave(link),
        log,
        gossip: (reports, to) => this.#outbox.reach(reports, to),
      },
      { inc: this.#incarnation, quorum: o.quorum, scheduler: o.scheduler, readTimeout$: this.#settings.pipe(map((s) => s.readTimeout)) },
    );
    this.membership$ = this.#members.events$;
    this.nodeJoin$ = this.membership$.pipe(filter((e) => e.type === 'join'), map((e) => e.node));
    this.nodeLeave$ = this.membership$.pipe(filter((e) => e.type === 'leave'), map((e) => e.node));
    this.members$ = this.#members.members$;
    this.quorum$ = this.#members.quorum$;
    this.view$ = this.#members.view$;
    this.leader$ = this.#members.leader$;
    this.reachability$ = this.#members.reachability$;
    const metrics = (this.#metrics = o.metrics === undefined ? undefined : clusterMetrics(this, o.metrics));
    const apiOptions = { enabled: o.apiEnabled, signingKey: o.signingKey, tokenDuration: o.tokenDuration, admins: o.admins, listen: o.apiListen, ...(metrics === undefined ? {} : { metrics: () => metrics.scrape() }) };
    this.#api = new ManagerApi(this, apiOptions, {
      log: (message, node) => this.#emitLog('info', message, node),
      reconnect: (node) => this.#members.state.peers.get(node)?.active?.end('lost', 'normal', 'reconnect requested'),
    });
    this.fromClusterApi$ = this.#api.requests$;
    this.writable$ = this.#outbox.writable$;
    const listening = (): boolean => this.#life.phase === 'listening';
    this.#messaging = new Messaging({
      outbox: this.#outbox, settings$: this.#settings.asObservable(), scheduler: o.scheduler, membership$: this.membership$, state: () => this.#members.state, onlineLinks: () => this.#members.onlineLinks(),
      listening, log, stats: this.#stats,
    });
    ({ fromCluster$: this.fromCluster$, requests$: this.requests$, toCluster$: this.toCluster$, toNode$: this.toNode$ } = this.#messaging);
    this.#metadata = o.metadata;
  }

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
  request$(node: string, message: unknown, options?: RequestOptions): Observable<Packet> {
    return this.#messaging.request$(node, message, options);
  }

  /**
   * Messages under the name `name`, typed by an io-ts `codec` when given: a
   * message that fails it is logged (RXC_ERR_CHANNEL_DECODE, with the field
   * path) and dropped. Channel messages never appear on fromCluster$.
   *
   * @throws TypeError for a name that is not 1-128 characters without control characters
   */
  channel<T = unknown>(name: string, codec?: t.Decoder<unknown, T>): Channel<T> {
    return this.#messaging.channel(name, codec);
  }

  /** This node's metadata now (its tags and roles, as peers see them). */
  get metadata(): Readonly<Record<string, unknown>> {
    return this.#metadata;
  }

  /**
   * Replaces this node's metadata and tells every connected peer; each of
   * them emits a `membership$` `update` for this node.
   *
   * @throws TypeError when it is not a JSON object of at most 4 KiB
   */
  setMetadata(metadata: Readonly<Record<string, unknown>>): void {
    this.#metadata = checkMetadata(metadata, 'metadata');
    if (this.#life.phase === 'listening') this.#outbox.metadata(this.#metadata, this.#members.links());
  }

  /**
   * Configures a peer to dial and accept (the seed's AddNode). May be called
   * before or after listen; calling it again with another address moves it
   * (a live connection stays; the next dial uses the new address).
   *
   * @param name - the peer's name
   * @param addr - where it listens, as the transport reads it (ws: `host:port`; none on NATS)
   * @throws TypeError for a malformed name or address, or this node's own name
   */
  addNode(name: string, addr?: string): void {
    checkPeerName(name, this.name);
    const address = this.#transport.parseAddress(addr, 'dial');
    const known = this.#members.state.peers.get(name);
    if (this.#life.phase === 'stopping' || this.#life.phase === 'stopped' || (known?.configured === true && known.addr === address)) return;
    this.#members.input({ type: 'configure', name, addr: address });
    this.#emitLog('info', `node ${name} configured${address === '' ? '' : ` at ${address}`}`, name);
    this.#config.next({ name, addr: address });
  }

  /** Forgets a node and closes its connection (the seed's RemoveNode). */
  removeNode(name: string): void {
    if (!this.nodeConfigured(name)) return;
    this.#members.input({ type: 'unconfigure', name });
    this.#config.next({ name, addr: undefined });
    this.#emitLog('info', `node ${name} removed`, name);
  }

  /** Whether `name` is configured (the seed's NodeConfigured). */
  nodeConfigured(name: string): boolean {
    return this.#members.state.peers.get(name)?.configured === true;
  }

  /** Every configured node (the seed's NodesConfigured). */
  nodesConfigured(): Record<string, boolean> {
    return Object.fromEntries(this.#members.configured().map((c) => [c.name, true]));
  }

  /**
   * Listens for peers and starts dialing the configured ones (the seed's ListenAndServe).
   *
   * @param addr - where to listen, as the transport reads it (ws: `host:port`, port 0 picks a free one)
   * @returns the bound address
   * @rejects Error when the address is malformed, the port busy, or the manager listens already
   */
  async listen(addr?: string): Promise<string> {
    return this.#listen(addr, undefined);
  }

  /**
   * Like `listen`, over TLS (the seed's ListenAndServeTLS): serves wss, and
   * dials every peer over TLS too, verifying it against `ca` when given.
   * With `requestCert`, TLS is mutual.
   *
   * @rejects Error when the address is malformed, the port busy, or the key or certificate unusable
   */
  async listenTls(addr: string, tls: TlsOptions): Promise<string> {
    return this.#listen(addr, tls);
  }

  #listen(addr: string | undefined, tls: TlsOptions | undefined): Promise<string> {
    return listen(this.#life, addr, tls, {
      name: this.name, transport: this.#transport, api: this.#api, options: this.#o, settings$: this.#settings,
      secret: () => this.#keys.primary, weak: () => this.#weak, log: (level, message) => this.#emitLog(level, message),
      start: () => this.#subscription.add(this.#pipelines$().subscribe({ error: (e: unknown) => this.#emitLog('error', `internal fault: ${String(e)}`, undefined, CODES.SOCKET) })),
    });
  }

  /**
   * Rotates the cluster secret with no restart and no leave: connections stay
   * up; new handshakes prove with `primary`, and proofs made with any of
   * `accepted` are taken. Roll out `{ primary: old, accepted: [new] }`, then
   * `{ primary: new, accepted: [old] }`, then `new` alone.
   *
   * @param keyring - a secret, or `{ primary, accepted?: [...] }`
   * @throws TypeError naming the field when the keyring is malformed; nothing changes then
   */
  setSecrets(keyring: Secret | Keyring): void {
    const keys = handshakeKeys(keyring, 'keyring');
    this.#keys = keys;
    this.#weak = weakSecret(keyring);
    this.#emitLog('info', `secrets updated: ${keys.all.length - 1} accepted besides the primary`);
  }

  /**
   * Swaps this node's TLS key and certificate (and CAs) with no leave: open
   * connections keep theirs; new connections, both accepted and dialed, use
   * the new ones. The API's own HTTPS server (`api.listen`) too.
   *
   * @throws Error when the manager does not listen with TLS; TypeError or the TLS error for unusable material (nothing changes then)
   */
  updateTls(tls: Pick<TlsOptions, 'key' | 'cert' | 'ca'>): void {
    if (this.#life.phase !== 'listening' || this.#transport.updateTls === undefined) throw new Error(`updateTls: manager ${this.name} does not listen with TLS`);
    this.#transport.updateTls(tls);
    this.#api.updateTls(tls);
    this.#emitLog('info', 'TLS key and certificate updated');
  }

  /** Applies new settings to every running pipeline (the seed's UpdateSettings). @throws TypeError naming the offending field; nothing is applied then */
  updateSettings(settings: Partial<Settings>): void {
    this.#settings.next(mergeSettings(this.#settings.value, settings));
    this.#emitLog('info', `settings updated: ${JSON.stringify(settings)}`);
  }

  /** The settings in force. */
  get settings(): Settings {
    return this.#settings.value;
  }

  /** The bound address of the API's own server (`api.listen`), once listening; null when the API has none. */
  get apiAddress(): string | null {
    return this.#life.apiAddress;
  }

  /** The bound address, once listening. */
  get address(): string | null {
    return this.#life.address;
  }

  /** The most unsent bytes queued for any one peer: past `sendBufferBytes` that peer is dropped as a slow consumer. */
  get bufferedAmount(): number {
    return this.#outbox.bufferedAmount;
  }

  /** Logs the current state and returns it (the seed's StateDump). */
  stateDump(): StateDump {
    const counts = countsOf(this.#members.state);
    const { dump, lines } = describeState(this.name, this.#life.phase, this.#life.address, counts, this.#settings.value, this.#members.members());
    for (const [message, node] of lines) this.#emitLog('info', message, node);
    return dump;
  }

  /** A signed token for the admin API (the seed's apiMakeKey): HS256 with `api.signingKey`, valid for `api.tokenDuration`. */
  issueApiToken(username: string): string {
    return this.#api.issue(username);
  }

  /** The HTTP API as a Node request handler, to mount in your own server (also served on the cluster port while `api.enabled`). */
  get requestHandler(): RequestHandler {
    return this.#api.handler;
  }

  /** Tells peers, closes connections and completes every stream. Idempotent: a second call returns the first call's Promise. */
  shutdown(): Promise<void> {
    this.#shutdown ??= shutdown(this.#life, {
      members: this.#members, outbox: this.#outbox, transport: this.#transport, api: this.#api, metrics: this.#metrics, subscription: this.#subscription,
      scheduler: this.#o.scheduler, settings$: this.#settings, log: (level, message) => this.#emitLog(level, message),
      streams: [this.#members, this.#messaging, this.#api, this.#config, this.#outbox, this.#settings, this.#log],
    });
    return this.#shutdown;
  }

  /** Every connection of a listening manager, each living its session. */
  #pipelines$(): Observable<unknown> {
    const settings$ = this.#settings.asObservable();
    const { scheduler, random, sendBufferBytes, logTraffic } = this.#o;
    return connections$({
      transport: this.#transport, settings$, state$: this.#members.state$, joined$: this.nodeJoin$, scheduler, random,
      configured: () => this.#members.configured(), config$: this.#config,
      failed: (name, error) => this.#members.input({ type: 'dialFailed', name, error: `dial failed: ${error.message}` }),
      redialed: () => this.#stats.reconnects++,
      log: (level, message, node, code) => this.#emitLog(level, message, node, code),
      session: { self: this.name, instance: this.#instance, incarnation: this.#incarnation, keys: () => this.#keys, settings$, scheduler, sendBufferBytes, logTraffic, isConfigured: (name) => this.nodeConfigured(name), metadata: () => this.#metadata },
    }).pipe(tap((event) => this.#route(event)));
  }

  /** One session event: packets to the application, logs to log$, the rest to the fold. */
  #route(event: SessionEvent): void {
    switch (event.type) {
      case 'packet':
        this.#members.countPacket(event.link.peer);
        this.#messaging.receive(event);
        return;
      case 'log':
        this.#emitLog(event.level, event.message, event.node, event.code);
        return;
      case 'lag':
        this.#stats.rtt(event.ms, event.link.peer);
        this.#members.input(event);
        return;
      default:
        this.#members.input(event.type === 'leaving' ? event : { ...event, time: this.#o.scheduler.now() });
    }
  }

  /** The prom-client Registry holding this manager's metrics (the `metrics` option's, or its own), or undefined when metrics are off. Its series leave it on shutdown. */
  get metricsRegistry(): AnyRegistry | undefined {
    return this.#metrics?.registry;
  }

  /** Traffic counters since this manager started: messages and bytes each way, redials, refusals by reason. */
  get stats(): TrafficStats {
    return this.#stats;
  }

  #emitLog(level: LogLevel, message: string, node?: string, code?: Code): void {
    this.#stats.logged(code);
    if (!this.#log.closed) this.#log.next(new LogEntry(new Date(this.#o.scheduler.now()), level, message, node, code));
  }
}
