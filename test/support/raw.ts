/**
 * Hostile and outside clients for integration tests: a raw `ws` client that
 * speaks (or mangles) the mesh protocol by hand (protocol 2: hello →
 * challenge → auth → welcome, the dialer proves first), raw TCP, and a plain
 * HTTP upgrade. Everything touches 127.0.0.1 only, and every wait is bounded.
 */
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, WS_SUBPROTOCOL } from '../../src/limits.js';
import { handshakeProof, verifyProof, type HandshakeTranscript } from '../../src/protocol/handshake.js';
import { frameAuth, type FrameAuth } from '../../src/protocol/frameAuth.js';
import { causeOf } from '../../src/transport/ws/codes.js';
import { stretchSecret } from '../../src/protocol/keyring.js';
import { MESH_PATH } from '../../src/transport/ws/server.js';

/** Rejects with `what` if `promise` has not settled within `ms`; never leaves a timer behind. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/**
 * A raw WebSocket client on the mesh path. Text frames are parsed as JSON and
 * queued (`reach` frames apart, in `reports`); with `autoPong` a ping is answered at once and not queued, so an
 * outside implementation can stay joined past readTimeout.
 */
export class RawClient {
  readonly #queue: unknown[] = [];
  /** The `reach` frames received (reachability reports), never queued for `next()`. */
  readonly reports: unknown[] = [];
  readonly #waiters: ((frame: unknown) => void)[] = [];
  #closeInfo: CloseInfo | undefined;
  /** The frame MACs of the session, from the welcome on (see armFrameAuth). */
  #auth: FrameAuth | undefined;
  /** Set by armFrameAuth: the MACs to take up once the welcome has come. */
  #armed: FrameAuth | undefined;
  /** Frames received after the welcome whose MAC did not hold. */
  forged = 0;
  /** Settles when the socket has closed, with the code and reason it got. */
  readonly closed: Promise<CloseInfo>;

