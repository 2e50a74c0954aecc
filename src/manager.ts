import {
  BehaviorSubject,
  concat,
  concatMap,
  defer,
  EMPTY,
  filter,
  firstValueFrom,
  from,
  groupBy,
  ignoreElements,
  map,
  merge,
  mergeMap,
  NEVER,
  of,
  race,
  shareReplay,
  Subject,
  Subscription,
  switchMap,
  take,
  tap,
  timer,
  type Observable,
  type Observer,
  type SchedulerLike,
} from 'rxjs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { jwt } from './api/jwt.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { createApiHandler } from './api/handler.js';
import { registerManager, unregisterManager, type ApiTarget, type RequestHandler } from './api/registry.js';
import { formatAddress, parseAddress } from './address.js';
import { CLOSE, CODES, type Code } from './limits.js';
import { LogEntry, type LogLevel } from './log.js';
import { backpressure } from './operators/backpressure.js';
import { joinDelay } from './operators/joinDelay.js';
import { quorum } from './operators/quorum.js';
import { reconnectBackoff } from './operators/reconnectBackoff.js';
import { resolveDuplicates, type ConnectionEvent } from './operators/resolveDuplicates.js';
import { Packet } from './packet.js';
import { PeerTable, type ApiClusterNode } from './peers.js';
import { encodeMsg, NodeName, outgoingProblem } from './protocol/frames.js';
import { hasQuorum } from './protocol/quorum.js';
import { makeNonce } from './protocol/handshake.js';
import { session$, type LeaveReason, type Link, type SessionContext } from './session.js';
import { mergeSettings, type Settings } from './settings.js';
import { WsTransport } from './transport/ws.js';
import { resolveOptions, tlsTransportOptions, type ManagerOptions, type TlsOptions } from './options.js';

export type { ManagerOptions, TlsOptions } from './options.js';
import type { Connection, HostPort, Transport } from './transport/types.js';

/** A private message for one node (the seed's NodeMessage). */
export interface NodeMessage {
  readonly node: string;
  readonly message: unknown;
}

/** An admin request that came through the HTTP API (the seed's APIRequest). */
export interface ApiRequest {
  readonly action: string;
  readonly manager: string;
  readonly node: string;
  readonly data: string;
}

/** A join or a leave, as `membership$` tells it. */
export type MembershipEvent =
  | { readonly type: 'join'; readonly node: string; readonly time: Date }
  | { readonly type: 'leave'; readonly node: string; readonly reason: LeaveReason; readonly time: Date };

/** The state dump of `stateDump()`. */
export interface StateDump {
  readonly name: string;
  readonly state: 'new' | 'listening' | 'stopping' | 'stopped';
  readonly address: string | null;
  readonly quorum: boolean;
  readonly settings: Settings;
  readonly nodes: Record<string, ApiClusterNode>;
}

type State = StateDump['state'];
type ConfigChange = { readonly name: string; readonly addr: HostPort | undefined };

/** Producers are told to wait once a peer has a quarter of sendBufferBytes unsent… */
const HIGH_WATER_DIVISOR = 4;
/** …and to go on once every peer is down to a sixteenth. */
const LOW_WATER_DIVISOR = 16;
/** A shared secret shorter than this is logged as weak. */
const MIN_SECRET_BYTES = 16;
/** The longest shutdown waits for peers to acknowledge its close, in ms. */
const SHUTDOWN_GRACE = 1000;

/**
 * The cluster manager: joins this named process to an authenticated
 * full mesh of peers.
 *
 * @example
 * const m = new Manager('node1', 'secret');
 * m.addNode('node2', '127.0.0.1:9655');
 * await m.listen('127.0.0.1:9654');
 * m.fromCluster$.subscribe((p) => console.log(p.name, p.message()));
 * m.toCluster$.next('Hello World!');
 */
