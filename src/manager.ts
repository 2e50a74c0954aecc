import { BehaviorSubject, map, Subject, Subscription, tap, type Observable, type Observer } from 'rxjs';
import { ManagerApi } from './api/adapter.js';
import type { ClusterManager } from './clusterManager.js';
import { connections$ } from './connections.js';
import { CODES, type Code } from './limits.js';
import { listenAndServe, type Lifecycle } from './listen.js';
import { LogEntry, type LogLevel } from './log.js';
import { countsOf, isLinked, type ApiClusterNode } from './membership/index.js';
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
import { stop } from './shutdown.js';
import { describeState } from './stateDump.js';
import { TrafficStats } from './stats.js';
import { describeCertificate } from './tlsFiles.js';
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
export class Manager implements ClusterManager {
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

  readonly fromCluster$: Observable<Packet>;
  readonly fromClusterApi$: Observable<ApiRequest>;
  readonly membership$: Observable<MembershipEvent>;
  readonly nodeJoin$: Observable<string>;
  readonly nodeLeave$: Observable<string>;
  readonly quorum$: Observable<boolean>;
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  readonly view$: Observable<View>;
  readonly leader$: Observable<string | null>;
  readonly reachability$: Observable<ReadonlyMap<string, readonly string[]>>;
  readonly writable$: Observable<boolean>;
  readonly requests$: Observable<IncomingRequest>;
  readonly log$: Observable<LogEntry> = this.#log.asObservable();
  readonly toCluster$: Observer<unknown>;
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
    ({
      events$: this.membership$, nodeJoin$: this.nodeJoin$, nodeLeave$: this.nodeLeave$, members$: this.members$,
      quorum$: this.quorum$, view$: this.view$, leader$: this.leader$, reachability$: this.reachability$,
    } = this.#members);
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

  request$(node: string, message: unknown, options?: RequestOptions): Observable<Packet> {
    return this.#messaging.request$(node, message, options);
  }

  channel<T = unknown>(name: string, codec?: t.Decoder<unknown, T>): Channel<T> {
    return this.#messaging.channel(name, codec);
  }

  get metadata(): Readonly<Record<string, unknown>> {
    return this.#metadata;
  }

  setMetadata(metadata: Readonly<Record<string, unknown>>): void {
    this.#metadata = checkMetadata(metadata, 'metadata');
    if (this.#life.phase === 'listening') this.#outbox.metadata(this.#metadata, this.#members.links());
  }

  addNode(name: string, addr?: string): void {
    checkPeerName(name, this.name);
    const address = this.#transport.parseAddress(addr, 'dial');
    const known = this.#members.state.peers.get(name);
    if (this.#life.phase === 'stopping' || this.#life.phase === 'stopped' || (known?.configured === true && known.addr === address)) return;
    this.#members.input({ type: 'configure', name, addr: address });
    this.#emitLog('info', `node ${name} configured${address === '' ? '' : ` at ${address}`}`, name);
    this.#config.next({ name, addr: address });
  }

  removeNode(name: string): void {
    if (!this.nodeConfigured(name)) return;
    this.#members.input({ type: 'unconfigure', name });
    this.#config.next({ name, addr: undefined });
    this.#emitLog('info', `node ${name} removed`, name);
  }

  nodeConfigured(name: string): boolean {
    return this.#members.state.peers.get(name)?.configured === true;
  }

  nodesConfigured(): Record<string, boolean> {
    return Object.fromEntries(this.#members.configured().map((c) => [c.name, true]));
  }

  async listen(addr?: string): Promise<string> {
    return this.#listen(addr, undefined);
  }

  async listenTls(addr: string, tls: TlsOptions): Promise<string> {
    return this.#listen(addr, tls);
  }

  #listen(addr: string | undefined, tls: TlsOptions | undefined): Promise<string> {
    return listenAndServe(this.#life, addr, tls, {
      name: this.name, transport: this.#transport, api: this.#api, options: this.#o, settings$: this.#settings,
      secret: () => this.#keys.primary, secrets: () => this.#keys.all, weak: () => this.#weak, log: (level, message) => this.#emitLog(level, message),
      start: () => this.#subscription.add(this.#pipelines$().subscribe({ error: (e: unknown) => this.#emitLog('error', `internal fault: ${String(e)}`, undefined, CODES.SOCKET) })),
    });
  }

  setSecrets(keyring: Secret | Keyring): void {
    const keys = handshakeKeys(keyring, 'keyring');
    this.#keys = keys;
    this.#weak = weakSecret(keyring);
    this.#transport.updateSecrets?.(keys.all);
    this.#emitLog('info', `secrets updated: ${keys.all.length - 1} accepted besides the primary`);
  }

  updateTls(tls: Pick<TlsOptions, 'key' | 'cert' | 'ca'>): void {
    if (this.#life.phase !== 'listening' || this.#transport.updateTls === undefined) throw new Error(`updateTls: manager ${this.name} does not listen with TLS`);
    this.#transport.updateTls(tls);
    this.#api.updateTls(tls);
    this.#emitLog('info', `TLS key and certificate updated: now serving ${describeCertificate(tls.cert)}`);
  }

  updateSettings(settings: Partial<Settings>): void {
    this.#settings.next(mergeSettings(this.#settings.value, settings));
    this.#emitLog('info', `settings updated: ${JSON.stringify(settings)}`);
  }

  get settings(): Settings {
    return this.#settings.value;
  }

  get apiAddress(): string | null {
    return this.#life.apiAddress;
  }

  get address(): string | null {
    return this.#life.address;
  }

  get bufferedAmount(): number {
    return this.#outbox.bufferedAmount;
  }

  stateDump(): StateDump {
    const counts = countsOf(this.#members.state);
    const { dump, lines } = describeState(this.name, this.#life.phase, this.#life.address, counts, this.#settings.value, this.#members.members());
    for (const [message, node] of lines) this.#emitLog('info', message, node);
    return dump;
  }

  issueApiToken(username: string): string {
    return this.#api.issue(username);
  }

  get requestHandler(): RequestHandler {
    return this.#api.handler;
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= stop(this.#life, {
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
      session: { self: this.name, instance: this.#instance, incarnation: this.#incarnation, keys: () => this.#keys, settings$, scheduler, sendBufferBytes, logTraffic, isConfigured: (name) => this.nodeConfigured(name), isLinked: (name) => isLinked(this.#members.state, name), metadata: () => this.#metadata },
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

  get metricsRegistry(): AnyRegistry | undefined {
    return this.#metrics?.registry;
  }

  get stats(): TrafficStats {
    return this.#stats;
  }

  #emitLog(level: LogLevel, message: string, node?: string, code?: Code): void {
    this.#stats.logged(code);
    if (!this.#log.closed) this.#log.next(new LogEntry(new Date(this.#o.scheduler.now()), level, message, node, code));
  }
}
