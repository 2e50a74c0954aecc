import { randomBytes } from 'node:crypto';
import {
  asyncScheduler,
  distinctUntilChanged,
  firstValueFrom,
  interval,
  map,
  Observable,
  race,
  Subject,
  Subscription,
  switchMap,
  timer,
  type Observable as Obs,
} from 'rxjs';
import type { Msg, NatsConnection as NatsClient, NodeConnectionOptions, Status } from '@nats-io/transport-node';
import { CODES, type Code } from '../../limits.js';
import { sanitize } from '../../log.js';
import { batchParts, BATCH_LENGTH_BYTES, clusterKey, macHolds, MAX_SEQ, openSealed, pairKeys, seal, sealBatch, SEALED_HEADER_BYTES, type PairOpening, type SealedFrame } from '../../protocol/frameMac.js';
import { DialError, type Connection, type ListenOptions, type Refusal, type Transport, type TransportLogEntry } from '../types.js';
import { BeatPayload, decodeJson, MAX_OPEN_BYTES, NATS_WIRE_VERSION, OpenReply, OpenRequest } from './codecs.js';
import { NatsConnection, readClose, type PairWire } from './connection.js';
import { checkPrefix, DEFAULT_SUBJECT_PREFIX, Subjects } from './subjects.js';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /** NATS server URLs, e.g. `nats://127.0.0.1:4222`; list several servers of one NATS cluster to fail over. */
  readonly servers: string | readonly string[];
  /** First token(s) of every subject this cluster uses: clusters sharing a NATS account differ by it. Default `rxcluster`. */
  readonly subjectPrefix?: string;
  /** TLS to the NATS servers, as the NATS client takes it (`ca`, `cert`, `key`, or the `*File` forms). */
  readonly tls?: NodeConnectionOptions['tls'];
  /** NATS user and password. */
  readonly user?: string;
  readonly pass?: string;
  /** NATS token. */
  readonly token?: string;
  /** NATS authenticator(s): nkeys, JWT credentials (`credsAuthenticator`). */
  readonly authenticator?: NodeConnectionOptions['authenticator'];
  /** Ms between reconnect attempts to one server. Default 250. */
  readonly reconnectTimeWait?: number;
  /** Any other NATS connection option, passed through (rxcluster sets `noEcho`, `maxReconnectAttempts: -1` and `name` unless given here). */
  readonly connection?: Partial<NodeConnectionOptions>;
}

/** Default ms between reconnect attempts to one NATS server. */
export const DEFAULT_RECONNECT_TIME_WAIT = 250;
/** Inbound connections still in their handshake, at most: more open requests are refused. */
export const MAX_PENDING_HANDSHAKES = 256;
/** Ms between two log entries of one kind of refused frame; the ones between are counted in the next. */
const LOG_EVERY = 1000;
/** A pair connection is closed as lost this long before readTimeout would drop it, while NATS is down. */
const LOST_MARGIN_FRACTION = 0.2;
/** Ms between checks for connections to close as lost while NATS is down. */
const LOST_CHECK_EVERY = 50;
/** Hex characters of an epoch and a connection id kept in heartbeats. */
const EPOCH_KEY_CHARS = 12;
const CID_KEY_CHARS = 8;
/** Bytes of broadcasts gathered into one batch, at most (less when the server's max_payload is lower). */
const BATCH_BYTES = 64 * 1024;

/** What this node knows of one peer transport (one process start of a peer), by its epoch. */
interface PeerRecord {
  /** The last broadcast and heartbeat sequence numbers taken from it: anything not above is a replay. */
  bseq: number;
  hseq: number;
  /** Its last heartbeat: its clock then, and ours when we heard it. */
  beat: { readonly t: number; readonly at: number } | undefined;
  /** Open connections with it, established or not. */
  readonly conns: Set<NatsConnection>;
  name: string;
}

/** Counters of what the NATS transport refused or lost since it started. */
export interface NatsTransportStats {
  /** Sealed frames whose MAC did not hold, dropped. */
  forged: number;
  /** Sealed frames with a sequence number not above the last one taken, dropped. */
  replayed: number;
  /** Frames known lost: sequence numbers skipped on an established connection or broadcast stream. */
  lost: number;
  /** Open requests refused (malformed, duplicate id, too many pending). */
  refusedOpens: number;
  /** Broadcasts published and taken (a batch counts each one it holds). */
  broadcastsSent: number;
  broadcastsReceived: number;
  /** Heartbeats published and taken. */
  beatsSent: number;
  beatsReceived: number;
}