  private constructor(
    readonly ws: WebSocket,
    autoPong: boolean,
  ) {
    ws.on('error', () => undefined); // a refused or reset socket must not throw; `closed` reports it
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        // after the welcome a node's close reason carries the session's MAC: shown without it when it holds
        const text = reason.toString('utf8');
        this.#closeInfo = { code, reason: this.#auth?.openClose(causeOf(code, undefined), text) ?? text };
        resolve(this.#closeInfo);
      });
    });
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      let data: Buffer | string = isBinary ? raw : raw.toString('utf8');
      if (this.#auth !== undefined) {
        const opened = this.#auth.open(data);
        if (opened === undefined) {
          this.forged++;
          return;
        }
        data = opened;
      }
      let frame: unknown;
      try {
        frame = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
      } catch {
        frame = { unparsed: data };
      }
      // the welcome ends the handshake: from the next frame on, both ways carry MACs
      if (this.#armed !== undefined && isWelcomeFrame(frame)) {
        this.#auth = this.#armed;
        this.#armed = undefined;
      }
      if (autoPong && isPing(frame)) {
        this.send({ type: 'pong', id: frame.id });
        return;
      }
      // reachability reports (the agreed view's gossip) are kept apart: the tests read the other frames in order
      if (typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'reach') {
        this.reports.push(frame);
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#queue.push(frame);
      else waiter(frame);
    });
  }

  /** Opens a raw client on `ws://address/rxcluster/v1` with the mesh sub-protocol. */
  static async open(address: string, options: { autoPong?: boolean; ms?: number } = {}): Promise<RawClient> {
    const ws = new WebSocket(`ws://${address}${MESH_PATH}`, WS_SUBPROTOCOL, { perMessageDeflate: false });
    const client = new RawClient(ws, options.autoPong ?? false);
    const opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', (code: number) => reject(new Error(`raw client closed with ${code} before it opened`)));
    });
    try {
      await within(opened, options.ms ?? 3000, 'the raw client to open');
    } catch (error) {
      ws.terminate();
      throw error;
    }
    return client;
  }

  /**
   * Sends text (as a text frame), a Buffer (as a binary frame), or any other
   * value as JSON text; after the welcome of an armed handshake, with its MAC
   * (as a node sends it). `sendRaw` sends the bytes as they are.
   */
  send(data: unknown): void {
    const binary = Buffer.isBuffer(data);
    this.sendFrame(binary ? data : typeof data === 'string' ? data : JSON.stringify(data), binary);
  }

  /** Sends one frame as given (text or binary as said), with its MAC after the welcome of an armed handshake. */
  sendFrame(payload: string | Buffer, binary: boolean): void {
    this.sendRaw(this.#auth === undefined ? payload : this.#auth.seal(payload, binary), binary);
  }

  /** Sends a frame exactly as given, with no MAC: a forgery, as far as the node can tell. */
  sendRaw(data: string | Buffer, binary = Buffer.isBuffer(data)): void {
    this.ws.send(data, { binary });
  }

  /**
   * Takes up the session's frame MACs (protocol v3, plain ws) once the
   * welcome of the handshake whose transcript is given comes in, as the
   * dialer: call it before sending the auth.
   */
  armFrameAuth(secret: string, transcript: HandshakeTranscript): void {
    this.#armed = frameAuth(stretchSecret(secret), transcript, 'dialer');
  }

  /** The next frame received (parsed JSON), or a rejection after `ms`. */
  next(ms = 3000, what = 'a frame'): Promise<unknown> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return within(
      new Promise<unknown>((resolve) => this.#waiters.push(resolve)),
      ms,
      what,
    );
  }

  /** The close code and reason, or a rejection after `ms`. */
  waitClosed(ms = 3000): Promise<CloseInfo> {
    return within(this.closed, ms, 'the raw client to be closed');
  }

  /** How many received frames have not been taken with `next()` yet. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Whether the socket is still open (the server did not close it). */
  get isOpen(): boolean {
    return this.#closeInfo === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /** Ends the socket at once; safe to call twice. */
  destroy(): void {
    this.ws.terminate();
  }
}

function isWelcomeFrame(frame: unknown): boolean {
  return typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'welcome';
}

function isPing(frame: unknown): frame is { type: 'ping'; id: number } {
  return typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'ping';
}

/** A fresh 32-byte nonce in the wire form (64 lower-case hex characters). */
export function nonce(): string {
  return randomBytes(32).toString('hex');
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/**
 * Writes raw bytes to the port over plain TCP and collects what comes back
 * until the server closes the socket (or rejects after `ms`).
 */
export async function rawTcp(address: string, bytes: Buffer, ms = 3000): Promise<{ reply: string }> {
  const { host, port } = hostPort(address);
  const socket: Socket = connect(port, host);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined); // a reset is a close too
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('connect', () => socket.write(bytes));
  try {
    await within(closed, ms, 'the server to close the raw TCP socket');
  } finally {
    socket.destroy();
  }
  return { reply: Buffer.concat(chunks).toString('latin1') };
}

/**
 * Asks for a WebSocket upgrade on `path` with plain HTTP and returns the
 * status the server answered (101 would be a switch).
 */
export async function upgradeStatus(address: string, path: string, ms = 3000): Promise<number> {
  const { host, port } = hostPort(address);
  const req = request({
    host,
    port,
    path,
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': WS_SUBPROTOCOL,
    },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 101);
    });
    req.once('error', reject);
  });
  req.end();
  try {
    return await within(status, ms, `the answer to an upgrade on ${path}`);
  } finally {
    req.destroy();
  }
}

/**
 * A TCP port on 127.0.0.1 where every connection is dropped at once: a
 * configured peer address that is never reachable, without guessing a free
 * port. Close it when done.
 */
