import {
  catchError,
  concat,
  defer,
  filter,
  finalize,
  ignoreElements,
  map,
  merge,
  mergeMap,
  NEVER,
  Observable,
  of,
  race,
  Subject,
  Subscription,
  take,
  tap,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { CLOSE_GRACE, CODES, HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION, type Code } from '../limits.js';
import { ClusterError, HandshakeTimeoutError, ReadTimeoutError } from '../errors.js';
import { decodeBinary, decodeFrame, encodeFrame, type Frame, type PayloadFrame } from '../protocol/frames.js';
import { FRAME_MAC_CHARS, frameAuth } from '../protocol/frameAuth.js';
import { handshakeProof, makeNonce, matchingKey, type HandshakeTranscript } from '../protocol/handshake.js';
import type { HandshakeKeys } from '../protocol/keyring.js';
import { handshakeDeadline } from '../operators/handshakeDeadline.js';
import { heartbeat } from '../operators/heartbeat.js';
import { joinDelay } from '../operators/joinDelay.js';
import { readTimeout } from '../operators/readTimeout.js';
import { suspicion } from '../operators/suspicion.js';
import type { Report } from '../membership/view.js';
import { sanitize, type LogLevel } from '../log.js';
import type { Settings } from '../settings.js';
import type { CloseCause, Connection, SocketEvent } from '../transport/types.js';
import { Link, type LeaveReason } from './link.js';
import { ConnectionReader } from './reader.js';

/**
 * What one connection's life tells the manager, in order: `up` once the
 * handshake proved both sides, `joinDue` once the link survived joinDelay,
 * then `packet`s, `lag`s and maybe `leaving`, and `down` with the reason last.
 * `log` entries come at any time, a connection that never authenticates
 * yields only those.
 */
export type SessionEvent =
  | { readonly type: 'up'; readonly link: Link }
  | { readonly type: 'joinDue'; readonly link: Link }
  | { readonly type: 'packet'; readonly link: Link; readonly frame: PayloadFrame; readonly bytes: number }
  | { readonly type: 'meta'; readonly link: Link; readonly metadata: Readonly<Record<string, unknown>> }
  | { readonly type: 'lag'; readonly link: Link; readonly ms: number }
  | { readonly type: 'suspect'; readonly link: Link; readonly suspect: boolean }
  | { readonly type: 'reach'; readonly link: Link; readonly reports: readonly Report[] }
  | { readonly type: 'leaving'; readonly link: Link }
  /** `judged`: the peer ended the link because it found this node silent (its read timeout, not ours). */
  | { readonly type: 'down'; readonly link: Link; readonly reason: LeaveReason; readonly judged?: boolean }
  | {
      readonly type: 'log';
      readonly level: LogLevel;
      readonly message: string;
      readonly node?: string;
      readonly code?: Code;
    };

/** What a session needs to know: values, and one question about the current membership. */
export interface SessionContext {
  readonly self: string;
  /** This manager's instance id. */
  readonly instance: string;
  /** When this manager started, on its scheduler's clock. */
  readonly incarnation: number;
  /** The stretched handshake keys in force now (a keyring may change while the manager runs). */
  keys(): HandshakeKeys;
  readonly settings$: Observable<Settings>;
  readonly scheduler: SchedulerLike;
  readonly sendBufferBytes: number;
  readonly logTraffic: boolean;
  /** Whether `name` is configured here now. Asked only after the peer proved the secret. */
  isConfigured(name: string): boolean;
  /** Whether `name` has a link up here now, neither suspected nor being dropped. */
  isLinked(name: string): boolean;
  /** This node's metadata now, sent in the handshake. */
  metadata(): Readonly<Record<string, unknown>>;
}

/** A fault that ends one connection: how to log it and how to close. */
class SessionError extends ClusterError {
  override readonly name = 'SessionError';
  constructor(
    code: Code,
    message: string,
    readonly closeCause: CloseCause,
    readonly level: LogLevel = 'warn',
  ) {
    super(code, message);
  }
}

/** The connection closed under us; `event` says how. */
class ClosedError extends Error {
  constructor(readonly event: Extract<SocketEvent, { type: 'close' }>) {
    super(`closed (${event.cause})`);
  }
}

/** The peer sent its shutdown notice: an orderly end, not a fault. */
class PeerLeavingSignal extends Error {}

const log = (level: LogLevel, message: string, node?: string, code?: Code): SessionEvent =>
  code === undefined
    ? node === undefined
      ? { type: 'log', level, message }
      : { type: 'log', level, message, node }
    : node === undefined
      ? { type: 'log', level, message, code }
      : { type: 'log', level, message, node, code };

/**
 * The whole life of one connection as a stream of {@link SessionEvent}s:
 * the handshake (within connectTimeout), then the authenticated session
 * (pings every pingInterval, dropped after readTimeout of silence). Every
 * fault is caught here, reported as a `log` and a `down`, and ends this
 * connection only: the stream never errors. A connection this side closes
 * is given a short grace to finish the close, then cut.
 *
 * @param conn - a freshly opened connection
 * @param expected - the peer this node dialed, or undefined for an inbound connection
 * @param ctx - what the session needs to know
 * @returns the session's events; completes once the connection is closed or cut
 */
export function session$(conn: Connection, expected: string | undefined, ctx: SessionContext): Observable<SessionEvent> {
  const hardLimit$ = ctx.settings$.pipe(map((s) => ({ ...s, readTimeout: s.readTimeout * SILENCE_LIMIT })));
  return defer(() => {
    let link: Link | undefined;
    let peer = expected;
    /** Whether this side has sent its proof (dialer) or checked the dialer's (acceptor). */
    let proved = false;
    /** The size of the frame being handled (set before it is decoded, read when a packet is made of it). */
    let size = 0;
    // one subscription to the connection for its whole life, the close grace included; each frame read once, for every stage reading
    const reader = new ConnectionReader<Frame>(conn.events$, (event) => {
      if (event.type === 'close') throw new ClosedError(event);
      const raw = event.data;
      // (a text frame may come as its UTF-8 bytes)
      const bytes = event.text === true && typeof raw !== 'string';
      size = raw.length;
      // before the peer proved the secret, a frame is small or refused unparsed
      if (link === undefined && size > HANDSHAKE_MAX_FRAME / 4 && byteLength(raw) > HANDSHAKE_MAX_FRAME) {
        throw new SessionError(CODES.FRAME_TOO_BIG, `handshake frame over ${HANDSHAKE_MAX_FRAME} bytes from ${peer ?? conn.remote}`, 'too-big');
      }
      // after the handshake, on a connection that does not authenticate frames itself, each carries a MAC
      const auth = link?.auth;
      const data = auth === undefined ? (bytes ? raw.toString('utf8') : raw) : bytes ? auth.openText(raw) : auth.open(raw);
      if (data === undefined) {
        throw new SessionError(CODES.FORGED, `a frame from ${link?.peer ?? conn.remote} whose MAC does not hold (injected, altered, replayed or out of order): the connection is no longer trusted`, 'policy');
      }
      // (the payload's size: the statistics count what the sender's count, MAC aside; in bytes where they came as bytes)
      size = bytes ? raw.length - (auth === undefined ? 0 : FRAME_MAC_CHARS) : data.length;
      // a binary frame carries bytes behind a JSON header; only an authenticated peer may send one
      const decoded = typeof data === 'string' || link === undefined ? decodeFrame(data) : decodeBinary(data);
      if (isLeft(decoded)) throw new SessionError(CODES.BAD_FRAME, `bad frame: ${decoded.left}`, 'protocol');
      return decoded.right;
    });
    const frames$ = reader.values$;

    // frames this session sends, told as debug entries when logTraffic is on
    const sent$ = new Subject<SessionEvent>();
    const send = (frame: Frame): void => {
      if (ctx.logTraffic) sent$.next(log('debug', `sending ${frame.type} frame to ${peer ?? conn.remote}`, peer));
      if (link === undefined) conn.send(encodeFrame(frame));
      else link.send(encodeFrame(frame));
    };
    /** Dialer side: hello → challenge → auth → welcome. */
    const dial$ = defer(() => {
      const target = expected ?? '';
      const dialerNonce = makeNonce();
      let transcript: HandshakeTranscript | undefined;
      send({ type: 'hello', version: PROTOCOL_VERSION, name: ctx.self, to: target, nonce: dialerNonce, ...macsFlag(conn) } as Frame);
      return frames$.pipe(
        map((frame): Link | undefined => {
          if (transcript === undefined) {
            if (frame.type !== 'challenge') throw outOfStage(frame, 'challenge');
            checkVersion(frame.version);
            // before the proof: this side's own connection, so a clear word rather than a refusal at the first frame
            checkMacs(conn, frame.macs, `${target} at ${conn.remote}`);
            // the target dialed this node meanwhile and that link is up: it stays, and this dial stands down
            // before its proof, where finishing would cost both sides a second session for the duplicate
            // rule to close (a dial starts only while the peer has no link; a fresh one beside a suspected
            // link is not stood down by it)
            if (ctx.isLinked(target)) {
              throw new SessionError(CODES.DUPLICATE, `${target} is linked already: its own connection came up during this one's handshake, which stands down`, 'duplicate', 'debug');
            }
            transcript = { dialer: ctx.self, acceptor: target, dialerNonce, acceptorNonce: frame.nonce };
            proved = true;
            send({ type: 'auth', proof: handshakeProof(ctx.keys().primary, 'dialer', transcript), instance: ctx.instance, incarnation: ctx.incarnation, meta: ctx.metadata() } as Frame);
            return undefined;
          }
          if (frame.type !== 'welcome') throw outOfStage(frame, 'welcome');
          const key = matchingKey(ctx.keys().all, 'acceptor', transcript, frame.proof);
          if (key === undefined) {
            throw new SessionError(CODES.AUTH, `authentication failed: ${target} at ${conn.remote} does not know the cluster secret`, 'policy');
          }
          checkCertificate(conn, target);
          const auth = conn.sealed === true ? undefined : frameAuth(key, transcript, 'dialer');
          return new Link(target, frame.instance, frame.incarnation, ctx.self, conn.id, conn, ctx.sendBufferBytes, frame.meta, auth);
        }),
        filter((l): l is Link => l !== undefined),
      );
    });

    /** Acceptor side: hello → challenge → auth → welcome. */
    const accept$ = defer(() => {
      let transcript: HandshakeTranscript | undefined;
      let claimed = '';
      let to = '';
      let macs: boolean | undefined;
      return frames$.pipe(
        map((frame): Link | undefined => {
          if (transcript === undefined) {
            if (frame.type !== 'hello') throw outOfStage(frame, 'hello');
            checkVersion(frame.version);
            claimed = frame.name;
            to = frame.to;
            macs = frame.macs;
            transcript = { dialer: frame.name, acceptor: frame.to, dialerNonce: frame.nonce, acceptorNonce: makeNonce() };
            // the same answer whoever the caller claims to be and whomever it expects:
            // a stranger learns nothing of this node before proving the secret
            send({ type: 'challenge', version: PROTOCOL_VERSION, nonce: transcript.acceptorNonce, ...macsFlag(conn) } as Frame);
            return undefined;
          }
          if (frame.type !== 'auth') throw outOfStage(frame, 'auth');
          const key = matchingKey(ctx.keys().all, 'dialer', transcript, frame.proof);
          if (key === undefined) {
            throw new SessionError(CODES.AUTH, `authentication failed: a caller at ${conn.remote} does not know the cluster secret`, 'policy');
          }
          proved = true;
          // a caller that proved the secret is named in the log from here on
          peer = claimed;
          if (to !== ctx.self) throw new SessionError(CODES.PEER_REFUSED, `${claimed} expected to reach ${to}, but this is ${ctx.self}`, 'policy');
          if (claimed === ctx.self) throw new SessionError(CODES.PEER_REFUSED, `a peer at ${conn.remote} claims this node's own name`, 'policy');
          if (!ctx.isConfigured(claimed)) throw new SessionError(CODES.PEER_REFUSED, `${claimed} is not a configured node`, 'policy');
          // after the proof, so that only a peer that knows the secret is told (a dialer of ours checks at the challenge)
          checkMacs(conn, macs, `${claimed} at ${conn.remote}`);
          checkCertificate(conn, claimed);
          // proven with the key the dialer used, which both sides hold
          send({ type: 'welcome', proof: handshakeProof(key, 'acceptor', transcript), instance: ctx.instance, incarnation: ctx.incarnation, meta: ctx.metadata() } as Frame);
          const auth = conn.sealed === true ? undefined : frameAuth(key, transcript, 'acceptor');
          return new Link(claimed, frame.instance, frame.incarnation, claimed, conn.id, conn, ctx.sendBufferBytes, frame.meta, auth);
        }),
        filter((l): l is Link => l !== undefined),
      );
    });

    /**
     * The authenticated session: `up`, then frames in, pings out, silence
     * watched, the join announced after joinDelay, then how it ended. Written
     * out as one subscriber rather than a concat around a share, a map, a
     * filter, a merge and a takeUntil: it runs for every frame of every
     * link, and each rxjs step a link keeps costs it objects for as long as
     * it lives, and each frame a call more.
     */
    const live$ = (current: Link): Observable<SessionEvent> =>
      new Observable<SessionEvent>((subscriber) => {
        /** What reads the link while it lives. */
        const live = new Subscription();
        /** How it ended, told once it did. */
        const tail = new Subscription();
        let over = false;
        /** Stops reading the link, once: false when it had stopped already. */
        const stop = (): boolean => {
          if (over) return false;
          over = true;
          live.unsubscribe();
          return true;
        };
        const fail = (error: unknown): void => {
          if (stop()) subscriber.error(error);
        };
        const emit = (event: SessionEvent): void => {
          if (!over) subscriber.next(event);
        };
        // this side ended the link (duplicate, removed, slow, shutdown) or the connection closed in order:
        // stop reading, then say so (a slow consumer's warning first) and report it down
        const done = (): void => {
          if (!stop()) return;
          if (current.endReason === 'slow') subscriber.next(slowLog(current));
          tail.add(ending$(undefined).subscribe(subscriber));
        };
        const teardown = (): void => {
          stop();
          tail.unsubscribe();
        };
        subscriber.next({ type: 'up', link: current });
        live.add(current.ended$.subscribe(done));
        if (over || subscriber.closed) return teardown;
        // each frame handled at once; dropped after SILENCE_LIMIT × readTimeout of silence
        live.add(
          frames$.pipe(readTimeout(hardLimit$, ctx.scheduler)).subscribe({
            next: (frame) => {
              let event: SessionEvent | undefined;
              try {
                event = handle(current, frame);
              } catch (error) {
                fail(error);
                return;
              }
              if (event !== undefined) emit(event);
              if (ctx.logTraffic) emit(log('debug', `received ${frame.type} frame from ${current.peer}`, current.peer));
            },
            error: fail,
            complete: done,
          }),
        );
        if (over) return teardown;
        // suspected after readTimeout of silence; the peers' reports decide whether that drops it
        live.add(frames$.pipe(suspicion(ctx.settings$, ctx.scheduler)).subscribe({ next: (suspect) => emit({ type: 'suspect', link: current, suspect }), error: fail }));
        // a transport with presence of its own (NATS heartbeats) makes these pings needless
        if (conn.presence !== true) {
          live.add(
            NEVER.pipe(heartbeat(ctx.settings$, ctx.scheduler)).subscribe({
              next: () => {
                // a transport that throws ends this connection, as a throw in a frame's handling does
                try {
                  send({ type: 'ping', id: Math.max(0, Math.round(ctx.scheduler.now())) } as Frame);
                } catch (error) {
                  fail(error);
                }
              },
              error: fail,
            }),
          );
        }
        live.add(
          concat(of(true), NEVER)
            .pipe(joinDelay(ctx.settings$, ctx.scheduler), take(1))
            .subscribe({ next: () => emit({ type: 'joinDue', link: current }), error: fail }),
        );
        return teardown;
      });

    /** What one live frame means: an event for the manager, a pong sent, or the end of the session (thrown). */
    const handle = (current: Link, frame: Frame): SessionEvent | undefined => {
      switch (frame.type) {
        case 'msg':
        case 'req':
        case 'res':
        case 'chan':
          return { type: 'packet', link: current, frame, bytes: size };
        case 'meta':
          return { type: 'meta', link: current, metadata: frame.data };
        case 'reach':
          return { type: 'reach', link: current, reports: frame.rows };
        case 'ping':
          send({ type: 'pong', id: frame.id });
          return undefined;
        case 'pong':
          return { type: 'lag', link: current, ms: Math.max(0, ctx.scheduler.now() - frame.id) };
        case 'leave':
          throw new PeerLeavingSignal();
        default:
          throw outOfStage(frame, 'a live frame');
      }
    };

    const slowLog = (l: Link): SessionEvent =>
      log('warn', `${l.peer} is a slow consumer: more than ${ctx.sendBufferBytes} bytes unsent (sendBufferBytes); disconnected`, l.peer, CODES.SLOW_CONSUMER);

    const handshake$ = conn.direction === 'outbound' ? dial$ : accept$;
    const session$ = handshake$.pipe(
      handshakeDeadline(ctx.settings$, ctx.scheduler),
      take(1),
      mergeMap((authenticated) => {
        link = authenticated;
        conn.authenticated?.();
        return live$(authenticated);
      }),
    );

    /** After a fault or a close by this side: wait for the close to finish, bounded, then cut. */
    const closeGrace$ = (): Observable<never> =>
      ctx.settings$.pipe(
        take(1),
        mergeMap((s) =>
          race(reader.closed$, timer(Math.min(CLOSE_GRACE, s.connectTimeout), ctx.scheduler)).pipe(
            take(1),
            tap((closed) => {
              if (closed !== true) conn.terminate();
            }),
          ),
        ),
        ignoreElements(),
      );

    const ending$ = (error: unknown): Observable<SessionEvent> => {
      const out: SessionEvent[] = [];
      // the peer timed this node out (it was the silent one, or the path to the peer was): flap damping leaves the peer alone
      const judged = error instanceof ClosedError && !error.event.local && error.event.cause === 'timeout' && link?.endReason === undefined;
      const reason = onError(error, link, peer, proved, conn, out);
      if (link !== undefined) {
        link.noteEnd(reason);
        out.push(judged ? { type: 'down', link, reason: link.endReason ?? reason, judged } : { type: 'down', link, reason: link.endReason ?? reason });
      }
      return concat(of(...out), closeGrace$());
    };

    // once this stream ends, the connection is closed or cut: whoever waits for it may go on
    const all$ = session$.pipe(
      catchError((error: unknown) => ending$(error)),
      finalize(() => link?.noteClosed()),
    );
    return ctx.logTraffic ? merge(sent$, all$.pipe(finalize(() => sent$.complete()))) : all$;
  });
}

/**
 * A suspected peer that other peers still see (a fault between two nodes
 * only) stays suspected, out of this node's report and so out of the
 * agreed view, until its silence reaches this many readTimeouts: then its
 * link is closed all the same and redialed, in case only that connection
 * is wedged.
 */
export const SILENCE_LIMIT = 10;

/**
 * Logs why a connection ended and closes it as the fault requires.
 *
 * @returns the leave reason
 */
function onError(
  error: unknown,
  link: Link | undefined,
  peer: string | undefined,
  proved: boolean,
  conn: Connection,
  out: SessionEvent[],
): LeaveReason {
  const who = peer ?? conn.remote;
  const authed = link !== undefined;
  // after the handshake the link closes, sealing the reason where frames carry MACs: the peer takes it for what it says
  const close = (cause: CloseCause, text: string): void => (link === undefined ? conn.close(cause, text) : link.close(cause, text));
  if (error === undefined) return link?.endReason ?? 'lost';
  if (error instanceof PeerLeavingSignal) {
    out.push(log('info', `${who} is shutting down`, peer));
    if (link !== undefined) out.push({ type: 'leaving', link });
    close('normal', 'bye');
    return 'shutdown';
  }
  if (error instanceof ClosedError) {
    const { cause, reason, local } = error.event;
    const said = reason === '' ? '' : `: ${sanitize(reason)}`;
    if (link?.endReason !== undefined) return link.endReason;
    if (local && cause === 'too-big') {
      out.push(log('warn', `${authed ? 'frame' : `handshake frame (limit ${HANDSHAKE_MAX_FRAME} bytes)`} from ${who} exceeds ${authed ? 'maxPayload' : 'its limit'}; connection closed`, peer, CODES.FRAME_TOO_BIG));
      return 'refused';
    }
    if (local && cause === 'protocol') {
      out.push(log('warn', `bad frame from ${who}: ${sanitize(error.event.error?.message ?? 'protocol violation')}; connection closed`, peer, CODES.BAD_FRAME));
      return 'refused';
    }
    if (!authed) {
      if (cause === 'policy') {
        // which stage refused tells the code, never the peer's own words
        out.push(log('warn', `${who} refused the handshake${proved ? ' after our proof (wrong secret, or this node is not configured there)' : ''}${said}`, peer, proved ? CODES.AUTH : CODES.PEER_REFUSED));
      } else {
        out.push(log('debug', `connection ${conn.direction === 'outbound' ? 'to' : 'from'} ${who} closed during the handshake (${cause})`, peer));
      }
      return 'refused';
    }
    let told = said;
    if (link?.auth !== undefined && !local) {
      // only a close whose reason carries the session's MAC says why; any other (injected, or a fault's
      // bare close) is a lost connection, never a shutdown or a duplicate
      const text = link.auth.openClose(cause, reason);
      if (text === undefined) {
        out.push(log('info', `connection to ${who} closed (${cause}${said}) with no valid MAC in its reason: taken as lost`, peer));
        return 'lost';
      }
      told = text === '' ? '' : `: ${sanitize(text)}`;
    }
    switch (cause) {
      case 'shutdown':
        out.push(log('info', `${who} closed the connection: shutting down`, peer));
        return 'shutdown';
      case 'duplicate':
        return 'duplicate';
      case 'reset':
        if (error.event.error !== undefined) out.push(log('warn', `connection to ${who} failed: ${sanitize(error.event.error.message)}`, peer, CODES.SOCKET));
        else out.push(log('info', `connection to ${who} lost`, peer));
        return 'lost';
      default:
        out.push(log('info', `${who} closed the connection (${cause}${told})`, peer));
        return 'lost';
    }
  }
  if (error instanceof ReadTimeoutError) {
    out.push(log('warn', `${who} silent for ${error.silence} ms (${SILENCE_LIMIT} × readTimeout ${error.readTimeout / SILENCE_LIMIT} ms, while other peers still saw it); dropped`, peer, CODES.READ_TIMEOUT));
    close('timeout', 'read timeout');
    return 'timeout';
  }
  if (error instanceof HandshakeTimeoutError) {
    out.push(log('warn', `handshake with ${who} not finished within connectTimeout (${error.connectTimeout} ms)`, peer, CODES.HANDSHAKE_TIMEOUT));
    close('handshake-timeout', 'handshake timeout');
    return 'refused';
  }
  if (error instanceof SessionError) {
    out.push(log(error.level, `${error.message}; connection ${conn.direction === 'outbound' ? 'to' : 'from'} ${who} closed`, peer, error.code));
    // a refusal tells the caller no more than "refused": not which check failed
    close(error.closeCause, error.closeCause === 'policy' ? 'refused' : error.message.slice(0, 100));
    return 'refused';
  }
  out.push(log('error', `unexpected fault on the connection to ${who}: ${String(error)}`, peer, CODES.SOCKET));
  conn.terminate();
  return 'lost';
}

/** Bytes of a frame as received. */
function byteLength(data: string | Buffer): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

/**
 * With mutual TLS, the peer's verified certificate must name the node it
 * proved to be (a SAN DNS name or the CN): a certificate of one node cannot
 * pass for another.
 */
function checkCertificate(conn: Connection, name: string): void {
  const names = conn.peerNames;
  if (names === undefined || names.includes(name)) return;
  const shown = names.length === 0 ? 'no verified certificate' : `a certificate for ${names.slice(0, 4).map((n) => sanitize(n)).join(', ')}`;
  throw new SessionError(CODES.TLS, `${name} at ${conn.remote} presented ${shown}, not one naming ${name}`, 'policy');
}

/** What a side says of its frame MACs in its hello or challenge: nothing when it MACs them (the default), `macs: false` when not. */
function macsFlag(conn: Connection): { macs?: false } {
  return conn.sealed === true ? { macs: false } : {};
}

/**
 * Refuses a peer whose frames would not match this side's: one MACs its
 * frames after the handshake and the other does not (frameMacs set
 * differently on the two nodes). Without this check the first frame would
 * fail its MAC and read as an attack.
 */
function checkMacs(conn: Connection, theirs: boolean | undefined, who: string): void {
  const mine = conn.sealed !== true;
  if ((theirs ?? true) === mine) return;
  const hint = 'frameMacs must be the same on every node (wsTransport({ frameMacs }))';
  throw new SessionError(
    CODES.PEER_REFUSED,
    mine
      ? `${who} sends frames without a MAC and this node requires one: ${hint}`
      : `${who} requires a MAC on every frame and this node sends none (frameMacs: false, or a connection that authenticates frames itself): ${hint}`,
    'policy',
  );
}

function checkVersion(version: number): void {
  if (version !== PROTOCOL_VERSION) {
    throw new SessionError(CODES.PEER_REFUSED, `protocol version ${version} is not ${PROTOCOL_VERSION}`, 'policy');
  }
}

function outOfStage(frame: Frame, expected: string): SessionError {
  return new SessionError(CODES.BAD_FRAME, `unexpected ${frame.type} frame (expected ${expected})`, 'protocol');
}