/**
 * Makes a transport that joins a manager to a cluster over NATS: a broadcast
 * is one publish whatever the number of peers, presence one heartbeat per
 * node per pingInterval, every frame sealed with a MAC derived from the
 * cluster secret. See the README's "NATS" section.
 *
 * @example
 * const m = new Manager('node1', secret, { transport: natsTransport({ servers: ['nats://127.0.0.1:4222'] }) });
 * m.addNode('node2');
 * await m.listen();
 *
 * @param options - servers and NATS client options
 * @throws TypeError for no server or a malformed subjectPrefix
 */
export function natsTransport(options: NatsTransportOptions): NatsTransport {
  return new NatsTransport(options);
}

/** The NATS transport (kind `nats`); made by {@link natsTransport}. One instance serves one manager. */
export class NatsTransport implements Transport, PairWire {
  readonly kind = 'nats';
  readonly incoming$: Obs<Connection>;
  readonly refused$: Obs<Refusal>;
  readonly log$: Obs<TransportLogEntry>;
  /** What was refused or lost since listen. */
  readonly stats: NatsTransportStats = { forged: 0, replayed: 0, lost: 0, refusedOpens: 0, broadcastsSent: 0, broadcastsReceived: 0, beatsSent: 0, beatsReceived: 0 };
  readonly #options: NatsTransportOptions;
  readonly #prefix: string;
  readonly #incoming = new Subject<Connection>();
  readonly #refused = new Subject<Refusal>();
  readonly #log = new Subject<TransportLogEntry>();
  /** Random per transport: tells this process start apart; peers key their replay floors by it. */
  readonly #epoch = randomBytes(16);
  readonly #epochHex = this.#epoch.toString('hex');
  readonly #conns = new Map<string, NatsConnection>();
  readonly #peers = new Map<string, PeerRecord>();
  readonly #subscription = new Subscription();
  readonly #logged = new Map<string, { at: number; skipped: number }>();
  #nc: NatsClient | undefined;
  #subjects: Subjects | undefined;
  /** The keyring's secrets, the primary first: pair connections are keyed from the primary, or, accepting, from whichever the dialer used. */
  #secrets: readonly (string | Buffer)[] = [''];
  /** The cluster key of each secret, the primary's first: broadcasts and heartbeats are sealed with it and checked against all. */
  #clusterKeys: readonly Buffer[] = [Buffer.alloc(32)];
  #maxPayload = Infinity;
  #settings = { pingInterval: 5000, readTimeout: 11000 };
  #bseq = 0;
  #hseq = 0;
  /** Broadcasts of this tick not yet published, and their bytes in a batch. */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  readonly #flushBatch = (): void => this.#flush();
  #nextId = 1;
  #connected = false;
  #lostCheck: Subscription | undefined;
  #closing: Promise<void> | undefined;

