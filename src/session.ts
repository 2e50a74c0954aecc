import {
  catchError,
  concatMap,
  defer,
  EMPTY,
  filter,
  finalize,
  ignoreElements,
  map,
  merge,
  share,
  take,
  tap,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { CLOSE, CODES, PROTOCOL_VERSION, type Code } from './limits.js';
import { ClusterError, HandshakeTimeoutError, ReadTimeoutError } from './errors.js';
import { decodeFrame, encodeFrame, type Frame, type MsgFrame } from './protocol/frames.js';
import { handshakeProof, makeNonce, verifyProof, type HandshakeTranscript } from './protocol/handshake.js';
import { handshakeDeadline } from './operators/handshakeDeadline.js';
import { heartbeat } from './operators/heartbeat.js';
import { readTimeout } from './operators/readTimeout.js';
import type { Settings } from './settings.js';
import type { LogLevel } from './log.js';
import type { Connection, SocketEvent } from './transport/types.js';

/** Why a peer's connection ended; carried to members$ and the logs. */
export type LeaveReason = 'shutdown' | 'timeout' | 'lost' | 'removed' | 'duplicate' | 'refused' | 'slow' | 'stopping';

/**
 * An authenticated connection to a named peer. Sending checks the send
 * buffer: a peer whose unsent bytes pass the high-water mark is a slow
 * consumer and is disconnected.
 */
export class Link {
  /** Set when this side decided to end the link, so the end is reported with its reason. */
  endReason: LeaveReason | undefined;

  constructor(
    readonly peer: string,
    /** The peer's manager instance (random per process start). */
    readonly instance: string,
    readonly dialer: string,
    readonly seq: number,
    readonly conn: Connection,
    private readonly sendBufferBytes: number,
    private readonly onSlow: (link: Link, buffered: number) => void,
  ) {}

  /**
   * Queues one serialised frame.
   *
   * @returns the bytes now queued for this peer (0 once it was dropped as a slow consumer or ended)
   */
  send(data: string | Buffer): number {
    if (this.endReason !== undefined) return 0;
    this.conn.send(data);
    const buffered = this.conn.bufferedAmount;
    if (buffered > this.sendBufferBytes) {
      this.endReason = 'slow';
      this.onSlow(this, buffered);
      this.conn.terminate();
      return 0;
    }
    return buffered;
  }

  /** Ends the link in order, recording why (the first reason wins). */
  end(reason: LeaveReason, code: number, text: string): void {
    this.endReason ??= reason;
    this.conn.close(code, text);
  }
}

/** What a session needs from its manager. */
export interface SessionContext {
  readonly self: string;
  /** This manager's instance id. */
  readonly instance: string;
  readonly secret: string | Buffer;
  readonly settings$: Observable<Settings>;
  readonly scheduler: SchedulerLike;
  readonly sendBufferBytes: number;
  readonly logTraffic: boolean;
  /** Whether `name` may connect: configured here, and not this node. */
  isConfigured(name: string): boolean;
  /** Why `name` of `instance` may not connect now (another instance of it is connected), or undefined. */
  refusal(name: string, instance: string): string | undefined;
  log(level: LogLevel, message: string, node?: string, code?: Code): void;
  /** The link finished its handshake. */
  up(link: Link): void;
  /** The link ended (after `up`). */
  down(link: Link, reason: LeaveReason): void;
  /** The peer announced its shutdown. */
  leaving(link: Link): void;
  packet(link: Link, frame: MsgFrame): void;
  lag(link: Link, ms: number): void;
}

/** A fault that ends one connection: how to log it and how to close. */
class SessionError extends ClusterError {
  override readonly name = 'SessionError';
  constructor(
    code: Code,
    message: string,
    readonly closeCode: number,
    readonly level: LogLevel = 'warn',
  ) {
    super(code, message);
  }
}

/** The socket closed under us; `event` says how. */
class ClosedError extends Error {
  constructor(readonly event: Extract<SocketEvent, { type: 'close' }>) {
    super(`closed with ${event.code}${event.reason === '' ? '' : ` (${event.reason})`}`);
  }
}

/** The peer sent its shutdown notice: an orderly end, not a fault. */
class PeerLeavingSignal extends Error {}

/**
 * The whole life of one connection: the handshake (within connectTimeout),
 * then the authenticated session (pings every pingInterval, dropped after
 * readTimeout of silence). Every fault is caught here, logged, and ends this
 * connection only; the returned Observable never errors.
 *
 * @param conn - a freshly opened connection
 * @param expected - the peer this node dialed, or undefined for an inbound connection
 * @param ctx - the manager's side
 */
export function session$(conn: Connection, expected: string | undefined, ctx: SessionContext): Observable<never> {
  let link: Link | undefined;
  let peer = expected;
  return defer(() => {
    const frames$ = conn.events$.pipe(
      map((event) => {
        if (event.type === 'close') throw new ClosedError(event);
        const decoded = decodeFrame(event.data);
        if (isLeft(decoded)) {
          throw new SessionError(CODES.BAD_FRAME, `bad frame: ${decoded.left}`, CLOSE.PROTOCOL_ERROR);
        }
        if (ctx.logTraffic) ctx.log('debug', `received ${decoded.right.type} frame from ${peer ?? conn.remote}`, peer);
        return decoded.right;
      }),
      share(),
    );
    const handshake$ = conn.direction === 'outbound' ? dial(frames$) : accept(frames$);
    return handshake$.pipe(
      handshakeDeadline(ctx.settings$, ctx.scheduler),
      take(1),
      concatMap((authenticated) => {
        link = authenticated;
        return live$(authenticated, frames$);
      }),
    );
  }).pipe(
    catchError((error: unknown) => {
      const reason = onError(error);
      if (link !== undefined) link.endReason ??= reason;
      return EMPTY;
    }),
    finalize(() => {
      if (link !== undefined) ctx.down(link, link.endReason ?? 'lost');
    }),
  );

  function send(frame: Frame): void {
    if (ctx.logTraffic) ctx.log('debug', `sending ${frame.type} frame to ${peer ?? conn.remote}`, peer);
    if (link === undefined) conn.send(encodeFrame(frame));
    else link.send(encodeFrame(frame));
  }

  function makeLink(name: string, instance: string, dialer: string): Link {
    return new Link(name, instance, dialer, conn.id, conn, ctx.sendBufferBytes, (slow, buffered) =>
      ctx.log('warn', `${slow.peer} is a slow consumer: ${buffered} bytes unsent (sendBufferBytes ${ctx.sendBufferBytes}); disconnected`, slow.peer, CODES.SLOW_CONSUMER),
    );
  }

  /** Dialer side: hello → challenge → auth → welcome. */
  function dial(frames$: Observable<Frame>): Observable<Link> {
    return defer(() => {
      const target = expected ?? '';
      const dialerNonce = makeNonce();
      let transcript: HandshakeTranscript | undefined;
      let peerInstance = '';
      send({ type: 'hello', version: PROTOCOL_VERSION, name: ctx.self, to: target, nonce: dialerNonce, instance: ctx.instance } as Frame);
      return frames$.pipe(
        map((frame): Link | undefined => {
          if (transcript === undefined) {
            if (frame.type !== 'challenge') throw outOfStage(frame, 'challenge');
            checkVersion(frame.version);
            if (frame.name !== target) {
              throw new SessionError(CODES.PEER_REFUSED, `dialed ${target} at ${conn.remote} but it answers as ${frame.name}`, CLOSE.POLICY_VIOLATION);
            }
            transcript = { dialer: ctx.self, acceptor: target, dialerNonce, acceptorNonce: frame.nonce };
            refuseImpostor(target, frame.instance);
            peerInstance = frame.instance;
            send({ type: 'auth', proof: handshakeProof(ctx.secret, 'dialer', transcript) } as Frame);
            return undefined;
          }
          if (frame.type !== 'welcome') throw outOfStage(frame, 'welcome');
          if (!verifyProof(ctx.secret, 'acceptor', transcript, frame.proof)) {
            throw new SessionError(CODES.AUTH, `authentication failed: ${target} does not know the cluster secret`, CLOSE.POLICY_VIOLATION);
          }
          return makeLink(target, peerInstance, ctx.self);
        }),
        filter((l): l is Link => l !== undefined),
      );
    });
  }

  /** Acceptor side: hello → challenge → auth → welcome. */
  function accept(frames$: Observable<Frame>): Observable<Link> {
    return defer(() => {
      let transcript: HandshakeTranscript | undefined;
      let peerInstance = '';
      return frames$.pipe(
        map((frame): Link | undefined => {
          if (transcript === undefined) {
            if (frame.type !== 'hello') throw outOfStage(frame, 'hello');
            checkVersion(frame.version);
            if (frame.to !== ctx.self) {
              throw new SessionError(CODES.PEER_REFUSED, `${frame.name} expected to reach ${frame.to}, but this is ${ctx.self}`, CLOSE.POLICY_VIOLATION);
            }
            if (frame.name === ctx.self) {
              throw new SessionError(CODES.PEER_REFUSED, `a peer at ${conn.remote} claims this node's own name`, CLOSE.POLICY_VIOLATION);
            }
            if (!ctx.isConfigured(frame.name)) {
              throw new SessionError(CODES.PEER_REFUSED, `${frame.name} is not a configured node`, CLOSE.POLICY_VIOLATION);
            }
            refuseImpostor(frame.name, frame.instance);
            peer = frame.name;
            peerInstance = frame.instance;
            transcript = { dialer: frame.name, acceptor: ctx.self, dialerNonce: frame.nonce, acceptorNonce: makeNonce() };
            send({
              type: 'challenge',
              version: PROTOCOL_VERSION,
              name: ctx.self,
              nonce: transcript.acceptorNonce,
              instance: ctx.instance,
            } as Frame);
            return undefined;
          }
          if (frame.type !== 'auth') throw outOfStage(frame, 'auth');
          if (!verifyProof(ctx.secret, 'dialer', transcript, frame.proof)) {
            throw new SessionError(CODES.AUTH, `authentication failed: ${transcript.dialer} at ${conn.remote} does not know the cluster secret`, CLOSE.POLICY_VIOLATION);
          }
          // only a dialer that proved the secret gets our proof: an unauthenticated
          // caller never sees an HMAC of the secret to guess it from offline
          send({ type: 'welcome', proof: handshakeProof(ctx.secret, 'acceptor', transcript) } as Frame);
          return makeLink(transcript.dialer, peerInstance, transcript.dialer);
        }),
        filter((l): l is Link => l !== undefined),
      );
    });
  }

  /** Refuses a second process that claims the name of a connected node. */
  function refuseImpostor(name: string, instance: string): void {
    const reason = ctx.refusal(name, instance);
    if (reason !== undefined) throw new SessionError(CODES.PEER_REFUSED, reason, CLOSE.POLICY_VIOLATION);
  }

  /** The authenticated session: frames in, pings out, silence watched. */
  function live$(current: Link, frames$: Observable<Frame>): Observable<never> {
    return defer(() => {
      ctx.up(current);
      const watched$ = frames$.pipe(readTimeout(ctx.settings$, ctx.scheduler), share());
      const handled$ = watched$.pipe(
        tap((frame) => {
          switch (frame.type) {
            case 'msg':
              ctx.packet(current, frame);
              return;
            case 'ping':
              send({ type: 'pong', id: frame.id });
              return;
            case 'pong':
              ctx.lag(current, Math.max(0, ctx.scheduler.now() - frame.id));
              return;
            case 'leave':
              throw new PeerLeavingSignal();
            default:
              throw outOfStage(frame, 'msg, ping, pong or leave');
          }
        }),
      );
      const pings$ = watched$.pipe(
        heartbeat(ctx.settings$, ctx.scheduler),
        tap(() => send({ type: 'ping', id: Math.max(0, Math.round(ctx.scheduler.now())) } as Frame)),
      );
      return merge(handled$, pings$).pipe(ignoreElements());
    });
  }

  function onError(error: unknown): LeaveReason {
    const who = peer ?? conn.remote;
    const authed = link !== undefined;
    if (error instanceof PeerLeavingSignal) {
      ctx.log('info', `${who} is shutting down`, peer);
      if (link !== undefined) ctx.leaving(link);
      conn.close(CLOSE.NORMAL, 'bye');
      return 'shutdown';
    }
    if (error instanceof ClosedError) {
      const { code, reason } = error.event;
      if (link?.endReason !== undefined) return link.endReason;
      const wsCode = (error.event.error as { code?: unknown } | undefined)?.code;
      if (wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        ctx.log('warn', `frame from ${who} exceeds maxPayload; connection closed (${code})`, peer, CODES.FRAME_TOO_BIG);
        return 'refused';
      }
      if (typeof wsCode === 'string' && wsCode.startsWith('WS_ERR_')) {
        // the peer broke the WebSocket protocol itself (bad UTF-8, bad opcode, unmasked frame...)
        ctx.log('warn', `bad frame from ${who}: ${error.event.error?.message ?? wsCode} (${wsCode}); connection closed (${code})`, peer, CODES.BAD_FRAME);
        return 'refused';
      }
      if (!authed) {
        if (code === CLOSE.POLICY_VIOLATION) {
          const refusal = /authentication|secret/.test(reason) ? CODES.AUTH : CODES.PEER_REFUSED;
          ctx.log('warn', `${who} refused the handshake: ${reason === '' ? 'no reason given' : reason}`, peer, refusal);
        } else {
          ctx.log('debug', `connection from ${who} closed during the handshake (${code})`, peer);
        }
        return 'refused';
      }
      if (code === CLOSE.GOING_AWAY || code === CLOSE.LEAVING) {
        ctx.log('info', `${who} closed the connection: shutting down`, peer);
        return 'shutdown';
      }
      if (error.event.error !== undefined) {
        ctx.log('warn', `connection to ${who} failed: ${error.event.error.message}`, peer, CODES.SOCKET);
      } else {
        ctx.log('info', `connection to ${who} closed (${code}${reason === '' ? '' : ` ${reason}`})`, peer);
      }
      return code === CLOSE.DUPLICATE ? 'duplicate' : 'lost';
    }
    if (error instanceof ReadTimeoutError) {
      ctx.log('warn', `${who} silent for ${error.silence} ms (readTimeout ${error.readTimeout} ms); dropped`, peer, CODES.READ_TIMEOUT);
      conn.terminate();
      return 'timeout';
    }
    if (error instanceof HandshakeTimeoutError) {
      ctx.log('warn', `handshake with ${who} not finished within connectTimeout (${error.connectTimeout} ms)`, peer, CODES.HANDSHAKE_TIMEOUT);
      conn.close(CLOSE.HANDSHAKE_TIMEOUT, 'handshake timeout');
      return 'refused';
    }
    if (error instanceof SessionError) {
      ctx.log(error.level, `${error.message}; connection ${authed ? 'to' : 'from'} ${who} closed`, peer, error.code);
      conn.close(error.closeCode, error.message.slice(0, 100));
      return 'refused';
    }
    ctx.log('error', `unexpected fault on the connection to ${who}: ${String(error)}`, peer, CODES.SOCKET);
    conn.terminate();
    return 'lost';
  }
}

function checkVersion(version: number): void {
  if (version !== PROTOCOL_VERSION) {
    throw new SessionError(CODES.PEER_REFUSED, `protocol version ${version} is not ${PROTOCOL_VERSION}`, CLOSE.POLICY_VIOLATION);
  }
}

function outOfStage(frame: Frame, expected: string): SessionError {
  return new SessionError(CODES.BAD_FRAME, `unexpected ${frame.type} frame (expected ${expected})`, CLOSE.PROTOCOL_ERROR);
}