export class Manager implements ApiTarget {
  readonly #secret: string | Buffer;
  /** Random per manager: tells this process apart from another with the same name. */
  readonly #instance = makeNonce();
  readonly #scheduler: SchedulerLike;
  readonly #random: () => number;
  readonly #maxPayload: number;
  readonly #sendBufferBytes: number;
  readonly #logTraffic: boolean;
  readonly #apiEnabled: boolean;
  readonly #tokenDuration: number;
  readonly #signingKey: string | Buffer;

  readonly #settings: BehaviorSubject<Settings>;
  readonly #peers = new PeerTable();
  readonly #config = new Subject<ConfigChange>();
  readonly #links = new Subject<ConnectionEvent<Link>>();
  readonly #membershipEvents = new Subject<MembershipEvent>();
  readonly #nodeJoin = new Subject<string>();
  readonly #nodeLeave = new Subject<string>();
  readonly #fromCluster = new Subject<Packet>();
  readonly #fromClusterApi = new Subject<ApiRequest>();
  readonly #log = new Subject<LogEntry>();
  readonly #counts: BehaviorSubject<{ configured: number; online: number }>;
  readonly #subscription = new Subscription();
  readonly #pressure = new Subject<void>();

  #state: State = 'new';
  #address: string | null = null;
  #transport: Transport | undefined;
  #shutdown: Promise<void> | undefined;
  #requestHandler: RequestHandler | undefined;