  /** @throws TypeError for no server or a malformed subjectPrefix */
  constructor(options: NatsTransportOptions) {
    const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
    if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s !== '')) {
      throw new TypeError('Invalid servers for the NATS transport: expected one or more server URLs');
    }
    this.#options = options;
    this.#prefix = checkPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX);
    this.incoming$ = this.#incoming.asObservable();
    this.refused$ = this.#refused.asObservable();
    this.log$ = this.#log.asObservable();
  }

  /**
   * NATS routes by node name: no address. `undefined` and `''` are taken.
   *
   * @returns `''`
   * @throws TypeError for any other address
   */
  parseAddress(address: string | undefined, purpose: 'listen' | 'dial'): string {
    if (address === undefined || address === '') return '';
    throw new TypeError(`Invalid address ${JSON.stringify(address)} for the NATS transport: it routes by node name, ${purpose === 'dial' ? 'addNode takes no address' : 'listen takes no address'}`);
  }

  /**
   * Connects to NATS, subscribes to this node's subjects and starts its heartbeat.
   * Needs `options.self`, `options.secret` and `options.settings$` (the manager gives them).
   *
   * @returns `nats:<prefix>/<name>`
   * @rejects Error when NATS cannot be reached, TLS is asked of the transport itself, or it listens already
   */
  async listen(_address: string, options: ListenOptions): Promise<string> {
    if (this.#closing !== undefined) throw new Error('this NATS transport is closed');
    if (this.#nc !== undefined) throw new Error('this NATS transport listens already');
    if (options.tls !== undefined) throw new Error('listenTls does not apply to NATS: pass TLS for the NATS servers in natsTransport({ tls })');
    if (options.self === undefined || options.secret === undefined) throw new Error('the NATS transport needs the node name and the cluster secret from its manager');
    this.#subjects = new Subjects(this.#prefix, options.self);
    this.updateSecrets(options.secrets !== undefined && options.secrets.length > 0 ? options.secrets : [options.secret]);
    this.#maxPayload = options.maxPayload;
    const o = this.#options;
    const servers = typeof o.servers === 'string' ? [o.servers] : [...o.servers];
    // loaded here, not with rxcluster: a mesh over ws never pays for the NATS client's code
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({
      servers,
      name: `rxcluster ${options.self}`,
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: o.reconnectTimeWait ?? DEFAULT_RECONNECT_TIME_WAIT,
      ...(o.tls === undefined ? {} : { tls: o.tls }),
      ...(o.user === undefined ? {} : { user: o.user }),
      ...(o.pass === undefined ? {} : { pass: o.pass }),
      ...(o.token === undefined ? {} : { token: o.token }),
      ...(o.authenticator === undefined ? {} : { authenticator: o.authenticator }),
      ...(o.connection ?? {}),
    });
    if (this.#closing !== undefined) {
      await nc.close();
      throw new Error('this NATS transport was closed meanwhile');
    }
    this.#nc = nc;
    this.#connected = true;
    const s = this.#subjects;
    nc.subscribe(s.handshake, { callback: this.#guard('open request', (msg) => this.#onOpen(msg)) });
    nc.subscribe(s.pairsToSelf, { callback: this.#guard('pair frame', (msg) => this.#onPair(msg)) });
    nc.subscribe(s.all, { callback: this.#guard('broadcast', (msg) => this.#onBroadcast(msg)) });
    nc.subscribe(s.beat, { callback: this.#guard('heartbeat', (msg) => this.#onBeat(msg)) });
    await nc.flush();
    void this.#watchStatus(nc);
    const settings$ = options.settings$ ?? new Observable<{ pingInterval: number; readTimeout: number }>((subscriber) => subscriber.next(this.#settings));
    this.#subscription.add(
      settings$
        .pipe(
          map((v) => {
            this.#settings = { pingInterval: v.pingInterval, readTimeout: v.readTimeout };
            return v.pingInterval;
          }),
          distinctUntilChanged(),
          switchMap((ms) => timer(0, ms, asyncScheduler)),
        )
        .subscribe(() => this.#beat()),
    );
    return `nats:${this.#prefix}/${options.self}`;
  }

  /**
   * Opens a pair connection to node `peer`: an open request to its handshake
   * subject; the connection is emitted once answered. Errors with DialError
   * when NATS is down, no node of that name is on NATS (no responders), it
   * refused, or no answer came within `timeout` ms.
   */
  /**
   * The keyring changed: broadcasts, heartbeats and new connections are
   * sealed with the new primary from now on; frames sealed with any secret of
   * the keyring are accepted. Open connections keep their keys.
   *
   * @param secrets - the stretched secrets, the primary first
   */
  updateSecrets(secrets: readonly (string | Buffer)[]): void {
    if (secrets.length === 0) throw new TypeError('updateSecrets: at least the primary secret');
    // what was broadcast before goes out under the key it was broadcast under
    this.#flush();
    this.#secrets = [...secrets];
    this.#clusterKeys = secrets.map((secret) => clusterKey(secret));
  }

  dial$(_address: string, peer: string, timeout: number): Obs<Connection> {
    return new Observable<Connection>((subscriber) => {
      const nc = this.#nc;
      const s = this.#subjects;
      if (this.#closing !== undefined) subscriber.error(new DialError('transport closed', false));
      else if (nc === undefined || s === undefined) subscriber.error(new DialError('not listening', false));
      else if (!this.#connected) subscriber.error(new DialError('the NATS connection is down', false));
      if (subscriber.closed || nc === undefined || s === undefined) return undefined;
      const cid = randomBytes(16);
      const nonce = randomBytes(32).toString('hex');
      const floors: [number, number] = [this.#bseq, this.#hseq];
      const request: OpenRequest = { v: NATS_WIRE_VERSION, from: s.self, to: peer, cid: cid.toString('hex'), nonce, epoch: this.#epochHex, floors } as OpenRequest;
      let conn: NatsConnection | undefined;
      nc.request(s.handshakeOf(peer), JSON.stringify(request), { timeout }).then(
        (msg) => {
          if (msg.data.length > MAX_OPEN_BYTES) {
            subscriber.error(new DialError('the open answer is too big', false));
            return;
          }
          const reply = decodeJson(OpenReply, msg.data);
          if (typeof reply === 'string') subscriber.error(new DialError(`bad open answer: ${reply}`, false));
          else if ('refused' in reply) subscriber.error(new DialError(`refused: ${sanitize(reply.refused)}`, false));
          else {
            const opening: PairOpening = {
              cid: request.cid, dialer: s.self, acceptor: peer, dialerNonce: nonce, acceptorNonce: reply.nonce,
              dialerEpoch: this.#epochHex, acceptorEpoch: reply.epoch, dialerFloors: floors, acceptorFloors: reply.floors,
            };
            const keys = pairKeys(this.#secrets[0] as string | Buffer, opening);
            const made = new NatsConnection(this, this.#nextId++, 'outbound', peer, cid, reply.epoch, keys.toAcceptor, keys.toDialer, reply.floors, this.#maxPayload);
            if (subscriber.closed) {
              // the dial was given up meanwhile: tell the acceptor at once rather than leave it waiting out its handshake
              made.terminate();
              return;
            }
            conn = this.#track(made);
            const opened = conn;
            opened.onEnd(() => subscriber.complete());
            subscriber.next(opened);
          }
        },
        (error: unknown) => {
          if (!subscriber.closed) subscriber.error(dialError(error, peer, timeout));
        },
      );
      return () => {
        if (conn !== undefined && !conn.ended) conn.terminate();
      };
    });
  }

  /**
   * One publish for every peer: `data` sealed under the cluster key on the
   * broadcast subject. Every node with an established connection to this one
   * takes it; `connections` only says whether anyone is listening. The
   * broadcasts of one tick go out together in a microtask, as one sealed
   * batch (at most BATCH_BYTES), or sooner, before any other frame this node
   * publishes, so the order between broadcasts and pair frames holds as sent.
   */
  broadcast(data: Buffer, connections: readonly Connection[]): void {
    if (this.#nc === undefined || this.#subjects === undefined || connections.length === 0 || this.#closing !== undefined) return;
    const size = BATCH_LENGTH_BYTES + data.length;
    if (this.#batch.length > 0 && this.#batchBytes + size > this.#batchLimit()) this.#flush();
    this.#batch.push(data);
    this.#batchBytes += size;
    if (this.#batch.length === 1) queueMicrotask(this.#flushBatch);
  }

  /** Publishes the broadcasts gathered so far: one alone as `B`, several as one batch `M`. */
  #flush(): void {
    const parts = this.#batch;
    if (parts.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    const nc = this.#nc;
    const s = this.#subjects;
    if (nc === undefined || s === undefined) return;
    this.#bseq = nextSeq(this.#bseq, parts.length);
    const key = this.#clusterKeys[0] as Buffer;
    try {
      nc.publish(s.all, parts.length === 1 ? seal(key, 'B', this.#epoch, this.#bseq, parts[0] as Buffer) : sealBatch(key, this.#epoch, this.#bseq, parts));
      this.stats.broadcastsSent += parts.length;
    } catch (error) {
      this.#say('warn', `${parts.length} broadcast(s) not published: ${(error as Error).message}`, undefined, CODES.SEND);
    }
  }

  /** The most bytes of broadcasts in one batch: BATCH_BYTES, or what fits the server's max_payload. */
  #batchLimit(): number {
    const max = this.#nc?.info?.max_payload;
    return typeof max === 'number' && max > 0 ? Math.min(BATCH_BYTES, max - SEALED_HEADER_BYTES) : BATCH_BYTES;
  }

  /** Internal ({@link PairWire}): seals and publishes one pair frame or close. */
  publish(conn: NatsConnection, kind: 'F' | 'Y' | 'C', payload: Uint8Array | string): boolean {
    const nc = this.#nc;
    const s = this.#subjects;
    if (nc === undefined || s === undefined || nc.isClosed()) return false;
    this.#flush();
    conn.outSeq = nextSeq(conn.outSeq);
    try {
      nc.publish(s.pairTo(conn.peer), seal(conn.outKey, kind, conn.cid, conn.outSeq, payload));
      return true;
    } catch (error) {
      this.#say('warn', `frame to ${conn.peer} not published: ${(error as Error).message}`, conn.peer, CODES.SEND);
      return false;
    }
  }

  /** Internal ({@link PairWire}): the NATS client's unsent bytes, read from its internals (0 where they cannot be read). */
  get bufferedAmount(): number {
    return pendingBytes(this.#nc) + this.#batchBytes;
  }

  /** Internal ({@link PairWire}): forgets a finished connection. */
  ended(conn: NatsConnection): void {
    this.#conns.delete(conn.cidHex);
    this.#peers.get(conn.peerEpoch)?.conns.delete(conn);
  }

  /** Internal ({@link PairWire}): the handshake went both ways; the peer's floors now hold. */
  established(conn: NatsConnection): void {
    const record = this.#record(conn.peerEpoch, conn.peer);
    record.bseq = Math.max(record.bseq, conn.floors[0]);
    record.hseq = Math.max(record.hseq, conn.floors[1]);
    record.conns.add(conn);
  }

  /**
   * Tells every open connection's peer `reset`, stops the heartbeat, flushes
   * (bounded) and closes the NATS connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#subscription.unsubscribe();
    this.#lostCheck?.unsubscribe();
    this.#flush();
    for (const conn of [...this.#conns.values()]) conn.terminate();
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) {
      // let the closes and leave notices out, but never wait long on a dead server
      await firstValueFrom(race(nc.flush().then(() => true, () => false), timer(1000, asyncScheduler)), { defaultValue: undefined }).catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
    for (const conn of [...this.#conns.values()]) conn.fail('reset', 'transport closed', new Error('transport closed'));
    this.#incoming.complete();
    this.#refused.complete();
    this.#log.complete();
  }

  /** A subscription callback that never throws into the NATS client: a fault is logged, the message dropped. */
  #guard(what: string, handle: (msg: Msg) => void): (err: Error | null, msg: Msg) => void {
    return (err, msg) => {
      if (err !== null) {
        this.#say('warn', `NATS subscription for ${what}s failed: ${sanitize(err.message)}`, undefined, CODES.NATS, `sub:${what}`);
        return;
      }
      try {
        handle(msg);
      } catch (error) {
        this.#say('error', `unexpected fault handling a ${what}: ${String(error)}`, undefined, CODES.SOCKET, `fault:${what}`);
      }
    };
  }

  #track(conn: NatsConnection): NatsConnection {
    this.#conns.set(conn.cidHex, conn);
    this.#record(conn.peerEpoch, conn.peer).conns.add(conn);
    return conn;
  }

  #record(epoch: string, name: string): PeerRecord {
    let record = this.#peers.get(epoch);
    if (record === undefined) {
      record = { bseq: 0, hseq: 0, beat: undefined, conns: new Set(), name };
      this.#peers.set(epoch, record);
    }
    return record;
  }

  /** An open request on this node's handshake subject. */
  #onOpen(msg: Msg): void {
    const s = this.#subjects;
    if (s === undefined || this.#closing !== undefined) return;
    const refuse = (why: string, level: 'debug' | 'warn', code: Code | undefined, tell: string | undefined): void => {
      this.stats.refusedOpens++;
      this.#say(level, `open request refused: ${why}`, undefined, code, `open:${why}`);
      if (tell !== undefined && msg.reply !== undefined && msg.reply !== '') msg.respond(JSON.stringify({ v: NATS_WIRE_VERSION, refused: tell }));
    };
    if (msg.data.length > MAX_OPEN_BYTES) return refuse('too big', 'warn', CODES.BAD_FRAME, undefined);
    const open = decodeJson(OpenRequest, msg.data);
    if (typeof open === 'string') return refuse(`malformed (${open})`, 'warn', CODES.BAD_FRAME, undefined);
    if (open.v !== NATS_WIRE_VERSION) {
      const why = `${open.from} speaks NATS wire version ${open.v}, this node ${NATS_WIRE_VERSION}: run one version on every node`;
      return refuse(why, 'warn', CODES.PEER_REFUSED, `NATS wire version ${NATS_WIRE_VERSION} here, ${open.v} there: run one version on every node`);
    }
    if (open.to !== s.self) return refuse(`addressed to another node`, 'warn', CODES.PEER_REFUSED, undefined);
    if (this.#conns.has(open.cid)) return refuse(`connection id already in use (a replay?)`, 'warn', CODES.REPLAY, undefined);
    const pending = [...this.#conns.values()].filter((c) => !c.established && c.direction === 'inbound').length;
    if (pending >= MAX_PENDING_HANDSHAKES) return refuse(`${pending} handshakes pending already`, 'warn', CODES.PEER_REFUSED, 'busy');
    if (!this.#incoming.observed) return refuse('not accepting yet', 'debug', undefined, 'not ready');
    if (msg.reply === undefined || msg.reply === '') return refuse('no reply subject', 'warn', CODES.BAD_FRAME, undefined);
    const nonce = randomBytes(32).toString('hex');
    const floors: [number, number] = [this.#bseq, this.#hseq];
    const opening: PairOpening = {
      cid: open.cid, dialer: open.from, acceptor: s.self, dialerNonce: open.nonce, acceptorNonce: nonce,
      dialerEpoch: open.epoch, acceptorEpoch: this.#epochHex, dialerFloors: open.floors, acceptorFloors: floors,
    };
    // keyed from the primary; while the keyring holds other secrets, the dialer's first frame tells which one it used
    const candidates = this.#secrets.map((secret) => pairKeys(secret, opening));
    const keys = candidates[0] as { readonly toAcceptor: Buffer; readonly toDialer: Buffer };
    const conn = this.#track(new NatsConnection(this, this.#nextId++, 'inbound', open.from, Buffer.from(open.cid, 'hex'), open.epoch, keys.toDialer, keys.toAcceptor, open.floors, this.#maxPayload));
    if (candidates.length > 1) conn.candidates = candidates.map((c) => ({ outKey: c.toDialer, inKey: c.toAcceptor }));
    this.#incoming.next(conn);
    msg.respond(JSON.stringify({ v: NATS_WIRE_VERSION, nonce, epoch: this.#epochHex, floors }));
  }

  /** A sealed pair frame or close addressed to this node. */
  #onPair(msg: Msg): void {
    const frame = openSealed(msg.data);
    if (frame === undefined || (frame.kind !== 'F' && frame.kind !== 'Y' && frame.kind !== 'C')) {
      this.#refuse('forged', 'a pair frame of no known form', undefined, 'pair');
      return;
    }
    const conn = this.#conns.get(frame.id);
    if (conn === undefined) {
      // a late frame of a closed connection, or a stranger's guess: nothing to check it with
      this.#say('debug', `pair frame for no open connection dropped`, undefined, undefined, 'pair:unknown');
      return;
    }
    if (conn.candidates !== undefined) {
      // the first frame of an inbound connection while the keyring holds several secrets: it picks the pair's keys
      const keys = conn.candidates.find((c) => macHolds(c.inKey, frame));
      if (keys === undefined) {
        this.#refuse('forged', `a pair frame whose MAC holds under no secret of the keyring, on the connection with ${conn.peer}`, conn.peer, 'pair');
        return;
      }
      conn.keyWith(keys);
    } else if (!macHolds(conn.inKey, frame)) {
      this.#refuse('forged', `a pair frame whose MAC does not hold, on the connection with ${conn.peer}`, conn.peer, 'pair');
      return;
    }
    if (frame.seq <= conn.inSeq) {
      this.#refuse('replayed', `a replayed pair frame (seq ${frame.seq}, last ${conn.inSeq}) on the connection with ${conn.peer}`, conn.peer, 'pair');
      return;
    }
    this.#gap(frame.seq - conn.inSeq - 1, `frames from ${conn.peer}`, conn.peer);
    conn.inSeq = frame.seq;
    if (frame.kind === 'F' || frame.kind === 'Y') conn.receiveFrame(frame.payload, frame.kind === 'Y');
    else {
      const { cause, reason } = readClose(frame.payload);
      conn.closeFromPeer(cause, reason);
    }
  }

  /** A sealed broadcast or batch of broadcasts: to the newest established connection with its sender, one by one. */
  #onBroadcast(msg: Msg): void {
    const frame = this.#cluster(msg, 'broadcast');
    if (frame === undefined) return;
    const parts = frame.kind === 'B' ? [frame.payload] : batchParts(frame.payload);
    if (parts === undefined) {
      this.#refuse('forged', 'a batch of broadcasts whose lengths do not add up', undefined);
      return;
    }
    const record = this.#peers.get(frame.id);
    if (record === undefined) return;
    const firstSeq = frame.seq - parts.length + 1;
    if (firstSeq <= record.bseq) {
      this.#refuse('replayed', `a replayed broadcast (seq ${frame.seq}, last ${record.bseq}) from ${record.name}`, record.name);
      return;
    }
    const conn = newestEstablished(record);
    if (conn !== undefined) this.#gap(firstSeq - record.bseq - 1, `broadcasts from ${record.name}`, record.name);
    record.bseq = frame.seq;
    if (conn === undefined) return;
    this.stats.broadcastsReceived += parts.length;
    for (const part of parts) conn.receiveFrame(part);
  }

  /** A sealed heartbeat: kept for the echo; liveness (and the lag, when measured) to each connection it lists. */
  #onBeat(msg: Msg): void {
    const frame = this.#cluster(msg, 'heartbeat');
    if (frame === undefined) return;
    const beat = decodeJson(BeatPayload, frame.payload);
    if (typeof beat === 'string') {
      this.#refuse('forged', `a malformed heartbeat (${beat})`, undefined);
      return;
    }
    const record = this.#record(frame.id, beat.n);
    if (frame.seq <= record.hseq) {
      this.#refuse('replayed', `a replayed heartbeat (seq ${frame.seq}, last ${record.hseq}) from ${record.name}`, record.name);
      return;
    }
    record.hseq = frame.seq;
    const now = Date.now();
    record.beat = { t: beat.t, at: now };
    this.stats.beatsReceived++;
    const mine = beat.p[this.#epochHex.slice(0, EPOCH_KEY_CHARS)];
    if (mine === undefined) return;
    const listed = new Set(mine.c);
    const rtt = mine.e === undefined ? undefined : Math.max(0, now - mine.e[0] - mine.e[1]);
    for (const conn of record.conns) {
      if (!conn.established || !listed.has(conn.cidHex.slice(0, CID_KEY_CHARS))) continue;
      if (rtt !== undefined) conn.rtt = rtt;
      if (conn.rtt !== undefined) conn.deliver(`{"type":"pong","id":${Math.max(0, Math.round(now - conn.rtt))}}`);
    }
  }

  /** Reads a broadcast (a batch too) or heartbeat and checks its seal under the cluster key. */
  #cluster(msg: Msg, what: 'broadcast' | 'heartbeat'): SealedFrame | undefined {
    const frame = openSealed(msg.data);
    if (frame === undefined || (what === 'heartbeat' ? frame.kind !== 'H' : frame.kind !== 'B' && frame.kind !== 'M')) {
      this.#refuse('forged', `a ${what} of no known form`, undefined);
      return undefined;
    }
    if (frame.id === this.#epochHex) return undefined;
    if (!this.#clusterKeys.some((key) => macHolds(key, frame))) {
      this.#refuse('forged', `a ${what} whose MAC does not hold`, undefined);
      return undefined;
    }
    return frame;
  }

  /** Publishes this node's heartbeat: its clock, and per peer its open connections and an echo of the peer's last beat. */
  #beat(): void {
    const nc = this.#nc;
    const s = this.#subjects;
    if (nc === undefined || s === undefined || !this.#connected || this.#closing !== undefined) return;
    this.#flush();
    const now = Date.now();
    const p: BeatPayload['p'] = {};
    for (const [epoch, record] of this.#peers) {
      if (record.conns.size === 0) {
        // a peer transport gone for good (restarted, left): forget it after a while
        if (record.beat === undefined || now - record.beat.at > 3 * this.#settings.readTimeout) this.#peers.delete(epoch);
        continue;
      }
      const entry: BeatPayload['p'][string] = { c: [...record.conns].map((c) => c.cidHex.slice(0, CID_KEY_CHARS)) };
      if (record.beat !== undefined) entry.e = [record.beat.t, now - record.beat.at];
      p[epoch.slice(0, EPOCH_KEY_CHARS)] = entry;
    }
    this.#hseq = nextSeq(this.#hseq);
    try {
      nc.publish(s.beat, seal(this.#clusterKeys[0] as Buffer, 'H', this.#epoch, this.#hseq, JSON.stringify({ n: s.self, t: now, p })));
      this.stats.beatsSent++;
    } catch (error) {
      this.#say('warn', `heartbeat not published: ${(error as Error).message}`, undefined, CODES.NATS);
    }
  }

  async #watchStatus(nc: NatsClient): Promise<void> {
    try {
      for await (const status of nc.status()) this.#onStatus(status);
    } catch (error) {
      this.#say('warn', `NATS status stream failed: ${String(error)}`, undefined, CODES.NATS);
    }
  }

  /**
   * NATS status to neutral causes: while the client is disconnected, each
   * connection is closed as `reset` (the session's `lost`) a little before
   * readTimeout would drop it; a reconnect within that keeps it. A client
   * closed for good resets every connection at once.
   */
  #onStatus(status: Status): void {
    switch (status.type) {
      case 'disconnect':
        this.#connected = false;
        this.#say('warn', `lost the NATS server ${status.server}; reconnecting`, undefined, CODES.NATS);
        this.#lostCheck?.unsubscribe();
        this.#lostCheck = interval(LOST_CHECK_EVERY, asyncScheduler).subscribe(() => this.#closeLost());
        return;
      case 'reconnect':
        this.#connected = true;
        this.#lostCheck?.unsubscribe();
        this.#lostCheck = undefined;
        this.#say('info', `connected to the NATS server ${status.server}`, undefined, CODES.NATS);
        this.#beat();
        return;
      case 'ldm':
        this.#say('info', `the NATS server ${status.server} enters lame duck mode; the client will move`, undefined, CODES.NATS);
        return;
      case 'error':
        this.#say('warn', `NATS server error: ${sanitize(status.error.message)}`, undefined, CODES.NATS);
        return;
      case 'staleConnection':
        this.#say('warn', 'the NATS connection went stale', undefined, CODES.NATS);
        return;
      case 'slowConsumer':
        this.#say('warn', `this node reads NATS too slowly (${status.pending} messages pending)`, undefined, CODES.NATS);
        return;
      case 'close':
        this.#connected = false;
        if (this.#closing === undefined) {
          this.#say('error', 'the NATS connection closed for good', undefined, CODES.NATS);
          for (const conn of [...this.#conns.values()]) conn.fail('reset', 'NATS connection closed', new Error('the NATS connection closed'));
        }
        return;
      default:
        return;
    }
  }

  /** While NATS is down: closes as lost each connection about to pass readTimeout. */
  #closeLost(): void {
    const now = Date.now();
    const limit = this.#settings.readTimeout * (1 - LOST_MARGIN_FRACTION);
    for (const conn of [...this.#conns.values()]) {
      if (now - conn.lastRead >= limit) conn.fail('reset', 'NATS connection lost', new Error(`no NATS server for ${now - conn.lastRead} ms`));
    }
  }

  #gap(missing: number, what: string, node: string): void {
    if (missing <= 0) return;
    this.stats.lost += missing;
    this.#say('warn', `${missing} ${what} lost on the way (${this.stats.lost} in all)`, node, CODES.FRAMES_LOST, `lost:${node}`);
  }

  #refuse(kind: 'forged' | 'replayed', what: string, node: string | undefined, channel = 'cluster'): void {
    this.stats[kind]++;
    // logged at most once a second per kind and channel: forged heartbeats do not hide a forged pair frame
    this.#say('warn', `dropped ${what}`, node, kind === 'forged' ? CODES.FORGED : CODES.REPLAY, `${kind}:${channel}`);
  }

  /** Logs, at most once per second per `key`; the entries skipped are counted in the next. */
  #say(level: TransportLogEntry['level'], message: string, node?: string, code?: Code, key?: string): void {
    if (this.#log.closed) return;
    if (key !== undefined) {
      const now = Date.now();
      const seen = this.#logged.get(key);
      if (seen !== undefined && now - seen.at < LOG_EVERY) {
        seen.skipped++;
        return;
      }
      const skipped = seen?.skipped ?? 0;
      this.#logged.set(key, { at: now, skipped: 0 });
      if (skipped > 0) message = `${message} (and ${skipped} more like it in the last second)`;
    }
    const entry: TransportLogEntry = { level, message, ...(node === undefined ? {} : { node }), ...(code === undefined ? {} : { code }) };
    this.#log.next(entry);
  }
}

/** The sequence number `count` frames after `seq`: past MAX_SEQ (2^48 frames, never in practice) the numbers start again at 1 (a batch of `count` ends at `count`). */
function nextSeq(seq: number, count = 1): number {
  return seq + count > MAX_SEQ ? count : seq + count;
}

function newestEstablished(record: PeerRecord): NatsConnection | undefined {
  let best: NatsConnection | undefined;
  for (const conn of record.conns) if (conn.established && !conn.ended && (best === undefined || conn.id > best.id)) best = conn;
  return best;
}

/** A failed open request as a DialError. */
function dialError(error: unknown, peer: string, timeout: number): DialError {
  const e = error as { name?: string; message?: string; cause?: { name?: string }; isNoResponders?: () => boolean };
  if (e.name === 'NoRespondersError' || e.cause?.name === 'NoRespondersError' || e.isNoResponders?.() === true) {
    return new DialError(`no node ${JSON.stringify(peer)} on NATS (no responders)`, false, { cause: error });
  }
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError') return new DialError(`no answer within ${timeout} ms`, false, { cause: error });
  return new DialError(e.message ?? String(error), false, { cause: error });
}

/**
 * The NATS client's unsent bytes: its outbound buffer and its socket's. Read
 * from the client's internals (nats.js v3 has no public figure); 0 when they
 * are not there.
 */
function pendingBytes(nc: NatsClient | undefined): number {
  const p = (nc as unknown as { protocol?: { outbound?: { size?: () => number }; transport?: { socket?: { writableLength?: number } } } } | undefined)?.protocol;
  if (p === undefined) return 0;
  const outbound = typeof p.outbound?.size === 'function' ? p.outbound.size() : 0;
  const socket = p.transport?.socket?.writableLength ?? 0;
  return outbound + socket;
}