export async function sinkServer(): Promise<{ address: string; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => socket.destroy());
  await within(new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  }), 3000, 'the sink server to listen');
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('sink server has no TCP address');
  return {
    address: `127.0.0.1:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------
// the dialer's side of the handshake, by hand (protocol 2)

/** The acceptor's answer to any well-formed hello: its nonce, and nothing else. */
export interface Challenge {
  readonly type: 'challenge';
  readonly version: number;
  readonly nonce: string;
}

/** The acceptor's answer to a valid auth: its proof, instance and incarnation. */
export interface Welcome {
  readonly type: 'welcome';
  readonly proof: string;
  readonly instance: string;
  readonly incarnation: number;
  /** The acceptor's metadata (`{}` when it has none). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** The keys a challenge carries, sorted: nothing about the acceptor (no name, no instance, no proof). */
export const CHALLENGE_KEYS = ['nonce', 'type', 'version'] as const;
/** The keys a welcome carries, sorted. */
export const WELCOME_KEYS = ['incarnation', 'instance', 'meta', 'proof', 'type'] as const;

const HEX64 = /^[0-9a-f]{64}$/;

/** A hello frame (protocol 2: `{ type, version, name, to, nonce }`), any field overridable. */
export function helloOf(fields: Partial<{ version: number; name: string; to: string; nonce: string }> & Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'hello', version: PROTOCOL_VERSION, name: 'B', to: 'A', nonce: nonce(), ...fields };
}

/** An auth frame: the dialer's proof, instance (64 lower-hex) and incarnation (process start, ms). */
export function authOf(proof: string, instance: string = nonce(), incarnation: number = Date.now()): Record<string, unknown> {
  return { type: 'auth', proof, instance, incarnation, meta: {} };
}

/** Whether `frame` is a challenge of this protocol with exactly the keys of one (so it tells a caller nothing more). */
export function isChallenge(frame: unknown): frame is Challenge {
  if (typeof frame !== 'object' || frame === null) return false;
  const f = frame as Record<string, unknown>;
  return Object.keys(f).sort().join() === CHALLENGE_KEYS.join() && f['type'] === 'challenge' && f['version'] === PROTOCOL_VERSION && typeof f['nonce'] === 'string' && HEX64.test(f['nonce']);
}

/** Whether `frame` is a welcome with exactly the keys of one and well-formed fields. */
export function isWelcome(frame: unknown): frame is Welcome {
  if (typeof frame !== 'object' || frame === null) return false;
  const f = frame as Record<string, unknown>;
  return (
    Object.keys(f).sort().join() === WELCOME_KEYS.join() && f['type'] === 'welcome' &&
    typeof f['proof'] === 'string' && HEX64.test(f['proof']) && typeof f['instance'] === 'string' && HEX64.test(f['instance']) &&
    typeof f['incarnation'] === 'number' && Number.isSafeInteger(f['incarnation']) && f['incarnation'] >= 0 &&
    typeof f['meta'] === 'object' && f['meta'] !== null && !Array.isArray(f['meta'])
  );
}

export interface HalfOpen {
  readonly client: RawClient;
  /** The hello sent. */
  readonly hello: Readonly<Record<string, unknown>>;
  readonly transcript: HandshakeTranscript;
  readonly challenge: Challenge;
  /** The dialer's proof the acceptor expects. */
  readonly proof: string;
  /** The acceptor's proof its welcome must carry. */
  readonly acceptorProof: string;
}

export interface RawPeerOptions {
  readonly autoPong?: boolean;
  /** The instance id claimed in the auth; default a fresh one. */
  readonly instance?: string;
  /** The incarnation claimed in the auth; default Date.now() (a process started now). */
  readonly incarnation?: number;
  readonly ms?: number;
}

/**
 * Opens a client, sends a valid hello as `name` to `acceptor`, and reads the
 * challenge, which must be exactly a challenge (no name, no instance, no proof:
 * the dialer proves first). The proofs are computed with `secret`.
 */
export async function rawHello(address: string, name: string, acceptor: string, secret: string, options: RawPeerOptions = {}): Promise<HalfOpen> {
  const ms = options.ms ?? 3000;
  const client = await RawClient.open(address, { autoPong: options.autoPong ?? true, ms });
  try {
    const hello = helloOf({ name, to: acceptor });
    client.send(hello);
    const challenge = await client.next(ms, `${acceptor}'s challenge to ${name}`);
    if (!isChallenge(challenge)) throw new Error(`expected a challenge, got ${JSON.stringify(challenge)}`);
    const transcript: HandshakeTranscript = { dialer: name, acceptor, dialerNonce: String(hello['nonce']), acceptorNonce: challenge.nonce };
    return { client, hello, transcript, challenge, proof: handshakeProof(stretchSecret(secret), 'dialer', transcript), acceptorProof: handshakeProof(stretchSecret(secret), 'acceptor', transcript) };
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/**
 * Sends the auth of a half-open handshake and reads the welcome, whose proof
 * must check out. The client is left open (and terminated on failure).
 */
export async function rawAuth(half: HalfOpen, secret: string, options: RawPeerOptions = {}): Promise<Welcome> {
  const ms = options.ms ?? 3000;
  try {
    half.client.armFrameAuth(secret, half.transcript);
    half.client.send(authOf(half.proof, options.instance ?? nonce(), options.incarnation ?? Date.now()));
    const welcome = await half.client.next(ms, `${half.transcript.acceptor}'s welcome`);
    if (!isWelcome(welcome)) throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
    if (!verifyProof(stretchSecret(secret), 'acceptor', half.transcript, welcome.proof)) {
      throw new Error(`${half.transcript.acceptor}'s proof in its welcome does not check out`);
    }
    return welcome;
  } catch (error) {
    half.client.destroy();
    throw error;
  }
}

/** A full handshake as `name`: resolves the client once welcomed (answering pings unless `autoPong` is false). */
export async function rawJoin(address: string, name: string, acceptor: string, secret: string, options: RawPeerOptions = {}): Promise<RawClient> {
  const half = await rawHello(address, name, acceptor, secret, options);
  await rawAuth(half, secret, options);
  return half.client;
}