  /** Application packets from peers (hot). */
  readonly fromCluster$: Observable<Packet> = this.#fromCluster.asObservable();
  /** Admin requests that came through the HTTP API (hot). */
  readonly fromClusterApi$: Observable<ApiRequest> = this.#fromClusterApi.asObservable();
  /** The name of each node that joined, after it survived joinDelay (hot). */
  readonly nodeJoin$: Observable<string> = this.#nodeJoin.asObservable();
  /** The name of each joined node that left (hot). */
  readonly nodeLeave$: Observable<string> = this.#nodeLeave.asObservable();
  /**
   * Joins and leaves with their details: a leave says why (`shutdown`: the
   * peer announced it; `timeout`: silent past readTimeout; `lost`: the
   * connection broke; `removed`: removeNode; `slow`: slow consumer) (hot).
   */
  readonly membership$: Observable<MembershipEvent> = this.#membershipEvents.asObservable();
  /** Whether this node sees a majority: the current value at once, then each change. */
  readonly quorum$: Observable<boolean>;
  /** Every configured or connected peer (never self), replayed. */
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  /**
   * Back-pressure for producers: `true` (the current value at once) while
   * every peer's send buffer has room, `false` once one peer has a quarter of
   * `sendBufferBytes` unsent, `true` again once all are down to a sixteenth.
   * A fast producer pauses on `false` instead of having a slow peer dropped.
   *
   * @example
   * const writable = await firstValueFrom(m.writable$.pipe(filter(Boolean)));
   */
  readonly writable$: Observable<boolean>;
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
  constructor(
    readonly name: string,
    authKey: string | Buffer,
    options: ManagerOptions = {},
  ) {
    const o = resolveOptions(name, authKey, options);
    this.#secret = authKey;
    this.#settings = new BehaviorSubject(o.settings);
    this.#maxPayload = o.maxPayload;
    this.#sendBufferBytes = o.sendBufferBytes;
    this.#logTraffic = o.logTraffic;
    this.#apiEnabled = o.apiEnabled;
    this.#tokenDuration = o.tokenDuration;
    this.#signingKey = o.signingKey;
    this.#scheduler = o.scheduler;
    this.#random = o.random;

    this.#counts = new BehaviorSubject({ configured: 0, online: 0 });
    this.quorum$ = this.#counts.pipe(quorum(), shareReplay({ bufferSize: 1, refCount: false }));
    this.members$ = this.#peers.members$;
    this.writable$ = this.#pressure.pipe(
      backpressure(() => this.bufferedAmount, { lowWater: this.#sendBufferBytes / LOW_WATER_DIVISOR, scheduler: this.#scheduler }),
      shareReplay({ bufferSize: 1, refCount: false }),
    );
    this.toCluster$ = {
      next: (message) => this.#broadcast(message),
      error: (error: unknown) => this.#emitLog('warn', `a stream piped into toCluster$ failed: ${String(error)}`, undefined, CODES.SEND),
      complete: () => undefined,
    };
    this.toNode$ = {
      next: (message) => this.#sendTo(message),
      error: (error: unknown) => this.#emitLog('warn', `a stream piped into toNode$ failed: ${String(error)}`, undefined, CODES.SEND),
      complete: () => undefined,
    };
    registerManager(this);
  }

  /**
   * Configures a peer to dial and accept (the seed's AddNode). May be called
   * before or after listen; calling it again with another address moves it.
   *
   * @param name - the peer's name
   * @param addr - `host:port` where it listens
   * @throws TypeError for a malformed name or address, or this node's own name
   */
  addNode(name: string, addr: string): void {
    if (isLeft(NodeName.decode(name))) throw new TypeError(`Invalid node name: expected 1 to 128 characters without control characters`);
    if (name === this.name) throw new TypeError(`Invalid node name: "${name}" is this node's own name`);
    const address = parseAddress(addr, false);
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const formatted = formatAddress(address);
    if (this.#peers.isConfigured(name) && this.#peers.addrOf(name) === formatted) return;
    this.#peers.configure(name, formatted);
    this.#updateCounts();
    this.#emitLog('info', `node ${name} configured at ${formatted}`, name);
    this.#config.next({ name, addr: address });
  }

  /** Forgets a node and closes its connection (the seed's RemoveNode). */
  removeNode(name: string): void {
    if (!this.#peers.isConfigured(name)) return;
    this.#peers.unconfigure(name);
    this.#updateCounts();
    // close first, in order: cancelling the dial loop would cut an outbound link without its close code
    this.#peers.active(name)?.end('removed', CLOSE.REMOVED, 'removed from configuration');
    this.#config.next({ name, addr: undefined });
    this.#emitLog('info', `node ${name} removed`, name);
  }

  /** Whether `name` is configured (the seed's NodeConfigured). */
  nodeConfigured(name: string): boolean {
    return this.#peers.isConfigured(name);
  }

  /** Every configured node (the seed's NodesConfigured). */
  nodesConfigured(): Record<string, boolean> {
    return this.#peers.configured();
  }

  /**
   * Listens for peers and starts dialing the configured ones (the seed's
   * ListenAndServe).
   *
   * @param addr - `host:port`; port 0 picks a free one
   * @returns the bound address
   * @rejects Error when the address is malformed, the port busy, or already listening
   */
  async listen(addr: string): Promise<string> {
    return this.#listen(addr, undefined);
  }

  /**
   * Like `listen`, over TLS (the seed's ListenAndServeTLS): serves wss, and
   * dials every peer over TLS too, verifying it against `ca` when given.
   * With `requestCert`, TLS is mutual: a node without a certificate the
   * cluster's CA signed can neither dial in nor be dialed.
   *
   * @param addr - `host:port`; port 0 picks a free one
   * @param tls - PEM key and certificate of this node, the CA, and whether to require client certificates
   * @returns the bound address
   * @rejects Error when the address is malformed, the port busy, or the key or certificate unusable
   */
  async listenTls(addr: string, tls: TlsOptions): Promise<string> {
    return this.#listen(addr, tls);
  }

  async #listen(addr: string, tls: TlsOptions | undefined): Promise<string> {
    const address = parseAddress(addr, true);
    if (this.#state !== 'new') throw new Error(`cannot listen: manager ${this.name} is ${this.#state}`);
    this.#state = 'listening';
    let t: Transport;
    try {
      this.#requestHandler = this.#apiEnabled ? createApiHandler(this) : undefined;
      t = new WsTransport({
        maxPayload: this.#maxPayload,
        ...(this.#requestHandler === undefined ? {} : { requestHandler: this.#requestHandler }),
        onRefused: (remote, reason, kind) =>
          kind === 'tls'
            ? this.#emitLog('warn', `refused ${remote}: ${reason}`, undefined, CODES.TLS)
            : this.#emitLog('debug', `refused ${remote}: ${reason}`),
        ...(tls === undefined ? {} : tlsTransportOptions(tls)),
      });
    } catch (error) {
      this.#state = 'new';
      throw new Error(`cannot listen on ${addr}: ${(error as Error).message}`, { cause: error });
    }
    let bound: HostPort;
    try {
      bound = await t.listen(address);
    } catch (error) {
      // a failed listen leaves the manager usable, unless it was shut down meanwhile
      if (this.#state === 'listening') this.#state = 'new';
      await t.close();
      throw error;
    }
    if (this.#state !== 'listening') {
      // shutdown() ran while the port was being bound: it could not close this transport
      await t.close();
      throw new Error(`cannot listen on ${addr}: manager ${this.name} was shut down meanwhile`);
    }
    this.#transport = t;
    this.#address = formatAddress(bound);
    this.#subscription.add(this.#pipelines$(t).subscribe());
    this.#emitLog('info', `listening on ${this.#address}`);
    if (Buffer.byteLength(this.#secret) < MIN_SECRET_BYTES) {
      this.#emitLog('warn', `the shared secret is only ${Buffer.byteLength(this.#secret)} bytes: one overheard handshake lets it be guessed offline; use ${MIN_SECRET_BYTES} or more random bytes`);
    }
    return this.#address;
  }

  /**
   * Applies new settings to every running pipeline (the seed's UpdateSettings).
   *
   * @param settings - the fields to change, in ms
   * @throws TypeError naming the offending field; nothing is applied then
   */
  updateSettings(settings: Partial<Settings>): void {
    const next = mergeSettings(this.#settings.value, settings);
    this.#settings.next(next);
    this.#emitLog('info', `settings updated: ${JSON.stringify(settings)}`);
  }

  /** The settings in force. */
  get settings(): Settings {
    return this.#settings.value;
  }

  /** The bound address, once listening. */
  get address(): string | null {
    return this.#address;
  }

  /**
   * The most unsent bytes queued for any one peer. A fast producer can pace
   * itself on it: past `sendBufferBytes` that peer is dropped as a slow consumer.
   */
  get bufferedAmount(): number {
    let most = 0;
    for (const link of this.#peers.links()) most = Math.max(most, link.conn.bufferedAmount);
    return most;
  }

  /** Logs the current state and returns it (the seed's StateDump). */
  stateDump(): StateDump {
    const nodes: Record<string, ApiClusterNode> = {};
    for (const [name, node] of this.#peers.snapshot()) nodes[name] = node;
    const counts = this.#counts.value;
    const dump: StateDump = {
      name: this.name,
      state: this.#state,
      address: this.#address,
      quorum: hasQuorum(counts.configured, counts.online),
      settings: this.#settings.value,
      nodes,
    };
    this.#emitLog('info', `state: ${this.#state}, address ${this.#address ?? 'none'}, quorum ${dump.quorum}, ${counts.online}/${counts.configured} peers online`);
    for (const node of Object.values(nodes)) {
      this.#emitLog('info', `node ${node.name} at ${node.addr}: ${node.status}, lag ${node.lag} ms, ${node.packets} packets${node.error === '' ? '' : `, error: ${node.error}`}`, node.name);
    }
    return dump;
  }

  /**
   * A signed token for the admin API (the seed's apiMakeKey): HS256 with
   * `api.signingKey`, valid for `api.tokenDuration`.
   */
  issueApiToken(username: string): string {
    if (typeof username !== 'string' || username.length === 0 || username.length > 128) {
      throw new TypeError('Invalid username: expected 1 to 128 characters');
    }
    return jwt().sign({ sub: username, mgr: this.name }, this.#signingKey, {
      algorithm: 'HS256',
      expiresIn: Math.max(1, Math.floor(this.#tokenDuration / 1000)),
    });
  }

  /** Whether the HTTP API is enabled for this manager. */
  get apiEnabled(): boolean {
    return this.#apiEnabled;
  }

  /**
   * The username of a valid token for this manager (HS256 with this
   * manager's signing key, not expired), or undefined.
   */
  verifyApiToken(token: string): string | undefined {
    try {
      const payload = jwt().verify(token, this.#signingKey, { algorithms: ['HS256'] });
      if (typeof payload !== 'object' || typeof payload.sub !== 'string' || payload['mgr'] !== this.name) return undefined;
      return payload.sub;
    } catch {
      return undefined;
    }
  }

  /** Whether `secret` is the cluster secret, compared in constant time. */
  checkSecret(secret: string): boolean {
    const digest = (value: string | Buffer): Buffer => createHash('sha256').update(value).digest();
    return typeof secret === 'string' && timingSafeEqual(digest(secret), digest(this.#secret));
  }

  /** The current members, counters included. */
  membersNow(): ReadonlyMap<string, ApiClusterNode> {
    return this.#peers.snapshot();
  }

  /** The current quorum. */
  quorumNow(): boolean {
    const counts = this.#counts.value;
    return hasQuorum(counts.configured, counts.online);
  }

  /**
   * Emits an admin request on fromClusterApi$, as the HTTP API does. The
   * built-in action `reconnect` also drops that node's connection, so it is
   * redialed.
   */
  apiRequest(action: string, node: string, data: string): void {
    if (this.#fromClusterApi.closed) return;
    this.#emitLog('info', `API request ${action} for ${node}`, node);
    if (action === 'reconnect') this.#peers.active(node)?.end('lost', CLOSE.NORMAL, 'reconnect requested');
    this.#fromClusterApi.next({ action, manager: this.name, node, data });
  }

  /**
   * The HTTP API as a Node request handler, to mount in your own http server
   * or express app (it is also served on the cluster port while `api.enabled`).
   */
  get requestHandler(): RequestHandler {
    this.#requestHandler ??= createApiHandler(this);
    return this.#requestHandler;
  }

  /**
   * Tells peers, closes sockets and completes every stream. Idempotent: a
   * second call returns the first call's Promise.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  async #stop(): Promise<void> {
    const wasListening = this.#state === 'listening';
    this.#state = 'stopping';
    if (wasListening) {
      this.#emitLog('info', 'shutting down');
      this.#peers.stopping();
      const links = [...this.#peers.links()];
      const leave = '{"type":"leave"}';
      for (const link of links) {
        link.send(leave);
        link.end('stopping', CLOSE.GOING_AWAY, 'shutting down');
      }
      if (links.length > 0) {
        // give the close handshakes a moment, bounded, so peers see an orderly leave
        const allClosed$ = this.#links.pipe(filter(() => this.#peers.links().next().done === true), take(1));
        const bound = Math.min(this.#settings.value.connectTimeout, SHUTDOWN_GRACE);
        await firstValueFrom(race(allClosed$, timer(bound, this.#scheduler)), { defaultValue: undefined });
        // a peer that did not finish the close in time (frozen, partitioned) is cut
        for (const link of links) link.conn.terminate();
      }
    }
    this.#subscription.unsubscribe();
    unregisterManager(this);
    await this.#transport?.close();
    this.#state = 'stopped';
    this.#emitLog('info', 'stopped');
    for (const subject$ of [this.#nodeJoin, this.#nodeLeave, this.#fromCluster, this.#fromClusterApi, this.#config, this.#links, this.#membershipEvents, this.#pressure]) {
      subject$.complete();
    }
    this.#counts.complete();
    this.#settings.complete();
    this.#peers.complete();
    this.#log.complete();
  }

  /** Every pipeline of a listening manager, as one Observable. */
  #pipelines$(transport: Transport): Observable<never> {
    const settings$ = this.#settings.asObservable();
    const accepted$ = transport.incoming$.pipe(map((conn) => ({ conn, expected: undefined as string | undefined })));
    const initial = (): ConfigChange[] =>
      Object.keys(this.#peers.configured()).map((name) => ({ name, addr: parseAddress(this.#peers.addrOf(name) ?? '', false) }));
    const dialed$ = concat(defer(() => from(initial())), this.#config).pipe(
      groupBy((change) => change.name),
      mergeMap((changes$) =>
        changes$.pipe(switchMap((change) => (change.addr === undefined ? EMPTY : this.#dialLoop$(change.name, change.addr, transport)))),
      ),
    );
    const sessions$ = merge(accepted$, dialed$).pipe(
      mergeMap(({ conn, expected }) => session$(conn, expected, this.#sessionContext(settings$))),
    );
    const membership$ = this.#links.pipe(
      groupBy((event) => event.conn.peer),
      mergeMap((events$) =>
        events$.pipe(
          resolveDuplicates(),
          tap((decision) => {
            this.#peers.setActive(events$.key, decision.active);
            for (const loser of decision.close) {
              this.#emitLog('debug', `duplicate connection to ${loser.peer} closed (keeping the one dialed by ${decision.active?.dialer ?? '?'})`, loser.peer, CODES.DUPLICATE);
              loser.end('duplicate', CLOSE.DUPLICATE, 'duplicate connection');
            }
          }),
          map((decision) => decision.active !== undefined),
          joinDelay(settings$, this.#scheduler),
          tap((change) => this.#membership(events$.key, change)),
        ),
      ),
    );
    return merge(membership$, sessions$).pipe(ignoreElements());
  }

  /** Redials one configured peer for as long as it stays configured. */
  #dialLoop$(name: string, addr: HostPort, transport: Transport): Observable<{ conn: Connection; expected: string }> {
    const idle$ = defer(() =>
      this.#peers.hasActive(name) ? this.#peers.active$.pipe(filter((e) => e.peer === name && !e.active), take(1)) : of(null),
    );
    return idle$.pipe(
      // no new dial once stopping: a link made during the shutdown grace would get no leave notice
      concatMap(() => (this.#state === 'listening' ? transport.dial$(addr, this.#settings.value.connectTimeout) : NEVER)),
      tap({
        error: (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          this.#peers.setError(name, `dial failed: ${message}`);
          const tlsCode = (error as { code?: unknown }).code;
          if (typeof tlsCode === 'string' && /CERT|SELF_SIGNED|TLS|SSL|VERIFY/.test(tlsCode)) {
            this.#emitLog('warn', `refused ${name} at ${formatAddress(addr)}: its certificate does not verify (${message})`, name, CODES.TLS);
          } else {
            this.#emitLog('debug', `dialing ${name} at ${formatAddress(addr)} failed: ${message}`, name, CODES.DIAL);
          }
        },
      }),
      reconnectBackoff(this.#settings.asObservable(), {
        reset$: this.#membershipEvents.pipe(filter((e) => e.type === 'join' && e.node === name)),
        scheduler: this.#scheduler,
        random: this.#random,
      }),
      map((conn) => ({ conn, expected: name })),
    );
  }

  #sessionContext(settings$: Observable<Settings>): SessionContext {
    return {
      self: this.name,
      instance: this.#instance,
      secret: this.#secret,
      settings$,
      scheduler: this.#scheduler,
      sendBufferBytes: this.#sendBufferBytes,
      logTraffic: this.#logTraffic,
      isConfigured: (name) => this.#peers.isConfigured(name),
      refusal: (name, instance) => {
        const active = this.#peers.active(name);
        return active === undefined || active.instance === instance
          ? undefined
          : `${name} is already connected from another process (instance ${active.instance.slice(0, 8)}, not ${instance.slice(0, 8)}); refused`;
      },
      log: (level, message, node, code) => this.#emitLog(level, message, node, code),
      up: (link) => {
        if (!this.#peers.isConfigured(link.peer)) {
          // removed while its handshake ran
          link.end('removed', CLOSE.REMOVED, 'not configured');
          return;
        }
        this.#links.next({ type: 'up', conn: link });
        if (this.#state === 'stopping') {
          // a link that finished its handshake during the shutdown grace: tell it at once
          link.send('{"type":"leave"}');
          link.end('stopping', CLOSE.GOING_AWAY, 'shutting down');
        }
      },
      down: (link, reason) => {
        this.#peers.ending(link.peer, link, reason);
        this.#links.next({ type: 'down', conn: link });
      },
      leaving: (link) => this.#peers.setStatus(link.peer, 'Leaving'),
      packet: (link, frame) => {
        this.#peers.countPacket(link.peer);
        this.#fromCluster.next(new Packet(link.peer, new Date(frame.time), frame.data));
      },
      lag: (link, ms) => this.#peers.lag(link.peer, ms),
    };
  }

  #membership(name: string, change: 'join' | 'leave'): void {
    if (this.#state !== 'listening') return;
    const time = new Date(this.#scheduler.now());
    if (change === 'join') {
      this.#peers.join(name, time);
      this.#updateCounts();
      this.#emitLog('info', `node ${name} joined`, name);
      this.#membershipEvents.next({ type: 'join', node: name, time });
      this.#nodeJoin.next(name);
    } else {
      const reason = this.#peers.leave(name);
      this.#updateCounts();
      this.#emitLog('info', `node ${name} left (${reason})`, name);
      this.#membershipEvents.next({ type: 'leave', node: name, reason, time });
      this.#nodeLeave.next(name);
    }
  }

  #broadcast(message: unknown): void {
    if (this.#state !== 'listening') return;
    // serialised and encoded once, whatever the number of peers
    const frame = this.#encode(message, 'toCluster$');
    if (frame === undefined) return;
    let most = 0;
    for (const link of this.#peers.onlineLinks()) most = Math.max(most, link.send(frame));
    if (most > this.#sendBufferBytes / HIGH_WATER_DIVISOR) this.#pressure.next();
  }

  /** One message frame as bytes, or undefined (logged) when no peer could take it. */
  #encode(message: unknown, via: string, node?: string): Buffer | undefined {
    let text: string;
    try {
      text = encodeMsg(this.name, Math.round(this.#scheduler.now()), message);
    } catch (error) {
      this.#emitLog('warn', `${via} message not sent: ${(error as Error).message}`, node, CODES.SEND);
      return undefined;
    }
    const problem = outgoingProblem(text, this.#maxPayload);
    if (problem !== undefined) {
      this.#emitLog('warn', `${via} message not sent: ${problem}`, node, CODES.SEND);
      return undefined;
    }
    return Buffer.from(text);
  }

  #sendTo(message: NodeMessage): void {
    if (this.#state !== 'listening') return;
    if (typeof message !== 'object' || message === null || typeof message.node !== 'string') {
      this.#emitLog('warn', 'toNode$ expects { node, message }; value not sent', undefined, CODES.SEND);
      return;
    }
    const link = this.#peers.onlineLink(message.node);
    if (link === undefined) {
      this.#emitLog('warn', `toNode$ message not sent: ${message.node} is not online`, message.node, CODES.SEND);
      return;
    }
    const frame = this.#encode(message.message, 'toNode$', message.node);
    if (frame === undefined) return;
    const queued = link.send(frame);
    if (queued > this.#sendBufferBytes / HIGH_WATER_DIVISOR) this.#pressure.next();
  }

  #updateCounts(): void {
    if (this.#counts.closed) return;
    this.#counts.next({ configured: this.#peers.configuredCount(), online: this.#peers.joinedCount() });
  }

  #emitLog(level: LogLevel, message: string, node?: string, code?: Code): void {
    if (this.#log.closed) return;
    this.#log.next(new LogEntry(new Date(this.#scheduler.now()), level, message, node, code));
  }
}
